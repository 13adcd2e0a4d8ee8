"""Disclosure notary: core library (hashing, formats, chain client, anchoring, storage)."""

import sys as _sys

# py_ecc (under eth-account) raises the recursion limit to 100,000 when it is imported. Deeply
# nested JSON from a client or an RPC node then overflows the C stack and kills the process
# (a segfault) before Python can raise RecursionError. Import it first, then put the limit back.
_limit = _sys.getrecursionlimit()
try:
    import py_ecc  # noqa: F401
except ImportError:  # pragma: no cover - always installed with eth-account
    pass
_sys.setrecursionlimit(_limit)

__version__ = "0.1.0"
