"""The hash-chained access log: append on every read or change of a record.

The entry hash and the walk that verifies an office's chain are `notary.db.accesslog`
(`digest`, `entry_hash`, `verify`), shared with the audit. Each office has its own chain;
the worker queues and anchors its heads, every N entries or T minutes, whichever comes
first (`notary.anchoring.heads`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from sqlalchemy import bindparam, func, insert, select
from sqlalchemy.orm import Session

from notary.db.accesslog import ChainCheck, digest, entry_hash, verify
from notary.db.models import ZERO32, AccessLogEntry, Office
from notary.db.types import utcnow


class Access(NamedTuple):
    """What one log entry says: who (key id, None if anonymous) did what to which record."""

    key_id: int | None
    action: str
    record_id: str | None
    outcome: str


__all__ = [
    "Access",
    "ChainCheck",
    "append",
    "append_many",
    "entry_count",
    "entry_hash",
    "verify",
]

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
    rows = []
    for a in accesses:
        seq += 1
        h = digest(office_pk, seq, at, a.key_id, a.action, a.record_id, a.outcome, prev)
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
        prev = h
    conn.execute(_INSERT_ENTRIES, rows)


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
