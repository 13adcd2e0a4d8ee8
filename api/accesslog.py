"""The hash-chained access log: append on every read or change of a record, verify the chain.

`entry_hash = sha256(RFC 8785 JSON of {office, seq, at, key, action, record, outcome, prev})`
so any edited, deleted or reordered row breaks every hash after it. Each office has its own
chain; the worker anchors heads through `AccessLogAnchor` rows (`queue_head_anchor`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import rfc8785
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from notary.db.models import ZERO32, AccessLogAnchor, AccessLogEntry, Office
from notary.db.types import utcnow

ANCHOR_EVERY = 10_000
"""Queue a head anchor for the worker after this many new entries (it also anchors on time)."""


def entry_hash(e: AccessLogEntry) -> str:
    """The hash an entry must carry, recomputed from its fields."""
    doc = {
        "office": e.office_pk,
        "seq": e.seq,
        "at": e.at.isoformat(timespec="microseconds"),
        "key": e.api_key_id,
        "action": e.action,
        "record": e.record_id,
        "outcome": e.outcome,
        "prev": e.prev_hash,
    }
    return hashlib.sha256(rfc8785.dumps(doc)).hexdigest()


def append(
    session: Session,
    *,
    office_pk: int,
    key_id: int | None,
    action: str,
    record_id: str | None,
    outcome: str,
) -> AccessLogEntry:
    """Append one entry to an office's chain (the office row lock serialises appenders).

    `FOR NO KEY UPDATE`, not `FOR UPDATE`: the lock must not conflict with the `FOR KEY
    SHARE` lock that PostgreSQL's foreign-key check takes on the office row when the same
    transaction inserted a record; with `FOR UPDATE`, two concurrent publishes of one office
    deadlocked (each holding a key-share lock the other's upgrade waits for).
    """
    session.execute(select(Office.id).where(Office.id == office_pk).with_for_update(key_share=True))
    last = session.execute(
        select(AccessLogEntry.seq, AccessLogEntry.entry_hash)
        .where(AccessLogEntry.office_pk == office_pk)
        .order_by(AccessLogEntry.seq.desc())
        .limit(1)
    ).first()
    seq, prev = (last[0] + 1, last[1]) if last else (1, ZERO32)
    entry = AccessLogEntry(
        office_pk=office_pk,
        seq=seq,
        at=utcnow(),
        api_key_id=key_id,
        action=action,
        record_id=record_id,
        outcome=outcome,
        prev_hash=prev,
    )
    entry.entry_hash = entry_hash(entry)
    session.add(entry)
    if seq % ANCHOR_EVERY == 0:
        session.add(AccessLogAnchor(office_pk=office_pk, up_to_seq=seq, head=entry.entry_hash))
    return entry


@dataclass(frozen=True, slots=True)
class ChainCheck:
    """Outcome of recomputing one office's chain."""

    ok: bool
    entries: int
    head: str | None
    first_bad_seq: int | None = None
    reason: str | None = None
    anchored_heads_checked: int = 0


def verify(session: Session, office_pk: int) -> ChainCheck:
    """Recompute every hash and link of an office's chain and compare the anchored heads."""
    prev, expected_seq, count, head = ZERO32, 1, 0, None
    by_seq: dict[int, str] = {}
    rows = session.scalars(
        select(AccessLogEntry)
        .where(AccessLogEntry.office_pk == office_pk)
        .order_by(AccessLogEntry.seq)
        .execution_options(yield_per=1000)
    )
    for e in rows:
        if e.seq != expected_seq:
            return ChainCheck(False, count, head, expected_seq, f"entry {expected_seq} missing")
        if e.prev_hash != prev:
            return ChainCheck(False, count, head, e.seq, "link to the previous entry broken")
        if entry_hash(e) != e.entry_hash:
            return ChainCheck(False, count, head, e.seq, "entry content does not match its hash")
        prev = head = e.entry_hash
        by_seq[e.seq] = e.entry_hash
        expected_seq += 1
        count += 1
    anchors = session.scalars(
        select(AccessLogAnchor).where(AccessLogAnchor.office_pk == office_pk)
    ).all()
    for a in anchors:
        if by_seq.get(a.up_to_seq) != a.head:
            return ChainCheck(
                False, count, head, a.up_to_seq, "anchored head differs from the log", len(anchors)
            )
    return ChainCheck(True, count, head, anchored_heads_checked=len(anchors))


def entry_count(session: Session, office_pk: int) -> int:
    """Number of entries in an office's chain."""
    return (
        session.scalar(
            select(func.count())
            .select_from(AccessLogEntry)
            .where(AccessLogEntry.office_pk == office_pk)
        )
        or 0
    )
