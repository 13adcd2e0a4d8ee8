"""The hash-chained access log: append on every read or change of a record, verify the chain.

`entry_hash = sha256(RFC 8785 JSON of {office, seq, at, key, action, record, outcome, prev})`
so any edited, deleted or reordered row breaks every hash after it. Each office has its own
chain; the worker anchors heads through `AccessLogAnchor` rows (`queue_head_anchor`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

import rfc8785
from sqlalchemy import bindparam, func, insert, select
from sqlalchemy.orm import Session

from notary.db.models import ZERO32, AccessLogAnchor, AccessLogEntry, Office
from notary.db.types import utcnow

ANCHOR_EVERY = 10_000
"""Queue a head anchor for the worker after this many new entries (it also anchors on time)."""


def _digest(
    office_pk: int,
    seq: int,
    at: datetime,
    key: int | None,
    action: str,
    record: str | None,
    outcome: str,
    prev: str,
) -> str:
    doc = {
        "office": office_pk,
        "seq": seq,
        "at": at.isoformat(timespec="microseconds"),
        "key": key,
        "action": action,
        "record": record,
        "outcome": outcome,
        "prev": prev,
    }
    return hashlib.sha256(rfc8785.dumps(doc)).hexdigest()


def entry_hash(e: AccessLogEntry) -> str:
    """The hash an entry must carry, recomputed from its fields."""
    return _digest(
        e.office_pk, e.seq, e.at, e.api_key_id, e.action, e.record_id, e.outcome, e.prev_hash
    )


class Access(NamedTuple):
    """What one log entry says: who (key id, None if anonymous) did what to which record."""

    key_id: int | None
    action: str
    record_id: str | None
    outcome: str


_LAST = (
    select(AccessLogEntry.seq, AccessLogEntry.entry_hash)
    .where(AccessLogEntry.office_pk == bindparam("office_pk"))
    .order_by(AccessLogEntry.seq.desc())
    .limit(1)
)
_LOCK_OFFICE = (
    select(Office.id).where(Office.id == bindparam("office_pk")).with_for_update(key_share=True)
)
_INSERT_ENTRIES = insert(AccessLogEntry.__table__)
_INSERT_ANCHORS = insert(AccessLogAnchor.__table__)


def append_many(session: Session, office_pk: int, accesses: Sequence[Access]) -> None:
    """Append entries to an office's chain, in order (the office row lock serialises appenders;
    on SQLite, the write transaction does).

    `FOR NO KEY UPDATE`, not `FOR UPDATE`: the lock must not conflict with the `FOR KEY
    SHARE` lock that PostgreSQL's foreign-key check takes on the office row when the same
    transaction inserted a record; with `FOR UPDATE`, two concurrent publishes of one office
    deadlocked (each holding a key-share lock the other's upgrade waits for).
    """
    if not accesses:
        return
    conn = session.connection()
    if conn.dialect.name != "sqlite":  # SQLite's BEGIN IMMEDIATE already holds its one write lock
        conn.execute(_LOCK_OFFICE, {"office_pk": office_pk})
    last = conn.execute(_LAST, {"office_pk": office_pk}).first()
    seq, prev = (last[0], last[1]) if last else (0, ZERO32)
    at = utcnow()
    rows, anchors = [], []
    for a in accesses:
        seq += 1
        h = _digest(office_pk, seq, at, a.key_id, a.action, a.record_id, a.outcome, prev)
        rows.append(
            {
                "office_pk": office_pk,
                "seq": seq,
                "at": at,
                "api_key_id": a.key_id,
                "action": a.action,
                "record_id": a.record_id,
                "outcome": a.outcome,
                "prev_hash": prev,
                "entry_hash": h,
            }
        )
        if seq % ANCHOR_EVERY == 0:
            anchors.append({"office_pk": office_pk, "up_to_seq": seq, "head": h})
        prev = h
    conn.execute(_INSERT_ENTRIES, rows)
    if anchors:
        conn.execute(_INSERT_ANCHORS, anchors)


def append(
    session: Session,
    *,
    office_pk: int,
    key_id: int | None,
    action: str,
    record_id: str | None,
    outcome: str,
) -> None:
    """Append one entry to an office's chain."""
    append_many(session, office_pk, [Access(key_id, action, record_id, outcome)])


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
    """Recompute every hash and link of an office's chain and compare the anchored heads.

    Streams the entries; only the hashes at anchored positions are kept (the chain may hold
    tens of millions of entries)."""
    anchors = session.scalars(
        select(AccessLogAnchor).where(AccessLogAnchor.office_pk == office_pk)
    ).all()
    wanted = {a.up_to_seq for a in anchors}
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
        if e.seq in wanted:
            by_seq[e.seq] = e.entry_hash
        expected_seq += 1
        count += 1
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
