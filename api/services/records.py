"""Publishing, revising, revoking and superseding records; finding and reading them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, func, or_, select, tuple_
from sqlalchemy.orm import Session, joinedload

from api.core.deps import Caller
from api.core.errors import Forbidden, Unauthenticated
from notary.db.models import (
    ApiKey,
    Office,
    Record,
    Replacement,
    Revision,
    Revocation,
)
from notary.db.types import AccessTier, KeyRole, OfficeStatus, RecordKind, RecordStatus, utcnow
from notary.errors import Conflict, InvalidInput, NotFound
from notary.formats.revision import parse_bytes32, reason_hash
from notary.publishing.content import NewContent
from notary.publishing.metadata import (
    CLIENT_METADATA_KEYS,
    build_metadata,
    document_number_fragment,
    parse_metadata_json,
    precheck_metadata,
    tier_of,
)
from notary.publishing.records import (
    OfficeRow,
    lock_offices,
    revisable,
    revise_record,
    revised_metadata,
)

__all__ = [
    "CLIENT_METADATA_KEYS",
    "NewContent",
    "NotFound",
    "OfficeRow",
    "build_metadata",
    "lock_offices",
    "parse_metadata_json",
    "precheck_metadata",
    "tier_of",
]

# Built once: building a statement (and its expanding IN) costs more than running it.
_LIVE_KEYS = (
    select(ApiKey.id)
    .where(ApiKey.id.in_(bindparam("ids", expanding=True)), ApiKey.revoked_at.is_(None))
    .with_for_update(read=True)
)


def live_keys(session: Session, key_ids: Iterable[int]) -> set[int]:
    """Those of `key_ids` that are not revoked, share-locked (PostgreSQL: `FOR SHARE`): a
    revocation waits for the writes they are checked for, so nothing is acknowledged for a
    key after its revocation was."""
    return set(session.connection().scalars(_LIVE_KEYS, {"ids": sorted(set(key_ids))}))


def writable_office(offices: dict[int, OfficeRow], caller: Caller) -> OfficeRow:
    """The publisher's office from `lock_offices`, which must exist and be active."""
    if caller.role is not KeyRole.PUBLISHER or caller.office_pk is None:
        raise Forbidden("this needs a publisher key")
    office = offices.get(caller.office_pk)
    if office is None:
        raise NotFound("the key's office no longer exists")
    if office.status is OfficeStatus.SUSPENDED:
        raise Forbidden("the office is suspended")
    return office


def office_for_writer(session: Session, caller: Caller) -> OfficeRow:
    """The publisher's office, locked, which must be active; the key is checked again too
    (authentication may have been a cached verdict, `api.core.key_cache`)."""
    offices = lock_offices(session, [caller.office_pk or 0])
    if caller.key_id not in live_keys(session, [caller.key_id or 0]):
        raise Unauthenticated("invalid or revoked API key")
    return writable_office(offices, caller)


def parse_record_id(text: str) -> str:
    """Normalise a record id from a path (64 hex, optional 0x); NotFound if malformed."""
    try:
        return parse_bytes32(text, "record id").hex()
    except InvalidInput:
        raise NotFound(f"no record {text[:80]!r}") from None


RECORD_VIEW_LOADS = (joinedload(Record.office), joinedload(Record.revocation))
"""Eager loads for a record that will be shown (`views.record_public`)."""

# Built once (a statement's cache key is memoised on it). The view loads the record with its
# office and revocation, saving two queries per read; the locked form cannot, because
# PostgreSQL refuses to lock the nullable side of an outer join.
_RECORD_VIEW = (
    select(Record).where(Record.record_id == bindparam("rid")).options(*RECORD_VIEW_LOADS)
)
_RECORD_LOCKED = select(Record).where(Record.record_id == bindparam("rid")).with_for_update()


def load_record(session: Session, record_id: str, *, lock: bool = False) -> Record:
    """The record, or NotFound; unless locked, with its office and revocation."""
    rid = parse_record_id(record_id)
    record = session.scalars(_RECORD_LOCKED if lock else _RECORD_VIEW, {"rid": rid}).first()
    if record is None:
        raise NotFound(f"no record {rid}")
    return record


def can_see(caller: Caller, record: Record) -> bool:
    """Whether the caller may see a record's metadata and history (internal: office only)."""
    return record.access_tier is not AccessTier.INTERNAL or caller.of_office(record.office_pk)


def visible_record(session: Session, caller: Caller, record_id: str) -> Record:
    """The record if the caller may see it; NotFound otherwise (no existence leak)."""
    record = load_record(session, record_id)
    if not can_see(caller, record):
        raise NotFound(f"no record {record.record_id}")
    return record


def revision_of(session: Session, record: Record, version: int) -> Revision:
    """One revision of a record the caller may see; NotFound for a version it does not have."""
    rev = session.scalars(
        select(Revision).where(Revision.record_id == record.record_id, Revision.version == version)
    ).first()
    if rev is None:
        raise NotFound(f"record {record.record_id} has no version {version}")
    return rev


def writable_record(session: Session, caller: Caller, record_id: str) -> Record:
    """The record locked for a change by a publisher of its own office. Another office's
    record the caller may not see answers exactly as a missing one (no existence leak)."""
    office_for_writer(session, caller)
    record = load_record(session, record_id, lock=True)
    if not can_see(caller, record):
        raise NotFound(f"no record {record.record_id}")
    if record.office_pk != caller.office_pk:
        raise Forbidden("the record belongs to another office")
    return record


def _revisable(session: Session, caller: Caller, record_id: str) -> tuple[Record, Revision]:
    """The record locked for a revision by a publisher of its office, and its current
    revision; refused unless it is a current disclosure (`notary.publishing.records`)."""
    record = writable_record(session, caller, record_id)
    return record, revisable(session, record)


def precheck_revision(
    session: Session, caller: Caller, record_id: str, client_metadata: dict[str, Any] | None
) -> None:
    """Refuse a revision that `revise` would refuse, before its new file is stored (a
    placeholder stands in for the new file's SM3)."""
    record, head = _revisable(session, caller, record_id)
    revised_metadata(record, head, client_metadata, sm3="0" * 64)


def revise(
    session: Session,
    blob_root: Path,
    caller: Caller,
    record_id: str,
    *,
    content: NewContent | None,
    client_metadata: dict[str, Any] | None,
    change_note: str,
    override_reason: str | None = None,
    text_findings: list[dict[str, Any]] | None = None,
) -> tuple[Record, Revision]:
    """The next version of a current disclosure of the caller's office: new file and/or
    metadata, with a change note, written by `notary.publishing.records.revise_record` (its
    access-log entry included)."""
    record = writable_record(session, caller, record_id)
    rev = revise_record(
        session,
        blob_root,
        caller,
        record,
        content=content,
        client_metadata=client_metadata,
        change_note=change_note,
        override_reason=override_reason,
        text_findings=text_findings,
    )
    return record, rev


def revoke(session: Session, caller: Caller, record_id: str, reason: str) -> Record:
    """Revoke a current record; the reason hash waits for the worker to anchor it."""
    record = writable_record(session, caller, record_id)
    if record.status is RecordStatus.REVOKED:
        raise Conflict("record is already revoked")
    session.add(
        Revocation(
            record_id=record.record_id,
            reason=reason,
            reason_hash=reason_hash(reason).hex(),
            revoked_by_key=caller.key_id,
            revoked_at=utcnow(),
        )
    )
    record.status = RecordStatus.REVOKED
    record.replaced_by = None
    record.updated_at = utcnow()
    session.flush()
    session.refresh(record, ["revocation"])
    return record


def supersede(
    session: Session, caller: Caller, record_id: str, by: str, reason: str = ""
) -> Record:
    """Mark a record replaced by another current record of the same office; a non-empty
    `reason` is kept and its SHA-256 anchored with the replacement."""
    record = writable_record(session, caller, record_id)
    other = visible_record(session, caller, by)
    if other.office_pk != record.office_pk:
        raise Forbidden("a record can only be superseded by a record of the same office")
    if other.record_id == record.record_id:
        raise InvalidInput("a record cannot supersede itself")
    if record.status is not RecordStatus.CURRENT:
        raise Conflict(f"record is {record.status.value}; it cannot be superseded")
    if other.status is not RecordStatus.CURRENT:
        raise Conflict(f"the replacement is {other.status.value}")
    session.add(
        Replacement(
            record_id=record.record_id,
            by_record_id=other.record_id,
            replaced_by_key=caller.key_id,
            replaced_at=utcnow(),
            reason=reason or None,
            reason_hash=reason_hash(reason).hex() if reason else None,
        )
    )
    record.status = RecordStatus.REPLACED
    record.replaced_by = other.record_id
    record.updated_at = utcnow()
    return record


MAX_NUMBER_MATCHES = 1000
"""Revisions one document-number search may match (an office's reference is unique)."""


def _like_escape(text: str) -> str:
    """`text` taken literally inside a LIKE pattern (escape character `\\`)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search(
    session: Session,
    caller: Caller,
    *,
    office_id: str | None,
    category: str | None,
    date_from: dt.date | None,
    date_to: dt.date | None,
    q: str | None,
    kind: RecordKind | None,
    limit: int,
    offset: int,
    document_number: str | None = None,
) -> tuple[list[Record], int]:
    """Records the caller may see, filtered, newest first.

    `document_number` matches the head revision's `extra.document_number` exactly (the
    office's own reference, 文号), found in the revision's canonical metadata JSON.
    """
    stmt = select(Record)
    if caller.office_pk is not None:
        stmt = stmt.where(
            or_(Record.access_tier != AccessTier.INTERNAL, Record.office_pk == caller.office_pk)
        )
    else:
        stmt = stmt.where(Record.access_tier != AccessTier.INTERNAL)
    if office_id:
        try:
            oid = parse_bytes32(office_id, "office id").hex()
        except InvalidInput:
            return [], 0
        office_pk = select(Office.id).where(Office.office_id == oid).scalar_subquery()
        stmt = stmt.where(Record.office_pk == office_pk)
    if category:
        stmt = stmt.where(Record.category == category)
    if date_from:
        stmt = stmt.where(Record.published_on >= date_from)
    if date_to:
        stmt = stmt.where(Record.published_on <= date_to)
    if q:
        stmt = stmt.where(Record.title.ilike(f"%{_like_escape(q)}%", escape="\\"))
    if kind:
        stmt = stmt.where(Record.kind == kind)
    if document_number:
        fragment = document_number_fragment(document_number)
        # One scan of the revisions' metadata, read once for the count and the page (the
        # member is exact, so few revisions match); only records whose head matched count.
        # LIKE ignores case on SQLite: the exact member is checked again here.
        found = session.execute(
            select(Revision.record_id, Revision.version, Revision.metadata_json)
            .where(Revision.metadata_json.like(f"%{_like_escape(fragment)}%", escape="\\"))
            .limit(MAX_NUMBER_MATCHES + 1)
        ).all()
        heads = [(r.record_id, r.version) for r in found if fragment in r.metadata_json]
        if len(found) > MAX_NUMBER_MATCHES:
            raise InvalidInput("that document number matches too many records; narrow it")
        if not heads:
            return [], 0
        stmt = stmt.where(
            Record.record_id.in_([rid for rid, _ in heads]),  # by primary key
            tuple_(Record.record_id, Record.head_version).in_(heads),
        )
    # The ids first (narrow rows to count and sort), then only the page's records with
    # what their views need: sorting the joined rows of every match cost ten times more.
    ids = stmt.with_only_columns(Record.record_id)
    total = session.scalar(select(func.count()).select_from(ids.subquery())) or 0
    page = session.scalars(
        ids.order_by(Record.created_at.desc(), Record.record_id).limit(limit).offset(offset)
    ).all()
    if not page:
        return [], total
    rows = session.scalars(
        select(Record).where(Record.record_id.in_(page)).options(*RECORD_VIEW_LOADS)
    ).unique()
    by_id = {r.record_id: r for r in rows}
    return [by_id[rid] for rid in page if rid in by_id], total
