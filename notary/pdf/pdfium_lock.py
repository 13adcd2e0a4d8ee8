"""One process-wide lock for PDFium.

PDFium is not thread-safe, not even across different documents: two threads inside PDFium at
once can corrupt the process (pypdfium2's documentation says so). Every module that calls
pypdfium2 from code that may run in a thread pool (the API's sync endpoints do) holds this
lock for the whole of its PDFium work, and closes what it opened before releasing it, so no
finaliser runs PDFium code later outside the lock.
"""

from __future__ import annotations

import threading

PDFIUM_LOCK = threading.RLock()
"""Hold while calling pypdfium2 (re-entrant, so helpers may take it again)."""
