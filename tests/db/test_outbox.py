"""The outbox as the worker sees it: pending, sending, anchored; batches, failures, two workers."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from support.db_rows import h, make_office, publish, revise

from notary.db import outbox, repo
from notary.db.models import (
    AnchorTx,
    Office,
    Revision,
)
from notary.db.session import (
    DatabaseUnavailable,
    make_engine,
    session_factory,
    unit_of_work,
)
from notary.db.types import (
    AnchorMode,
    AnchorState,
    RecordKind,
    TxState,
)
from notary.errors import Conflict, NotFound


def _queue(session: Session, office: Office, n: int) -> list[Revision]:
    revisions = [publish(session, office, f"doc-{i}") for i in range(n)]
    session.flush()
    return revisions


def test_worker_cycle_pending_sending_anchored(db_session: Session, office: Office) -> None:
    queued = _queue(db_session, office, 3)
    db_session.commit()
    pending = outbox.pending_revisions(db_session, limit=10)
    assert [r.id for r in pending] == [r.id for r in queued]  # oldest first
    assert pending[0].record.kind is RecordKind.DISCLOSURE  # loaded for the worker
    ids = [r.id for r in pending]
    tx = outbox.mark_sending(
        db_session,
        revision_ids=ids,
        tx_hash=b"\x01" * 32,
        raw_tx="0x" + "ab" * 120,
        nonce=7,
        signer="0x" + "Ab" * 20,
        mode=AnchorMode.MANY,
    )
    db_session.commit()
    assert tx.state is TxState.SIGNED and tx.raw_tx == "ab" * 120 and tx.signer == "0x" + "ab" * 20
    assert outbox.pending_revisions(db_session) == []
    assert [t.tx_hash for t in outbox.unconfirmed_txs(db_session)] == ["01" * 32]
    outbox.mark_tx_sent(db_session, tx_hash="01" * 32)
    outbox.mark_anchored(
        db_session,
        tx_hash="01" * 32,
        block_number=42,
        revisions=[
            outbox.AnchoredRevision(revision_id=rid, leaf=h(f"leaf-{rid}"), log_index=i)
            for i, rid in enumerate(ids)
        ],
    )
    db_session.commit()
    db_session.expunge_all()
    rows = db_session.scalars(select(Revision).order_by(Revision.id)).all()
    assert {r.anchor_state for r in rows} == {AnchorState.ANCHORED}
    assert [r.log_index for r in rows] == [0, 1, 2] and rows[0].block_number == 42
    assert rows[0].anchor_mode is AnchorMode.MANY and rows[0].anchored_at is not None
    assert db_session.scalars(select(AnchorTx)).one().state is TxState.CONFIRMED
    assert outbox.unconfirmed_txs(db_session) == []


def test_batch_anchor_records_root_and_proof(db_session: Session, office: Office) -> None:
    (rev,) = _queue(db_session, office, 1)
    db_session.commit()
    root = h("root")
    outbox.mark_sending(
        db_session,
        revision_ids=[rev.id],
        tx_hash=h("tx"),
        raw_tx=b"\x02\xf8",
        nonce=0,
        signer="0x" + "11" * 20,
        mode=AnchorMode.BATCH,
        batch_root=root,
    )
    proof = ["0x" + h("sibling-1"), bytes.fromhex(h("sibling-2"))]
    outbox.mark_anchored(
        db_session,
        tx_hash=h("tx"),
        block_number=9,
        batch_root=root,
        revisions=[outbox.AnchoredRevision(revision_id=rev.id, leaf=h("leaf"), merkle_proof=proof)],
    )
    rev_id = rev.id
    db_session.commit()
    db_session.expunge_all()
    got = db_session.get(Revision, rev_id)
    assert got is not None
    assert got.batch_root == root and got.merkle_proof == [h("sibling-1"), h("sibling-2")]


def test_anchoring_twice_is_idempotent_but_another_tx_is_a_conflict(
    db_session: Session, office: Office
) -> None:
    (rev,) = _queue(db_session, office, 1)
    db_session.commit()
    anchored = [outbox.AnchoredRevision(revision_id=rev.id, leaf=h("leaf"), log_index=0)]
    outbox.mark_anchored(db_session, tx_hash=h("tx1"), block_number=5, revisions=anchored)
    outbox.mark_anchored(db_session, tx_hash=h("tx1"), block_number=5, revisions=anchored)
    db_session.commit()
    with pytest.raises(Conflict, match="anchored already"):
        outbox.mark_anchored(db_session, tx_hash=h("tx2"), block_number=6, revisions=anchored)
    with pytest.raises(Conflict, match="leaf"):
        outbox.mark_anchored(
            db_session,
            tx_hash=h("tx1"),
            block_number=5,
            revisions=[outbox.AnchoredRevision(revision_id=rev.id, leaf=h("other"))],
        )
    with pytest.raises(Conflict, match="already anchored"):
        outbox.mark_sending(
            db_session,
            revision_ids=[rev.id],
            tx_hash=h("tx3"),
            raw_tx="00",
            nonce=1,
            signer="0x" + "11" * 20,
            mode=AnchorMode.DIRECT,
        )
    with pytest.raises(NotFound):
        outbox.mark_anchored(
            db_session,
            tx_hash=h("tx1"),
            block_number=5,
            revisions=[outbox.AnchoredRevision(revision_id=10**9, leaf=h("x"))],
        )


def test_failed_revisions_keep_the_reason_and_can_be_picked_again(
    db_session: Session, office: Office
) -> None:
    (rev,) = _queue(db_session, office, 1)
    db_session.commit()
    outbox.mark_sending(
        db_session,
        revision_ids=[rev.id],
        tx_hash=h("tx"),
        raw_tx="00",
        nonce=0,
        signer="0x" + "11" * 20,
        mode=AnchorMode.DIRECT,
    )
    outbox.mark_failed(
        db_session, revision_ids=[rev.id], error="VersionOutOfOrder", tx_hash=h("tx")
    )
    db_session.commit()
    assert outbox.pending_revisions(db_session) == []
    (failed,) = outbox.pending_revisions(db_session, states=[AnchorState.FAILED])
    assert failed.anchor_error == "VersionOutOfOrder"
    assert db_session.scalars(select(AnchorTx)).one().state is TxState.FAILED


def test_two_workers_never_take_the_same_revisions(
    db_url: str, db_session_factory: sessionmaker[Session]
) -> None:
    """PostgreSQL: SKIP LOCKED hands the second worker other rows. SQLite: one writer, so
    the second worker cannot even start while the first holds its transaction."""
    with unit_of_work(db_session_factory) as s:
        office = make_office(s)
        _queue(s, office, 4)
    impatient = make_engine(db_url, busy_timeout_ms=200)
    try:
        with unit_of_work(db_session_factory) as first:
            taken = {r.id for r in outbox.pending_revisions(first, limit=2)}
            assert len(taken) == 2
            if db_url.startswith("sqlite"):
                with (
                    pytest.raises(DatabaseUnavailable),
                    unit_of_work(session_factory(impatient)) as second,
                ):
                    outbox.pending_revisions(second)
            else:
                with unit_of_work(session_factory(impatient)) as second:
                    other = {r.id for r in outbox.pending_revisions(second, limit=10)}
                    assert len(other) == 2 and not other & taken
    finally:
        impatient.dispose()


def test_readers_are_not_blocked_by_the_writer(
    db_url: str, db_session_factory: sessionmaker[Session]
) -> None:
    with unit_of_work(db_session_factory) as s:
        rid = publish(s, make_office(s), "doc").record_id
    impatient = make_engine(db_url, busy_timeout_ms=200)
    try:
        with unit_of_work(db_session_factory) as writer:
            revise(writer, rid, 2, "v2")
            writer.flush()
            reader_factory = session_factory(impatient, read_only=True)
            with unit_of_work(reader_factory) as reader:
                assert repo.get_record(reader, record_id=rid).head_version == 1
    finally:
        impatient.dispose()


# -- search ------------------------------------------------------------------------------
