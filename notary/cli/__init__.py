"""The `notary` command line: argument parsing and the operations it runs."""
