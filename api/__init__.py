"""HTTP API of the disclosure notary (FastAPI over the `notary` data layer)."""
