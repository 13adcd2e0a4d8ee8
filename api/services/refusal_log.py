"""Access-log entries of refusals, written off the request path.

A refused request naming a real record (an anonymous read of an internal record, another
office's receipt) is an entry in that record's office's hash-chained log, while the same
request naming an id no record has writes nothing. Written in the request, the entry made
the real record's answer measurably slower than the missing one's: an existence oracle by
timing. So such entries are handed to one writer thread per app and the request returns
having written nothing either way; the writer appends them in batches, in order, each
office's in one transaction. Readers of the log (`GET /access-log`) flush it first, and the
app flushes it on shutdown; entries still queued when the process is killed are lost (they
record refusals, never anything the service acknowledged).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import defaultdict
from typing import TYPE_CHECKING

from notary.publishing import accesslog

if TYPE_CHECKING:
    from api.core.db import Database

log = logging.getLogger(__name__)

SESSION_INFO = "notary_refusal_log"
"""`Session.info` key of the app's `RefusalLog` (set by the app factory)."""
THREAD_NAME = "access-log-refusals"
MAX_BATCH = 500
ATTEMPTS = 3


class RefusalLog:
    """A queue of access-log entries and the thread that appends them."""

    def __init__(self, database: Database) -> None:
        self._db = database
        self._queue: queue.Queue[tuple[int, accesslog.Access] | None] = queue.Queue()
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._pending = 0
        self._thread: threading.Thread | None = None

    def submit(self, office_pk: int, access: accesslog.Access) -> None:
        """Queue one entry for `office_pk`'s log; returns at once."""
        with self._lock:
            self._pending += 1
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=THREAD_NAME, daemon=True)
                self._thread.start()
        self._queue.put((office_pk, access))

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every entry submitted so far is written; False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    def close(self) -> None:
        """Write what is queued and stop the thread."""
        with self._lock:
            thread = self._thread
            self._thread = None
        if thread is not None:
            self._queue.put(None)
            thread.join(timeout=30)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            batch = [first]
            while len(batch) < MAX_BATCH and batch[-1] is not None:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            entries = [item for item in batch if item is not None]
            try:
                self._write(entries)
            finally:
                with self._idle:
                    self._pending -= len(entries)
                    self._idle.notify_all()
            if batch[-1] is None:
                return

    def _write(self, entries: list[tuple[int, accesslog.Access]]) -> None:
        by_office: dict[int, list[accesslog.Access]] = defaultdict(list)
        for office_pk, access in entries:
            by_office[office_pk].append(access)
        for attempt in range(1, ATTEMPTS + 1):
            try:
                with self._db.session() as s:
                    for office_pk, accesses in by_office.items():
                        accesslog.append_many(s, office_pk, accesses)
                    s.commit()
                return
            except Exception:  # the database away for a moment: try again, then give up
                if attempt == ATTEMPTS:
                    log.exception("lost %d refusal access-log entries", len(entries))
                    return
                time.sleep(0.2 * attempt)
