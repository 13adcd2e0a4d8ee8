"""Publishing, revising, revoking and superseding records; finding and reading them."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from sqlalchemy import bindparam, func, or_, select, tuple_
from sqlalchemy.orm import Session, joinedload

from api.core.deps import Caller
from api.core.errors import Forbidden, Unauthenticated
from api.services import blobs
from api.services.pii_guard import Guarded, with_text_findings
from notary.db.models import (
    ApiKey,
    Office,
    PiiOverride,
    Record,
    Replacement,
    Revision,
    Revocation,
)
from notary.db.types import AccessTier, KeyRole, OfficeStatus, RecordKind, RecordStatus, utcnow
from notary.errors import Conflict, InvalidInput, NotFound
from notary.formats.fields import check_free_text, check_version

__all__ = ["NotFound"]
from notary.formats.metadata import Metadata
from notary.formats.revision import parse_bytes32, reason_hash

CLIENT_METADATA_KEYS = frozenset(
    {"title", "category", "publication_date", "reviewer", "language", "extra", "access_tier"}
)


def _check_strings(data: dict[str, Any]) -> None:
    """Refuse lone surrogates (they cannot even be encoded) and any character outside the
    free-text rule (`notary.formats.fields`: bidi controls, zero-width and other invisible
    characters…) in every key and string of the parsed metadata, naming the member, before
    anything is hashed or stored. `extra` values may span lines; the other members may not.
    """
    stack: list[tuple[str, Any, bool]] = [(k, v, k == "extra") for k, v in data.items()]
    while stack:
        name, item, multiline = stack.pop()
        if isinstance(item, dict):
            for key, value in item.items():
                _check_string(f"{name} key", key, multiline=False)
                stack.append((f"{name}.{key}", value, multiline))
        elif isinstance(item, list):
            stack.extend((f"{name}[{i}]", v, multiline) for i, v in enumerate(item))
        elif isinstance(item, str):
            _check_string(name, item, multiline=multiline)


def _check_string(name: str, value: object, *, multiline: bool) -> None:
    if not isinstance(value, str):
        return  # a non-string key or value: Metadata refuses it by type
    if any("\ud800" <= ch <= "\udfff" for ch in value):
        raise InvalidInput(f"metadata {name} contains a lone surrogate (not valid Unicode)")
    check_free_text(value, f"metadata {name}", multiline=multiline)


def parse_metadata_json(text: str | None) -> dict[str, Any] | None:
    """The client's metadata form field, parsed strictly into a JSON object."""
    if text is None or text == "":
        return None
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise InvalidInput(f"metadata is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise InvalidInput("metadata must be a JSON object")
    unknown = set(data) - CLIENT_METADATA_KEYS
    if unknown:
        raise InvalidInput(f"unknown metadata member(s): {', '.join(sorted(unknown))}")
    _check_strings(data)
    return data


def precheck_metadata(client: dict[str, Any], tier: AccessTier) -> None:
    """Validate new-record metadata fully before the file is stored (placeholders stand in
    for the office name and SM3), so a refused request leaves no blob behind."""
    doc = {k: v for k, v in client.items() if k != "access_tier"}
    doc.setdefault("language", "zh-CN")
    doc.update(office="office", access_tier=tier.value, sm3="0" * 64)
    Metadata.from_dict(doc)


def build_metadata(
    client: dict[str, Any], *, office_name: str, tier: AccessTier, sm3: str
) -> Metadata:
    """Full metadata: the client's fields plus what the service knows (office, tier, sm3)."""
    doc = {k: v for k, v in client.items() if k != "access_tier"}
    doc.setdefault("language", "zh-CN")
    doc.update(office=office_name, access_tier=tier.value, sm3=sm3)
    return Metadata.from_dict(doc)


def tier_of(client: dict[str, Any] | None, form_tier: str | None) -> AccessTier:
    """Access tier from the form field, else the metadata, else public."""
    value = form_tier or (client or {}).get("access_tier") or "public"
    try:
        return AccessTier(value)
    except ValueError:
        raise InvalidInput(
            f"access tier must be public, restricted or internal: {value!r}"
        ) from None


class OfficeRow(NamedTuple):
    """An office as the write paths need it (`lock_offices`)."""

    id: int
    office_id: str
    number: int
    name: str
    status: OfficeStatus


# Built once: building a statement (and its expanding IN) costs more than running it.
_OFFICES = (
    select(Office.id, Office.office_id, Office.number, Office.name, Office.status)
    .where(Office.id.in_(bindparam("ids", expanding=True)))
    .order_by(Office.id)
    .with_for_update(key_share=True)
)
_LIVE_KEYS = (
    select(ApiKey.id)
    .where(ApiKey.id.in_(bindparam("ids", expanding=True)), ApiKey.revoked_at.is_(None))
    .with_for_update(read=True)
)


def lock_offices(session: Session, office_pks: Iterable[int]) -> dict[int, OfficeRow]:
    """The offices' rows, locked in id order (PostgreSQL: `FOR NO KEY UPDATE`).

    The lock keeps a suspension from committing between this check and the writes, and is
    the one the access log's appenders queue on (`accesslog.append_many`).
    """
    rows = session.connection().execute(_OFFICES, {"ids": sorted(set(office_pks))})
    return {r.id: OfficeRow(*r) for r in rows}


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


@dataclass(frozen=True, slots=True)
class NewContent:
    """Bytes that passed the guard, with their type and hashes; `on_disk` once a request has
    written and flushed them (else the publish writer stores them with its batch)."""

    guarded: Guarded
    content_type: str
    sha256: str
    sm3: str
    on_disk: bool = False


def _store_revision(
    session: Session,
    blob_root: Path,
    *,
    record: Record,
    version: int,
    content: NewContent,
    metadata: Metadata,
    change_note: str | None,
    caller: Caller,
    override_reason: str | None,
) -> Revision:
    if not content.on_disk:
        blobs.write_file(blob_root, content.sha256, content.guarded.data)
    blobs.add_row(
        session,
        blob_root,
        sha256=content.sha256,
        size=len(content.guarded.data),
        media_type=content.content_type,
    )
    rev = Revision(
        record_id=record.record_id,
        version=version,
        content_hash=content.sha256,
        sm3=content.sm3,
        metadata_json=metadata.canonical_json().decode(),
        metadata_hash=metadata.metadata_hash().hex(),
        change_note=change_note,
        accepted_at=utcnow(),
    )
    session.add(rev)
    session.flush()
    if content.guarded.overridden_findings is not None:
        session.add(
            PiiOverride(
                revision_id=rev.id,
                findings=content.guarded.overridden_findings,
                reason=override_reason or "",
                api_key_id=caller.key_id,
            )
        )
    return rev


def _revisable(session: Session, caller: Caller, record_id: str) -> tuple[Record, Revision]:
    """The record locked for a revision, and its current revision; refused unless it is a
    current disclosure of the caller's office."""
    record = writable_record(session, caller, record_id)
    if record.kind is RecordKind.CERTIFICATE:
        raise Conflict("a certificate cannot be revised: revoke it and issue a new one")
    if record.status is not RecordStatus.CURRENT:
        raise Conflict(f"record is {record.status.value}; it cannot be revised")
    head = session.scalars(
        select(Revision).where(
            Revision.record_id == record.record_id, Revision.version == record.head_version
        )
    ).one()
    return record, head


def _revised_metadata(
    record: Record, head: Revision, client_metadata: dict[str, Any] | None, sm3: str
) -> Metadata:
    """The current metadata with the client's changes, checked in full."""
    old = json.loads(head.metadata_json)
    base = {k: old[k] for k in ("title", "category", "publication_date", "reviewer", "language")}
    base["extra"] = old.get("extra", {})
    base.update(client_metadata or {})
    return build_metadata(base, office_name=record.office.name, tier=record.access_tier, sm3=sm3)


def precheck_revision(
    session: Session, caller: Caller, record_id: str, client_metadata: dict[str, Any] | None
) -> None:
    """Refuse a revision that `revise` would refuse, before its new file is stored (a
    placeholder stands in for the new file's SM3)."""
    record, head = _revisable(session, caller, record_id)
    _revised_metadata(record, head, client_metadata, sm3="0" * 64)


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
    """The next version of a current disclosure: new file and/or metadata, with a change note.

    `text_findings` are personal data found in the note or metadata that `override_reason`
    overrode: recorded with the revision's override, like the file's own.
    """
    record, head = _revisable(session, caller, record_id)
    if content is not None and content.sha256 == head.content_hash:
        raise Conflict("this content is already the record's current version")
    if content is None:
        blob = blobs.stored(session, head.content_hash)
        content = NewContent(
            guarded=Guarded(
                data=blobs.read(blob_root, blob), masked=False, overridden_findings=None
            ),
            content_type=blob.media_type or "application/octet-stream",
            sha256=head.content_hash,
            sm3=head.sm3 or json.loads(head.metadata_json)["sm3"],
            on_disk=True,  # the current version's own file
        )
    content = dataclasses.replace(
        content, guarded=with_text_findings(content.guarded, text_findings)
    )
    metadata = _revised_metadata(record, head, client_metadata, content.sm3)
    if content.sha256 == head.content_hash and metadata.metadata_hash().hex() == head.metadata_hash:
        raise Conflict("nothing changed: same content and metadata as the current version")
    version = check_version(record.head_version + 1)  # the registry's uint32
    rev = _store_revision(
        session,
        blob_root,
        record=record,
        version=version,
        content=content,
        metadata=metadata,
        change_note=change_note,
        caller=caller,
        override_reason=override_reason,
    )
    record.head_version = version
    record.title = metadata.title
    record.category = metadata.category
    record.published_on = metadata.publication_date
    record.updated_at = utcnow()
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


def supersede(session: Session, caller: Caller, record_id: str, by: str) -> Record:
    """Mark a record replaced by another current record of the same office."""
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
        )
    )
    record.status = RecordStatus.REPLACED
    record.replaced_by = other.record_id
    record.updated_at = utcnow()
    return record


MAX_NUMBER_MATCHES = 1000
"""Revisions one document-number search may match (an office's reference is unique)."""


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
        escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        stmt = stmt.where(Record.title.ilike(f"%{escaped}%", escape="\\"))
    if kind:
        stmt = stmt.where(Record.kind == kind)
    if document_number:
        member = json.dumps(
            {"document_number": document_number}, ensure_ascii=False, separators=(",", ":")
        )[1:-1]
        escaped = member.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        # One scan of the revisions' metadata, read once for the count and the page (the
        # member is exact, so few revisions match); only records whose head matched count.
        heads = session.execute(
            select(Revision.record_id, Revision.version)
            .where(Revision.metadata_json.like(f"%{escaped}%", escape="\\"))
            .limit(MAX_NUMBER_MATCHES + 1)
        ).all()
        if len(heads) > MAX_NUMBER_MATCHES:
            raise InvalidInput("that document number matches too many records; narrow it")
        if not heads:
            return [], 0
        stmt = stmt.where(
            Record.record_id.in_([h.record_id for h in heads]),  # by primary key
            tuple_(Record.record_id, Record.head_version).in_([tuple(h) for h in heads]),
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
