"""The access log of the caller's office (auditors): entries and a chain check."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import select

from api.core.deps import AuditorDep, SessionDep
from api.routers._access import flush_refusals
from api.schemas import AccessLogEntryPublic, AccessLogPage, AccessLogVerdict
from notary.db.models import AccessLogEntry
from notary.publishing import accesslog

router = APIRouter(prefix="/access-log", tags=["access-log"])


@router.get("", response_model=AccessLogPage)
def list_entries(
    session: SessionDep,
    caller: AuditorDep,
    after: Annotated[int, Query(ge=0, le=2**62)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> AccessLogPage:
    """Entries after sequence number `after`, oldest first (refusals queued so far
    included)."""
    flush_refusals(session)
    rows = session.scalars(
        select(AccessLogEntry)
        .where(AccessLogEntry.office_pk == caller.office_pk, AccessLogEntry.seq > after)
        .order_by(AccessLogEntry.seq)
        .limit(limit)
    ).all()
    head = session.scalar(
        select(AccessLogEntry.entry_hash)
        .where(AccessLogEntry.office_pk == caller.office_pk)
        .order_by(AccessLogEntry.seq.desc())
        .limit(1)
    )
    items = [
        AccessLogEntryPublic(
            seq=e.seq,
            at=e.at,
            key_id=str(e.api_key_id) if e.api_key_id else None,
            action=e.action,
            record_id=e.record_id,
            outcome=e.outcome,
            prev_hash=e.prev_hash,
            entry_hash=e.entry_hash,
        )
        for e in rows
    ]
    return AccessLogPage(items=items, head=head)


@router.get("/verify", response_model=AccessLogVerdict)
def verify(session: SessionDep, caller: AuditorDep) -> AccessLogVerdict:
    """Recompute the office's whole chain and compare it with the anchored heads."""
    assert caller.office_pk is not None
    flush_refusals(session)
    check = accesslog.verify(session, caller.office_pk)
    return AccessLogVerdict(
        ok=check.ok,
        entries=check.entries,
        head=check.head,
        first_bad_seq=check.first_bad_seq,
        reason=check.reason,
        anchored_heads_checked=check.anchored_heads_checked,
    )
