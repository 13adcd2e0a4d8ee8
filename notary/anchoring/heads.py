"""Queue access-log heads for the worker to anchor: every N entries or every T seconds.

An office's access log is a hash chain (`notary.db.accesslog`); anchoring its head on
chain fixes every entry up to it. A head is queued (an `access_log_anchors` row, sent by
the worker like any other purpose) when the entries since the last queued head reach
`every_entries`, or when the oldest of them is older than `every_s`, whichever comes
first: a busy office anchors by count, a quiet one by time, and the unanchored tail that
could be cut undetected is never older than `every_s` (plus a worker round).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from notary.db.models import AccessLogAnchor, AccessLogEntry
from notary.db.types import utcnow


def queue_due_heads(
    session: Session,
    office_pks: Sequence[int],
    *,
    every_entries: int,
    every_s: float,
    now: datetime | None = None,
) -> int:
    """Queue the head of each of these offices' logs that is due; returns how many."""
    now = now or utcnow()
    queued = 0
    for office_pk in office_pks:
        last_queued = (
            session.scalar(
                select(func.max(AccessLogAnchor.up_to_seq)).where(
                    AccessLogAnchor.office_pk == office_pk
                )
            )
            or 0
        )
        last = session.execute(
            select(AccessLogEntry.seq, AccessLogEntry.entry_hash)
            .where(AccessLogEntry.office_pk == office_pk)
            .order_by(AccessLogEntry.seq.desc())
            .limit(1)
        ).first()
        if last is None or last.seq <= last_queued:
            continue
        if last.seq - last_queued < every_entries:
            oldest = session.scalar(
                select(AccessLogEntry.at)
                .where(AccessLogEntry.office_pk == office_pk, AccessLogEntry.seq > last_queued)
                .order_by(AccessLogEntry.seq)
                .limit(1)
            )
            if oldest is None or now - oldest < timedelta(seconds=every_s):
                continue
        try:
            with session.begin_nested():  # another worker of the office may queue it too
                session.add(
                    AccessLogAnchor(office_pk=office_pk, up_to_seq=last.seq, head=last.entry_hash)
                )
                session.flush()
        except IntegrityError:
            continue
        queued += 1
    return queued
