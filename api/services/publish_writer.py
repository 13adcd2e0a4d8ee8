"""Group commit for publishes: one thread writes every queued publish in one transaction.

With a transaction per request, concurrent publishes spend their time queueing, not
working: SQLite has one writer at a time, and on PostgreSQL each office's access-log chain
takes the office row lock (`accesslog.append_many`), so an office's publishes commit one
after another whatever the pool size, each paying a commit (and on SQLite, a lock holder
preempted by the GIL stalls every other writer). Each publish request instead prepares its
draft (metadata checked, file guarded and hashed) and queues it here; the writer takes
everything queued, up to `max_batch`, stores the files with two file-system flushes
(`BlobStore.put_many`), runs `publishing.publish_batch` and commits once, then answers
every request. If a batch fails as a whole it is rolled back and its
jobs are retried one per transaction: a bad job costs the others a retry, never their
answer. An answer is sent only after its commit.

Two threads, a pipeline: one stores a batch's files while the other inserts and commits
the batch before it. Storing files (creating them, waiting for fsyncs) happens mostly in
the kernel, outside the GIL, and the database work mostly in Python, so they overlap; a
batch's files are on disk before its own transaction starts, as before. The hand-over
holds one batch, so a slow database makes the next batches larger rather than the file
thread run ahead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
from collections.abc import Iterable
from typing import Any

from sqlalchemy.exc import IntegrityError

from api.core.db import Database
from api.services.idempotency import Answer
from api.services.publishing import Job, publish_batch
from notary.errors import Unavailable
from notary.storage.blobstore import BlobStore

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
        # Batches whose files are stored (True) or failed to be (the error), for the database.
        self._stored: queue.Queue[tuple[list[_Item], bool | Exception] | None] = queue.Queue(1)
        self._threads: list[threading.Thread] = []
        self._closed = False
        self._lock = threading.Lock()
        self.commits = 0
        """Transactions committed (a batch, or one job of a failed batch)."""
        self.published = 0
        """Jobs answered from a committed transaction (new records and replays)."""

    async def submit(self, job: Job) -> Answer:
        """Queue a job and wait for its answer (its refusal is raised)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Answer] = loop.create_future()
        with self._lock:  # a job is queued before `close`'s stop mark, or refused
            if self._closed:
                raise Unavailable("the service is shutting down")
            if not self._threads:
                self._threads = [
                    threading.Thread(target=target, name=name, daemon=True)
                    for target, name in (
                        (self._store_files, "publish-files"),
                        (self._commit_rows, "publish-writer"),
                    )
                ]
                for thread in self._threads:
                    thread.start()
            self._queue.put((job, loop, future))
        # Shielded: a client that disconnects does not cancel a write already queued.
        return await asyncio.shield(future)

    def close(self) -> None:
        """Finish the jobs already queued, then stop the threads."""
        with self._lock:
            self._closed = True
            threads, self._threads = self._threads, []
            if threads:
                self._queue.put(None)
        for thread in threads:
            thread.join()

    def _store_files(self) -> None:
        """First stage: take what is queued, store its files, pass the batch on."""
        stop = False
        while not stop and (item := self._queue.get()) is not None:
            batch = [item]
            while len(batch) < self._max_batch:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                    break
                batch.append(more)
            try:
                # Files first (those no request wrote), on disk before any row names them.
                self._blobs.put_many(_files_to_store(job for job, _, _ in batch))
                stored: bool | Exception = True
            except Exception as exc:  # the second stage retries the jobs one by one
                stored = exc
            self._stored.put((batch, stored))
        self._stored.put(None)

    def _commit_rows(self) -> None:
        """Second stage: insert and commit each batch, then answer its requests."""
        while (item := self._stored.get()) is not None:
            batch, stored = item
            jobs = [job for job, _, _ in batch]
            results = self._commit(jobs) if stored is True else stored
            if isinstance(results, Exception):
                if len(batch) > 1:
                    log.warning("batch of %d failed (%s); one by one", len(batch), results)
                results = [self._alone(job) for job in jobs]
            for (_, loop, future), result in zip(batch, results, strict=True):
                # RuntimeError: that request's event loop has closed, nobody to answer.
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(_settle, future, result)

    def _alone(self, job: Job) -> Answer | Exception:
        try:
            self._blobs.put_many(_files_to_store([job]))
        except Exception as exc:
            return exc
        result = self._commit([job])
        if isinstance(result, IntegrityError) and job.idempotency_key:
            # Most likely the same key committed meanwhile by another process: this retry
            # finds it and replays its answer.
            result = self._commit([job])
        return result if isinstance(result, Exception) else result[0]

    def _commit(self, jobs: list[Job]) -> list[Answer | Exception] | Exception:
        try:
            with self._db.session() as session:
                results = publish_batch(session, jobs)
                session.commit()
        except Exception as exc:  # the caller retries, or hands it to the request
            return exc
        self.commits += 1
        self.published += sum(isinstance(r, Answer) for r in results)
        return results


def _files_to_store(jobs: Iterable[Job]) -> list[bytes]:
    """The jobs' files that their requests left to the writer (small ones)."""
    return [job.draft.content.guarded.data for job in jobs if not job.draft.content.on_disk]


def _settle(future: asyncio.Future[Any], result: Answer | Exception) -> None:
    if future.done():  # cancelled with its loop's tasks at shutdown
        return
    if isinstance(result, Exception):
        future.set_exception(result)
    else:
        future.set_result(result)
