"""Disclosure notary: the core library, one package per layer (docs/design.md, "Layers").

`formats` (pure) · `chain` · `pdf` · `storage` · `db` · `pii` · `audit` · `anchoring` ·
`local` · `cli`; `errors` is the exception root every layer shares.
"""

import contextlib as _contextlib
import sys as _sys

# py_ecc (under eth-account) raises the recursion limit to 100,000 when it is imported. Deeply
# nested JSON from a client or an RPC node then overflows the C stack and kills the process
# (a segfault) before Python can raise RecursionError. Import it now (or find it imported)
# and bring the limit back to CPython's default, whichever was imported first.
with _contextlib.suppress(ImportError):  # a transitive dependency: gone, nothing to undo
    import py_ecc  # noqa: F401
_sys.setrecursionlimit(min(_sys.getrecursionlimit(), 1000))

__version__ = "0.1.0"
