"""The outbox as the anchoring worker drives it: pending → sending → anchored (or failed).

Every transition locks its revisions first and checks the state it leaves, so two workers
never take the same revisions and a repeated settlement is a no-op, not a second anchor.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, selectinload

from notary.db.models import (
    AnchorTx,
    Revision,
)
from notary.db.rows import (
    address,
    aware,
    chunks,
    conflict_on_integrity,
    expire_revisions,
    lock_rows,
    lock_states,
    member,
    raw_hex,
)
from notary.db.types import (
    AnchorMode,
    AnchorState,
    TxPurpose,
    TxState,
    hex32,
    utcnow,
)
from notary.errors import Conflict, InvalidInput


@dataclass(frozen=True, slots=True)
class AnchoredRevision:
    """What the worker learnt about one revision from a receipt or an event."""

    revision_id: int
    leaf: Any
    log_index: int | None = None
    merkle_proof: Sequence[Any] | None = None


def pending_revisions(
    session: Session,
    *,
    limit: int = 500,
    states: Collection[AnchorState] = (AnchorState.PENDING,),
) -> list[Revision]:
    """Revisions waiting for the worker, oldest first (so version n before n + 1).

    On PostgreSQL the rows are locked `FOR UPDATE SKIP LOCKED` until the caller's
    transaction ends, so two workers never take the same revision; on SQLite the write
    lock of the transaction gives the same guarantee (one writer).
    """
    stmt = (
        select(Revision)
        .where(Revision.anchor_state.in_([member(AnchorState, s) for s in states]))
        .order_by(Revision.id)
        .limit(limit)
        .with_for_update(skip_locked=True, of=Revision)
        .options(selectinload(Revision.record))
    )
    return list(session.scalars(stmt))


def mark_sending(
    session: Session,
    *,
    revision_ids: Sequence[int],
    tx_hash: Any,
    raw_tx: str | bytes,
    nonce: int,
    signer: str,
    mode: AnchorMode,
    batch_root: Any = None,
) -> AnchorTx:
    """Record a signed transaction and its revisions *before* it is broadcast.

    Commit this before sending `raw_tx`: after a crash the worker then finds the hash in
    `anchor_txs`, looks it up on chain and never signs a second anchor for the revisions.
    Revisions already anchored are a `Conflict`.
    """
    if not revision_ids:
        raise InvalidInput("no revisions to send")
    if isinstance(nonce, bool) or not isinstance(nonce, int) or nonce < 0:
        raise InvalidInput(f"nonce must be a non-negative integer, got {nonce!r}")
    tx = AnchorTx(
        purpose=TxPurpose.REVISIONS,
        mode=member(AnchorMode, mode),
        signer=address(signer),
        nonce=nonce,
        tx_hash=hex32(tx_hash),
        raw_tx=raw_hex(raw_tx),
        state=TxState.SIGNED,
        batch_root=None if batch_root is None else hex32(batch_root),
        item_count=len(revision_ids),
    )
    states = lock_states(session, revision_ids)
    anchored = [rid for rid, state in states.items() if state is AnchorState.ANCHORED]
    if anchored:
        raise Conflict(f"revision(s) already anchored: {anchored[:10]}")
    with conflict_on_integrity(session, f"transaction {tx.tx_hash} is recorded already"):
        session.add(tx)
    for chunk in chunks(revision_ids):
        session.execute(
            update(Revision)
            .where(Revision.id.in_(chunk))
            .values(
                anchor_state=AnchorState.SENDING,
                anchor_mode=tx.mode,
                tx_hash=tx.tx_hash,
                batch_root=tx.batch_root,
                anchor_error=None,
            )
            .execution_options(synchronize_session="fetch")
        )
    return tx


def mark_tx_sent(session: Session, *, tx_hash: Any) -> None:
    """Note that the node accepted a recorded transaction into its pool."""
    session.execute(
        update(AnchorTx)
        .where(AnchorTx.tx_hash == hex32(tx_hash), AnchorTx.state == TxState.SIGNED)
        .values(state=TxState.SENT, sent_at=utcnow())
    )


def mark_anchored(
    session: Session,
    *,
    tx_hash: Any,
    block_number: int,
    revisions: Sequence[AnchoredRevision],
    batch_root: Any = None,
    anchored_at: datetime | None = None,
) -> None:
    """Record the anchors of `revisions` in transaction `tx_hash` (from a receipt or events).

    Idempotent for the same transaction and leaf (reconciliation may see an anchor twice);
    a revision already anchored by *another* transaction, or whose known leaf differs, is a
    `Conflict` — that would mean it is on chain twice or the database disagrees with it.
    """
    tx_hash, root = hex32(tx_hash), None if batch_root is None else hex32(batch_root)
    if isinstance(block_number, bool) or not isinstance(block_number, int) or block_number < 0:
        raise InvalidInput(f"block_number must be a non-negative integer, got {block_number!r}")
    when = aware(anchored_at) or utcnow()
    by_id = {a.revision_id: a for a in revisions}
    current = lock_rows(session, list(by_id))
    rows: list[dict[str, Any]] = []
    for rid, anchor in by_id.items():
        state, known_tx, known_leaf = current[rid]
        leaf = hex32(anchor.leaf)
        if known_leaf is not None and known_leaf != leaf:
            raise Conflict(f"revision {rid}: leaf {leaf} differs from the recorded {known_leaf}")
        if state is AnchorState.ANCHORED:
            if known_tx != tx_hash:
                raise Conflict(f"revision {rid} is anchored already in {known_tx}")
            continue
        rows.append(
            {
                "id": rid,
                "anchor_state": AnchorState.ANCHORED,
                "tx_hash": tx_hash,
                "block_number": block_number,
                "log_index": anchor.log_index,
                "leaf": leaf,
                "merkle_proof": None
                if anchor.merkle_proof is None
                else [hex32(p) for p in anchor.merkle_proof],
                "anchored_at": when,
                "anchor_error": None,
            }
            | ({} if root is None else {"batch_root": root})
        )
    if rows:
        with conflict_on_integrity(session, "a leaf is recorded for another revision already"):
            session.execute(update(Revision), rows)
    session.execute(
        update(AnchorTx)
        .where(AnchorTx.tx_hash == tx_hash)
        .values(state=TxState.CONFIRMED, block_number=block_number, confirmed_at=when)
    )
    expire_revisions(session, by_id)  # bulk UPDATE by primary key bypasses loaded objects


def mark_failed(
    session: Session, *, revision_ids: Sequence[int], error: str, tx_hash: Any = None
) -> None:
    """Record that the chain refused the revisions (a revert), with the decoded reason."""
    states = lock_states(session, revision_ids)
    anchored = [rid for rid, state in states.items() if state is AnchorState.ANCHORED]
    if anchored:
        raise Conflict(f"revision(s) already anchored cannot fail: {anchored[:10]}")
    for chunk in chunks(revision_ids):
        session.execute(
            update(Revision)
            .where(Revision.id.in_(chunk))
            .values(anchor_state=AnchorState.FAILED, anchor_error=error[:4000])
            .execution_options(synchronize_session="fetch")
        )
    if tx_hash is not None:
        session.execute(
            update(AnchorTx)
            .where(AnchorTx.tx_hash == hex32(tx_hash))
            .values(state=TxState.FAILED, error=error[:4000])
        )


def unconfirmed_txs(session: Session, *, signer: str | None = None) -> list[AnchorTx]:
    """Transactions recorded but not yet settled (`signed`/`sent`), by nonce: reconcile these."""
    stmt = select(AnchorTx).where(AnchorTx.state.in_([TxState.SIGNED, TxState.SENT]))
    if signer is not None:
        stmt = stmt.where(AnchorTx.signer == address(signer))
    return list(session.scalars(stmt.order_by(AnchorTx.signer, AnchorTx.nonce, AnchorTx.id)))
