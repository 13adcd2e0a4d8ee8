"""Shared test helpers: fixtures, clients and sample files (imported as `support.…`)."""
