"""Disclosure notary: core library (hashing, formats, chain client, anchoring, storage)."""

__version__ = "0.1.0"
