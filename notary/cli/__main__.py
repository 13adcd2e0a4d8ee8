"""`python -m notary.cli.main …` runs the `notary` command line."""

from notary.cli.main import main

raise SystemExit(main())
