"""Turning rows into `…Public` schemas (the only way rows leave the API)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from api.core.deps import Caller
from api.schemas import HistoryEvent, RecordHistory, RecordPublic, RevisionPublic
from api.services.tier_view import RecordFacts, RecordView, record_view
from notary.db.models import Blob, Record, Replacement, Revision
from notary.db.types import AccessTier, RecordKind, RecordStatus, utcnow
from notary.publishing.blobs import SALTED_PARAM
from notary.publishing.metadata import DOCUMENT_NUMBER


def document_type(media_type: str | None) -> str | None:
    """The media type clients see (a certificate blob's salt marker removed)."""
    return None if media_type is None else media_type.removesuffix(SALTED_PARAM)


def document_size(size: int, media_type: str | None) -> int:
    """The document's size (a certificate blob's 32-byte salt prefix not counted)."""
    return size - 32 if (media_type or "").endswith(SALTED_PARAM) else size


def _media_type(blob: Blob | None) -> str | None:
    return None if blob is None else document_type(blob.media_type)


def _size(blob: Blob | None) -> int | None:
    return None if blob is None else document_size(blob.size, blob.media_type)


def metadata_of(rev: Revision) -> dict[str, Any] | None:
    """The revision's metadata document as stored (the exact JSON its `metadata_hash`
    covers); None if the stored text is not a JSON object (it always is when written by
    `notary.publishing`)."""
    try:
        doc = json.loads(rev.metadata_json or "null")
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None


def _extra(rev: Revision, key: str) -> str | None:
    value = ((metadata_of(rev) or {}).get("extra") or {}).get(key)
    return value if isinstance(value, str) else None


def valid_from_of(rev: Revision) -> dt.datetime | None:
    """A certificate's start of validity, from its metadata (`extra.valid_from`)."""
    text = _extra(rev, "valid_from")
    try:
        return dt.datetime.fromisoformat(text) if text else None
    except ValueError:
        return None


def revision_public(rev: Revision, *, kind: RecordKind, blob: Blob | None = None) -> RevisionPublic:
    """A revision as clients see it, with its metadata document (the record's public
    record: office, reviewer, publication date, category, document number …)."""
    return RevisionPublic(
        id=str(rev.id),
        record_id=rev.record_id,
        version=rev.version,
        kind=kind.value,
        content_hash=rev.content_hash,
        metadata_hash=rev.metadata_hash,
        leaf=rev.leaf,
        size=_size(blob),
        content_type=_media_type(blob),
        change_note=rev.change_note,
        anchor_state=rev.anchor_state.value,
        tx_hash=rev.tx_hash,
        block_number=rev.block_number,
        created_at=rev.accepted_at,
        anchored_at=rev.anchored_at,
        metadata=metadata_of(rev),
    )


NOT_YET_VALID = "not_yet_valid"
"""The status of a current certificate before its `valid_from` (read time, not stored)."""


def status_of(record: Record, head: Revision | None = None) -> str:
    """Record status with certificate expiry (and, given its head revision, the start of
    validity) applied at read time."""
    if record.status is RecordStatus.CURRENT:
        now = utcnow()
        if record.valid_until is not None and record.valid_until <= now:
            return RecordStatus.EXPIRED.value
        start = valid_from_of(head) if head is not None else None
        if start is not None and start > now:
            return NOT_YET_VALID
    return record.status.value


def head_revision(session: Session, record: Record) -> Revision:
    """The record's latest revision."""
    rev = session.scalars(
        select(Revision).where(
            Revision.record_id == record.record_id, Revision.version == record.head_version
        )
    ).one()
    return rev


def _heads(session: Session, records: Sequence[Record]) -> dict[str, tuple[Revision, Blob | None]]:
    """Each record's current revision with its blob, in one query."""
    rows = session.execute(
        select(Revision, Blob)
        .join(
            Record,
            and_(Record.record_id == Revision.record_id, Record.head_version == Revision.version),
        )
        .outerjoin(Blob, Blob.sha256 == Revision.content_hash)
        .where(Record.record_id.in_([r.record_id for r in records]))
    ).all()
    return {rev.record_id: (rev, blob) for rev, blob in rows}


def _tiers(session: Session, record_ids: set[str]) -> dict[str, AccessTier]:
    """The access tiers of these records, in one query (unknown ids are left out)."""
    if not record_ids:
        return {}
    rows = session.execute(
        select(Record.record_id, Record.access_tier).where(Record.record_id.in_(record_ids))
    ).all()
    return {rid: tier for rid, tier in rows}


def view_of(
    record: Record,
    caller: Caller | None,
    tiers: dict[str, AccessTier],
    replaced_by: str | None = None,
    *,
    supersede_reason: str | None = None,
) -> RecordView:
    """What `caller` may learn of a loaded record (`tiers`: its replacement's tier, if any;
    `replaced_by`: the replacement named by a supersession row, else the record's own;
    `supersede_reason`: that row's reason)."""
    reason = record.revocation.reason if record.revocation is not None else None
    replaced_by = replaced_by or record.replaced_by
    facts = RecordFacts(
        tier=record.access_tier,
        office_pk=record.office_pk,
        title=record.title,
        revocation_reason=reason,
        replaced_by=replaced_by,
        replacement_tier=tiers.get(replaced_by or ""),
        supersede_reason=supersede_reason,
    )
    return record_view(facts, caller)


def record_public(
    session: Session,
    record: Record,
    head: Revision | None = None,
    *,
    caller: Caller | None = None,
) -> RecordPublic:
    """A record with its current revision (`head`, if the caller has it already), as
    `caller` may see it (None: anonymous)."""
    if head is None:
        head, blob = _heads(session, [record])[record.record_id]
    else:
        blob = session.get(Blob, head.content_hash)
    view = view_of(record, caller, _tiers(session, {record.replaced_by} - {None}))
    return _record_public(record, head, blob, view)


def records_public(
    session: Session, records: Sequence[Record], *, caller: Caller | None = None
) -> list[RecordPublic]:
    """Several records with their current revisions, in one query for all the revisions
    (and one for the replacements' tiers)."""
    heads = _heads(session, records) if records else {}
    tiers = _tiers(session, {r.replaced_by for r in records if r.replaced_by})
    return [_record_public(r, *heads[r.record_id], view_of(r, caller, tiers)) for r in records]


def _record_public(
    record: Record, head: Revision, blob: Blob | None, view: RecordView
) -> RecordPublic:
    return RecordPublic(
        id=record.record_id,
        office_id=record.office.office_id,
        kind=record.kind.value,
        tier=record.access_tier.value,
        status=status_of(record, head),
        title=record.title,
        category=record.category or "",
        published_on=record.published_on,
        current_version=record.head_version,
        current=revision_public(head, kind=record.kind, blob=blob),
        superseded_by=view.replaced_by,
        revocation_reason=view.revocation_reason,
        valid_until=record.valid_until,
        valid_from=valid_from_of(head),
        document_number=_extra(head, DOCUMENT_NUMBER),
        created_at=record.created_at,
    )


def history(session: Session, record: Record, *, caller: Caller | None = None) -> RecordHistory:
    """Every revision with its anchor state, then the revocation or replacement, as `caller`
    may see them (None: anonymous; a replacement it may not know of has no id)."""
    events: list[HistoryEvent] = []
    revs = session.execute(
        select(Revision, Blob)
        .outerjoin(Blob, Blob.sha256 == Revision.content_hash)
        .where(Revision.record_id == record.record_id)
        .order_by(Revision.version)
    ).all()
    for rev, blob in revs:
        events.append(
            HistoryEvent(
                event="revision",
                at=rev.accepted_at,
                version=rev.version,
                revision=revision_public(rev, kind=record.kind, blob=blob),
                anchor_state=rev.anchor_state.value,
            )
        )
    rep = session.scalars(
        select(Replacement).where(Replacement.record_id == record.record_id)
    ).first()
    by = rep.by_record_id if rep is not None else None
    tiers = _tiers(session, {record.replaced_by, by} - {None})
    view = view_of(record, caller, tiers)
    can_read_reason = not view.reason_withheld
    if record.revocation is not None:
        r = record.revocation
        events.append(
            HistoryEvent(
                event="revocation",
                at=r.revoked_at,
                reason=r.reason if can_read_reason else None,
                reason_hash=r.reason_hash,
                anchor_state=r.anchor_state.value,
            )
        )
    if rep is not None:
        by_view = view_of(record, caller, tiers, replaced_by=by, supersede_reason=rep.reason)
        events.append(
            HistoryEvent(
                event="supersession",
                at=rep.replaced_at,
                superseded_by=by_view.replaced_by,
                reason=by_view.supersede_reason or None,
                reason_hash=rep.reason_hash,
                anchor_state=rep.anchor_state.value,
            )
        )
    if revs:
        return RecordHistory(record=_record_public(record, *revs[-1], view), events=events)
    return RecordHistory(record=record_public(session, record, caller=caller), events=events)
