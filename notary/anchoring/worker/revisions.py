"""Revisions: plan the pending ones into jobs, sign and record them, store their receipts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from notary.anchoring.plan import (
    Item,
    Job,
    build_items,
    plan_jobs,
    raise_alert,
    revisions_of_tx,
    select_pending,
    settle_tx,
)
from notary.anchoring.worker.base import WorkerBase, log
from notary.anchoring.worker.settings import TxRef, crash_point
from notary.chain.client import RegistryClient
from notary.chain.errors import RegistryRevert
from notary.chain.events import BatchAnchored, RevisionAnchored
from notary.chain.types import SignedTx, TxResult
from notary.db import outbox
from notary.db.models import Record, Revision
from notary.db.session import unit_of_work
from notary.db.types import AnchorMode, AnchorState, TxPurpose, TxState
from notary.errors import NotaryError


class RevisionsMixin(WorkerBase):
    """The revisions round and what settling a revisions transaction needs."""

    def _revisions_round(self, client: RegistryClient) -> int:
        s = self.settings
        prepared: list[tuple[Job, SignedTx]] = []
        settled = 0
        try:
            with unit_of_work(self.sessions) as session:
                rows = select_pending(
                    session, office_pks=list(self.office_signers), limit=s.fetch_limit
                )
                if not rows:
                    return 0
                items, problems = build_items(
                    session,
                    rows,
                    chain_id=client.chain_id,
                    registry=client.address,
                    archive_categories=s.archive_categories,
                )
                for problem in problems:
                    self._fail(session, [problem.revision_id], problem.message)
                settled += len(problems)
                jobs = plan_jobs(
                    items,
                    mode=s.mode,
                    many_size=s.many_size,
                    batch_size=s.batch_size,
                    max_jobs=s.max_jobs,
                )
                for job in jobs:
                    signed, resolved = self._prepare_job(session, client, job)
                    settled += resolved
                    if signed is not None:
                        prepared.append((job, signed))
                for job, signed in prepared:
                    root = job.tree().root if job.mode is AnchorMode.BATCH else None
                    outbox.mark_sending(
                        session,
                        revision_ids=[i.revision_id for i in job.items],
                        tx_hash=signed.tx_hash,
                        raw_tx=signed.raw,
                        nonce=signed.nonce,
                        signer=signed.sender,
                        mode=job.mode,
                        batch_root=root,
                    )
        except BaseException:
            self._reset_nonces()  # nothing recorded: the prepared nonces are free again
            raise
        if not prepared:
            return settled
        crash_point("recorded")
        for _, signed in prepared:
            client.broadcast(signed)
        crash_point("broadcast")
        with unit_of_work(self.sessions) as session:
            for _, signed in prepared:
                outbox.mark_tx_sent(session, tx_hash=signed.tx_hash)
        for job, signed in prepared:
            self._settle(self._ref(job, signed), fresh=True, items=job.items)
            settled += len(job.items)
        return settled

    def _ref(self, job: Job, signed: SignedTx) -> TxRef:
        root = job.tree().root.hex() if job.mode is AnchorMode.BATCH else None
        return TxRef.of_signed(signed, TxPurpose.REVISIONS, job.mode, root)

    def _prepare_job(
        self, session: Session, client: RegistryClient, job: Job
    ) -> tuple[SignedTx | None, int]:
        """Sign the job's transaction; a registry refusal settles the offending revisions.

        Returns the signed tx (None if nothing is left to send) and how many were settled.
        """
        signer = self.office_signers[job.office_pk]
        settled = 0
        while job.items:
            try:
                if job.mode is AnchorMode.BATCH:
                    tree = job.tree()
                    return client.prepare_anchor_batch(signer, tree.root, len(tree)), settled
                if job.mode is AnchorMode.DIRECT:
                    return client.prepare_anchor(signer, job.items[0].struct), settled
                return client.prepare_anchor_many(signer, [i.struct for i in job.items]), settled
            except RegistryRevert as exc:
                culprit = exc.values.get("recordId")
                if isinstance(culprit, bytes) and culprit in job.record_ids:
                    bad = [i for i in job.items if i.struct.record_id == culprit]
                    job.items = [i for i in job.items if i.struct.record_id != culprit]
                    # Only the first revision of the record was judged; the others retry.
                    self._resolve_refused(session, client, bad[:1], exc)
                    settled += 1
                else:
                    self._resolve_refused(session, client, job.items, exc)
                    settled += len(job.items)
                    job.items = []
        return None, settled

    def _resolve_refused(
        self, session: Session, client: RegistryClient, items: Sequence[Item], exc: RegistryRevert
    ) -> None:
        """Items the chain refused: anchored already (found by a confirmed event), seen in a
        block not yet confirmed (left pending: the next round looks again), or failed."""
        for item in items:
            event = self._find_event(client, item, confirmed=True)
            if event is not None:
                self._anchor_from_event(session, item, event)
            elif self._find_event(client, item) is None:
                self._fail(session, [item.revision_id], f"{type(exc).__name__}: {exc}")

    def _find_event(
        self, client: RegistryClient, item: Item, *, confirmed: bool = False
    ) -> RevisionAnchored | None:
        """The revision's anchor on chain with the same content, if any; `confirmed` counts
        only one with the configured confirmations on top (a newer one may be reorged away)."""
        record_id, version = item.key
        event = client.find_revision_event(record_id, version, include_unconfirmed=not confirmed)
        if event is None:
            return None
        same = (
            event.content_hash == item.struct.content_hash
            and event.metadata_hash == item.struct.metadata_hash
        )
        return event if same else None

    def _anchor_from_event(self, session: Session, item: Item, event: RevisionAnchored) -> None:
        outbox.mark_anchored(
            session,
            tx_hash=event.tx_hash,
            block_number=event.block_number,
            revisions=[outbox.AnchoredRevision(item.revision_id, item.leaf, event.log_index)],
        )

    def _fail(self, session: Session, revision_ids: Sequence[int], error: str, tx: Any = None):
        """Mark revisions failed with the reason and raise one alert each."""
        outbox.mark_failed(session, revision_ids=revision_ids, error=error, tx_hash=tx)
        rows = session.execute(
            select(Revision.id, Revision.record_id, Record.office_pk)
            .join(Record, Record.record_id == Revision.record_id)
            .where(Revision.id.in_(list(revision_ids)))
        )
        for row in rows:
            log.error("revision %s of record %s failed: %s", row.id, row.record_id, error)
            raise_alert(
                session,
                rule="anchor_failed",
                office_pk=row.office_pk,
                record_id=row.record_id,
                details={"revision_id": row.id, "error": error[:500]},
                key=f"revision:{row.id}",
            )

    def _items_of(self, session: Session, tx: TxRef) -> list[Item]:
        assert self.client is not None
        rows = [
            r
            for r in revisions_of_tx(session, tx.tx_hash)
            if r.anchor_state is not AnchorState.ANCHORED
        ]
        items, problems = build_items(
            session, rows, chain_id=self.client.chain_id, registry=self.client.address
        )
        if problems or len(items) != len(rows):
            raise NotaryError(f"cannot recompute the leaves of transaction {tx.tx_hash}")
        return items

    def _record_revisions(
        self, session: Session, tx: TxRef, result: TxResult, known: Sequence[Item] | None
    ) -> None:
        """Store a successful receipt: block, log index, leaf (and proof) per revision.

        `known` are the job's items when this process prepared it (else recomputed).
        """
        items = list(known) if known is not None else self._items_of(session, tx)
        if not items:
            settle_tx(session, tx.tx_hash, TxState.CONFIRMED, block=result.block_number)
            return
        anchored: list[outbox.AnchoredRevision] = []
        if tx.mode is AnchorMode.BATCH:
            tree = Job(AnchorMode.BATCH, 0, items).tree()
            (event,) = result.events_of(BatchAnchored)
            if event.root != tree.root:
                raise NotaryError(f"batch {tx.tx_hash}: root differs from the recorded leaves")
            for index, item in enumerate(items):
                anchored.append(
                    outbox.AnchoredRevision(
                        item.revision_id, item.leaf, event.log_index, tree.proof(index)
                    )
                )
        else:
            events = {(e.record_id, e.version): e for e in result.events_of(RevisionAnchored)}
            for item in items:
                event = events.get(item.key)
                if event is None:
                    raise NotaryError(f"{tx.tx_hash} has no event for revision {item.key}")
                anchored.append(
                    outbox.AnchoredRevision(item.revision_id, item.leaf, event.log_index)
                )
        outbox.mark_anchored(
            session,
            tx_hash=tx.tx_hash,
            block_number=result.block_number,
            revisions=anchored,
            batch_root=tx.batch_root,
        )
