"""The worker loop: purge, connect, reconcile, one round; back off on outages."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine

from notary.anchoring.heads import queue_due_heads
from notary.anchoring.worker.base import log
from notary.anchoring.worker.settings import WorkerSettings
from notary.anchoring.worker.settle import SettleMixin
from notary.audit.schedule import ScheduledAudit
from notary.chain.client import RegistryClient
from notary.db import outbox, repo
from notary.db.session import unit_of_work
from notary.db.types import utcnow
from notary.errors import Unavailable


class Worker(SettleMixin):
    """The outbox worker over one database and one registry (see the package docstring)."""

    def __init__(
        self,
        settings: WorkerSettings,
        *,
        engine: Engine | None = None,
        client: RegistryClient | None = None,
    ) -> None:
        super().__init__(settings, engine=engine, client=client)
        self._purged_at: float | None = None
        self._heads_checked: float | None = None
        self.audit = ScheduledAudit(settings.audit, self.sessions)

    def run(
        self,
        stop: threading.Event | None = None,
        *,
        exit_when_idle: bool = False,
    ) -> None:
        """Reconcile and anchor until `stop` is set (or, with `exit_when_idle`, nothing is left).

        Chain or database outages back off (up to `max_backoff` s) and resume by themselves.
        """
        stop = stop if stop is not None else threading.Event()
        backoff = 0.0
        while not stop.is_set():
            try:
                self.purge_if_due()  # first: it needs only the database, not the chain
                self.connect()
                self.reconcile()
                done = self.run_once()
                self.audit.maybe_run(self.connect(), done)
                backoff = 0.0
            except Unavailable as exc:
                backoff = min(self.settings.max_backoff, max(0.2, backoff * 2))
                log.warning("unavailable (%s); retrying in %.1f s", exc, backoff)
                self._reset_nonces()
                stop.wait(backoff)
                continue
            except Exception as exc:
                backoff = min(self.settings.max_backoff, max(0.5, backoff * 2))
                log.exception("worker round failed (%s); retrying in %.1f s", exc, backoff)
                self._reset_nonces()
                stop.wait(backoff)
                continue
            if done == 0:
                if exit_when_idle and self.idle():
                    return
                stop.wait(self.settings.idle_sleep)

    def purge_if_due(self) -> int:
        """Every `purge_every_s`, delete the Idempotency-Key answers past their TTL."""
        now = time.monotonic()
        if self._purged_at is not None and now - self._purged_at < self.settings.purge_every_s:
            return 0
        removed = self.purge_expired_idempotency_keys()
        self._purged_at = now
        return removed

    def purge_expired_idempotency_keys(self) -> int:
        """Delete every Idempotency-Key answer older than the TTL, a batch per transaction
        (API writes wait for none of them long); how many."""
        before = utcnow() - timedelta(seconds=self.settings.idempotency_ttl_s)
        removed = 0
        while True:
            with unit_of_work(self.sessions) as session:
                batch = repo.purge_idempotency_keys(session, before=before)
            removed += batch
            if batch < repo.PURGE_BATCH:
                if removed:
                    log.info("purged %d expired Idempotency-Key answers", removed)
                return removed

    def queue_heads_if_due(self) -> int:
        """Every `head_check_s`, queue the access-log heads of our offices that are due
        (every `head_every_entries` entries or `head_every_s` seconds); how many."""
        now = time.monotonic()
        if (
            self._heads_checked is not None
            and now - self._heads_checked < self.settings.head_check_s
        ):
            return 0
        self._heads_checked = now
        with unit_of_work(self.sessions) as session:
            return queue_due_heads(
                session,
                list(self.office_signers),
                every_entries=self.settings.head_every_entries,
                every_s=self.settings.head_every_s,
            )

    def idle(self) -> bool:
        """True when no recorded transaction is waiting to be settled."""
        with unit_of_work(self.sessions) as session:
            return not outbox.unconfirmed_txs(session)

    def run_once(self) -> int:
        """One round: anchor what is pending now. Returns how many rows it settled."""
        client = self.connect()
        if not self.office_signers:
            return 0
        self.queue_heads_if_due()
        done = self._revisions_round(client)
        done += self._others_round(client)
        return done


def run_worker(
    settings: WorkerSettings, stop_event: threading.Event | None = None, **kwargs: Any
) -> None:
    """Run the worker loop in this thread until `stop_event` is set."""
    worker = Worker(settings)
    try:
        worker.run(stop_event, **kwargs)
    finally:
        worker.close()


def anchor_pending(settings: WorkerSettings, *, timeout: float = 120.0) -> None:
    """Reconcile, then anchor until nothing of ours is pending (for `notary publish`)."""
    worker = Worker(settings)
    try:
        deadline = time.monotonic() + timeout
        worker.connect()
        worker.reconcile()
        while time.monotonic() < deadline:
            if worker.run_once() == 0 and worker.idle():
                return
            worker.reconcile()
        raise Unavailable(f"anchoring did not finish within {timeout:g} s; run `notary worker`")
    finally:
        worker.close()
