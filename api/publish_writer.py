"""Group commit for publishes: one thread writes every queued publish in one transaction.

With a transaction per request, concurrent publishes spend their time queueing, not
working: SQLite has one writer at a time, and on PostgreSQL each office's access-log chain
takes the office row lock (`accesslog.append_many`), so an office's publishes commit one
after another whatever the pool size, each paying a commit (and on SQLite, a lock holder
preempted by the GIL stalls every other writer). Each publish request instead prepares its
draft (metadata checked, file guarded and hashed) and queues it here; the writer takes
everything queued, up to `max_batch`, stores the files with one round of fsyncs
(`BlobStore.put_many`), runs `publishing.publish_batch` and commits once, then answers
every request. If a batch fails as a whole it is rolled back and its
jobs are retried one per transaction: a bad job costs the others a retry, never their
answer. An answer is sent only after its commit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
from typing import Any

from sqlalchemy.exc import IntegrityError

from api.db import Database
from api.idempotency import Answer
from api.services.publishing import Job, publish_batch
from notary.blobstore import BlobStore
from notary.errors import Unavailable

log = logging.getLogger(__name__)

MAX_BATCH = 64
"""Publishes per transaction at most (bounds a transaction's size and its lock time)."""

_Item = tuple[Job, asyncio.AbstractEventLoop, "asyncio.Future[Answer]"]


class PublishWriter:
    """A thread committing queued publish jobs in batches; `submit` awaits one's answer."""

    def __init__(self, database: Database, *, max_batch: int = MAX_BATCH) -> None:
        self._db = database
        self._blobs = BlobStore(database.settings.blobs)
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[_Item | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._start_lock = threading.Lock()
        self.commits = 0
        """Transactions committed (a batch, or one job of a failed batch)."""
        self.published = 0
        """Jobs answered from a committed transaction (new records and replays)."""

    async def submit(self, job: Job) -> Answer:
        """Queue a job and wait for its answer (its refusal is raised)."""
        if self._closed:
            raise Unavailable("the service is shutting down")
        self._ensure_started()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Answer] = loop.create_future()
        self._queue.put((job, loop, future))
        # Shielded: a client that disconnects does not cancel a write already queued.
        return await asyncio.shield(future)

    def close(self) -> None:
        """Finish the jobs already queued, then stop the thread."""
        self._closed = True
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None

    def _ensure_started(self) -> None:
        with self._start_lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="publish-writer", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            batch = [item]
            stop = False
            while len(batch) < self._max_batch:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                    break
                batch.append(more)
            self._write(batch)
            if stop:
                return

    def _write(self, batch: list[_Item]) -> None:
        results = self._attempt([job for job, _, _ in batch])
        if isinstance(results, Exception):
            if len(batch) > 1:
                log.warning("batch of %d publishes failed (%s); one by one", len(batch), results)
            results = [self._alone(job) for job, _, _ in batch]
        for (_, loop, future), result in zip(batch, results, strict=True):
            # RuntimeError: that request's event loop has closed, there is nobody to answer.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_settle, future, result)

    def _alone(self, job: Job) -> Answer | Exception:
        result = self._attempt([job])
        if isinstance(result, IntegrityError) and job.idempotency_key:
            # Most likely the same key committed meanwhile by another process: this retry
            # finds it and replays its answer.
            result = self._attempt([job])
        return result if isinstance(result, Exception) else result[0]

    def _attempt(self, jobs: list[Job]) -> list[Answer | Exception] | Exception:
        try:
            # Files first (those a request left to us), all on disk before any row names them.
            self._blobs.put_many([job.draft.content.guarded.data for job in jobs])
            with self._db.session() as session:
                results = publish_batch(session, jobs)
                session.commit()
        except Exception as exc:  # the caller retries, or hands it to the request
            return exc
        self.commits += 1
        self.published += sum(isinstance(r, Answer) for r in results)
        return results


def _settle(future: asyncio.Future[Any], result: Answer | Exception) -> None:
    if future.done():  # cancelled with its loop's tasks at shutdown
        return
    if isinstance(result, Exception):
        future.set_exception(result)
    else:
        future.set_result(result)
