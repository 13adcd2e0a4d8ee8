"""Data-layer functions: the only code that writes the core tables.

Every function takes the session first and everything else by keyword. None of them
commits: the caller owns the transaction (`notary.db.session.unit_of_work`), so "create a
record and its first revision" or "mark a batch anchored" is all or nothing. Errors are the
package's own: `NotFound`, `Conflict` (state or race), `InvalidInput` (bad values).

Concurrency: revisions of one record are serialised by a row lock on the record
(`SELECT … FOR UPDATE` on PostgreSQL; on SQLite every write transaction already holds the
database write lock, see `notary.db.session`), backed by the unique `(record_id, version)`
constraint, so of two racing "add version 2" calls exactly one wins and the other gets
`Conflict`. The outbox transitions the worker drives are `notary.db.outbox`; the row
helpers both share are `notary.db.rows`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, delete, select
from sqlalchemy.orm import Session, selectinload

from notary.db.models import (
    ZERO32,
    Blob,
    IdempotencyKey,
    Office,
    Record,
    Replacement,
    Revision,
    Revocation,
)
from notary.db.rows import (
    CHUNK,
    RevisionNotFound,
    aware,
    conflict_on_integrity,
    member,
)
from notary.db.types import (
    AccessTier,
    AnchorState,
    OfficeStatus,
    RecordKind,
    RecordStatus,
    hex32,
    utcnow,
)
from notary.errors import Conflict, InvalidInput, NotFound, Unauthorised
from notary.formats.fields import check_version, valid_until_seconds
from notary.formats.revision import reason_hash

MAX_SEARCH_LIMIT = 500
MAX_REASON_CHARS = 2000


class OfficeNotFound(NotFound):
    """No office with this id or number."""


class RecordNotFound(NotFound):
    """No record with this id."""


# -- offices -----------------------------------------------------------------------------


def create_office(session: Session, *, office_id: Any, number: int, name: str) -> Office:
    """Add an office already registered on chain (its bytes32 id and assigned number)."""
    if isinstance(number, bool) or not isinstance(number, int) or not 1 <= number < 2**32:
        raise InvalidInput(f"office number must be a uint32 above 0, got {number!r}")
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        raise InvalidInput("office name must be 1 to 200 characters")
    office = Office(office_id=hex32(office_id), number=number, name=name)
    with conflict_on_integrity(
        session, f"office {office.office_id} or number {number} exists already"
    ):
        session.add(office)
    return office


def get_office(session: Session, *, office_id: Any = None, number: int | None = None) -> Office:
    """An office by its bytes32 id or by its number (exactly one of them)."""
    if (office_id is None) == (number is None):
        raise InvalidInput("give exactly one of office_id and number")
    stmt = select(Office).where(
        Office.office_id == hex32(office_id) if office_id is not None else Office.number == number
    )
    office = session.scalars(stmt).one_or_none()
    if office is None:
        raise OfficeNotFound(f"no office {office_id if office_id is not None else number}")
    return office


# -- records and revisions ---------------------------------------------------------------


def create_record(
    session: Session,
    *,
    record_id: Any,
    office: Office,
    kind: RecordKind,
    access_tier: AccessTier,
    title: str,
    content_hash: Any,
    metadata_json: str,
    metadata_hash: Any,
    category: str | None = None,
    published_on: date | None = None,
    valid_until: datetime | None = None,
    sm3: Any = None,
    leaf: Any = None,
    change_note: str | None = None,
    accepted_at: datetime | None = None,
) -> Revision:
    """Create a record and its version 1, pending anchoring; returns the revision.

    The record id must start with the office's number (docs/formats.md, "Record id"); a
    validity end is for certificates only, in whole seconds (the registry's `validUntil`).
    """
    record_id = hex32(record_id)
    kind, access_tier = member(RecordKind, kind), member(AccessTier, access_tier)
    if int(record_id[:8], 16) != office.number:
        raise InvalidInput(f"record id {record_id} does not start with office {office.number}")
    if office.status is not OfficeStatus.ACTIVE:
        raise Unauthorised(f"office {office.office_id} is suspended")
    if valid_until is not None:
        if kind is not RecordKind.CERTIFICATE:
            raise InvalidInput("only certificates have a validity end")
        valid_until_seconds(aware(valid_until))  # the leaf encoder's rule, at the door
    now = aware(accepted_at) or utcnow()
    record = Record(
        record_id=record_id,
        office_pk=office.id,
        kind=kind,
        access_tier=access_tier,
        status=RecordStatus.CURRENT,
        head_version=1,
        valid_until=valid_until,
        created_at=now,
        updated_at=now,
        **_head_fields(title=title, category=category, published_on=published_on),
    )
    revision = _new_revision(
        record_id=record_id,
        version=1,
        content_hash=content_hash,
        metadata_json=metadata_json,
        metadata_hash=metadata_hash,
        sm3=sm3,
        prev_leaf=ZERO32,
        leaf=leaf,
        change_note=change_note,
        accepted_at=now,
    )
    with conflict_on_integrity(session, f"record {record_id} exists already"):
        session.add(record)
        session.flush()
        session.add(revision)
    return revision


def add_revision(
    session: Session,
    *,
    record_id: Any,
    version: int,
    title: str,
    content_hash: Any,
    metadata_json: str,
    metadata_hash: Any,
    category: str | None = None,
    published_on: date | None = None,
    sm3: Any = None,
    leaf: Any = None,
    prev_leaf: Any = None,
    change_note: str | None = None,
    accepted_at: datetime | None = None,
) -> Revision:
    """Add `version` (which must be the head + 1) to an open record, pending anchoring.

    `prev_leaf`, when not given, is taken from the previous revision (None if that leaf is
    not known yet; the worker fills it). Identical content and metadata to the head is a
    `Conflict`, as is a closed record or a version that is not next.
    """
    record_id = hex32(record_id)
    record = _lock_open_record(session, record_id=record_id)
    if record.office.status is not OfficeStatus.ACTIVE:
        raise Unauthorised(f"office {record.office.office_id} is suspended")
    if version != record.head_version + 1:
        raise Conflict(
            f"record {record_id}: expected version {record.head_version + 1}, got {version}"
        )
    check_version(version)  # the registry's uint32: past it the worker could not encode it
    head = session.scalars(
        select(Revision).where(
            Revision.record_id == record_id, Revision.version == record.head_version
        )
    ).one()
    if head.content_hash == hex32(content_hash) and head.metadata_hash == hex32(metadata_hash):
        raise Conflict(f"record {record_id}: identical to the current version {head.version}")
    if prev_leaf is None:
        prev_leaf = head.leaf
    elif head.leaf is not None and hex32(prev_leaf) != head.leaf:
        raise Conflict(f"record {record_id}: prev_leaf is not the leaf of version {head.version}")
    now = aware(accepted_at) or utcnow()
    revision = _new_revision(
        record_id=record_id,
        version=version,
        content_hash=content_hash,
        metadata_json=metadata_json,
        metadata_hash=metadata_hash,
        sm3=sm3,
        prev_leaf=prev_leaf,
        leaf=leaf,
        change_note=change_note,
        accepted_at=now,
    )
    with conflict_on_integrity(session, f"record {record_id}: version {version} exists already"):
        session.add(revision)
        record.head_version = version
        record.updated_at = now
        for key, value in _head_fields(
            title=title, category=category, published_on=published_on
        ).items():
            setattr(record, key, value)
    return revision


def get_record(session: Session, *, record_id: Any) -> Record:
    """A record with its office, every revision (by version) and its revocation."""
    record = session.scalars(
        select(Record)
        .where(Record.record_id == hex32(record_id))
        .options(
            selectinload(Record.office),
            selectinload(Record.revisions),
            selectinload(Record.revocation),
        )
    ).one_or_none()
    if record is None:
        raise RecordNotFound(f"no record {hex32(record_id)}")
    return record


def get_revision(session: Session, *, record_id: Any, version: int) -> Revision:
    """One revision of a record."""
    revision = session.scalars(
        select(Revision).where(Revision.record_id == hex32(record_id), Revision.version == version)
    ).one_or_none()
    if revision is None:
        raise RevisionNotFound(f"no version {version} of record {hex32(record_id)}")
    return revision


def search_records(
    session: Session,
    *,
    office_pk: int | None = None,
    category: str | None = None,
    published_from: date | None = None,
    published_to: date | None = None,
    title: str | None = None,
    kind: RecordKind | None = None,
    status: RecordStatus | None = None,
    access_tiers: Collection[AccessTier] | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[Record]:
    """Records matching every filter given, newest publication first.

    `title` matches a case-insensitive substring; `%`, `_` and other SQL metacharacters in
    it are literal (bound parameters with an escaped LIKE pattern). Dates are inclusive.
    """
    if not 1 <= limit <= MAX_SEARCH_LIMIT or offset < 0:
        raise InvalidInput(f"limit must be 1..{MAX_SEARCH_LIMIT} and offset non-negative")
    stmt: Select[tuple[Record]] = select(Record)
    if office_pk is not None:
        stmt = stmt.where(Record.office_pk == office_pk)
    if category is not None:
        stmt = stmt.where(Record.category == category)
    if published_from is not None:
        stmt = stmt.where(Record.published_on >= published_from)
    if published_to is not None:
        stmt = stmt.where(Record.published_on <= published_to)
    if title:
        stmt = stmt.where(Record.title.icontains(title, autoescape=True))
    if kind is not None:
        stmt = stmt.where(Record.kind == member(RecordKind, kind))
    if status is not None:
        stmt = stmt.where(Record.status == member(RecordStatus, status))
    if access_tiers is not None:
        stmt = stmt.where(Record.access_tier.in_([member(AccessTier, t) for t in access_tiers]))
    stmt = stmt.order_by(
        Record.published_on.desc().nulls_last(), Record.created_at.desc(), Record.record_id
    )
    return list(session.scalars(stmt.limit(limit).offset(offset)))


# -- revocation and replacement ----------------------------------------------------------


def record_revocation(
    session: Session,
    *,
    record_id: Any,
    reason: str,
    revoked_by_key: int | None = None,
    revoked_at: datetime | None = None,
) -> Revocation:
    """Revoke an open record with a reason; the revocation waits for anchoring.

    `reason_hash` is `sha256(utf8(reason))` (docs/formats.md, "Revocation reason").
    """
    if not isinstance(reason, str) or not reason.strip() or len(reason) > MAX_REASON_CHARS:
        raise InvalidInput(f"a revocation needs a reason of 1 to {MAX_REASON_CHARS} characters")
    record = _lock_open_record(session, record_id=hex32(record_id))
    revocation = Revocation(
        record_id=record.record_id,
        reason=reason,
        reason_hash=hashlib.sha256(reason.encode("utf-8")).hexdigest(),
        revoked_at=aware(revoked_at) or utcnow(),
        revoked_by_key=revoked_by_key,
        anchor_state=AnchorState.PENDING,
    )
    with conflict_on_integrity(session, f"record {record.record_id} is revoked already"):
        session.add(revocation)
        record.status = RecordStatus.REVOKED
    return revocation


def record_replacement(
    session: Session,
    *,
    record_id: Any,
    by_record_id: Any,
    replaced_by_key: int | None = None,
    replaced_at: datetime | None = None,
    reason: str | None = None,
) -> Replacement:
    """Mark an open record as replaced by another open record of the same office (with the
    supersede reason, whose SHA-256 is anchored, when one is given)."""
    record_id, by_record_id = hex32(record_id), hex32(by_record_id)
    if record_id == by_record_id:
        raise InvalidInput("a record cannot replace itself")
    record = _lock_open_record(session, record_id=record_id)
    by = _lock_open_record(session, record_id=by_record_id)
    if by.office_pk != record.office_pk:
        raise Conflict("a record can only be replaced by a record of the same office")
    replacement = Replacement(
        record_id=record_id,
        by_record_id=by_record_id,
        replaced_at=aware(replaced_at) or utcnow(),
        replaced_by_key=replaced_by_key,
        reason=reason or None,
        reason_hash=reason_hash(reason).hex() if reason else None,
        anchor_state=AnchorState.PENDING,
    )
    with conflict_on_integrity(session, f"record {record_id} is replaced already"):
        session.add(replacement)
        record.status = RecordStatus.REPLACED
        record.replaced_by = by_record_id
    return replacement


# -- blobs ------------------------------------------------------------------------------


def add_blob(
    session: Session, *, sha256: Any, size: int, path: str, media_type: str | None = None
) -> Blob:
    """Register a stored file (idempotent: the same content is one row)."""
    sha256 = hex32(sha256)
    blob = session.get(Blob, sha256)
    if blob is not None:
        if blob.size != size:
            raise Conflict(f"blob {sha256} is recorded with size {blob.size}, not {size}")
        return blob
    blob = Blob(sha256=sha256, size=size, path=path, media_type=media_type)
    with conflict_on_integrity(session, f"blob {sha256} was added concurrently"):
        session.add(blob)
    return blob


# -- idempotency keys -------------------------------------------------------------------

IDEMPOTENCY_TTL_HOURS = 24.0
"""How long an Idempotency-Key's first answer is kept and replayed by default."""
PURGE_BATCH = CHUNK
"""Expired idempotency rows deleted per statement: a backlog never makes one long lock."""


def purge_idempotency_keys(session: Session, *, before: datetime) -> int:
    """Delete up to `PURGE_BATCH` stored Idempotency-Key answers created before `before`;
    how many (call again while it returns `PURGE_BATCH`)."""
    oldest = (
        select(IdempotencyKey.id)
        .where(IdempotencyKey.created_at < before)
        .order_by(IdempotencyKey.created_at)
        .limit(PURGE_BATCH)
    )
    ids = list(session.scalars(oldest))
    if ids:
        session.execute(
            delete(IdempotencyKey).where(IdempotencyKey.id.in_(ids)),
            execution_options={"synchronize_session": False},
        )
    return len(ids)


# -- helpers -----------------------------------------------------------------------------


def _lock_open_record(session: Session, *, record_id: str) -> Record:
    record = session.scalars(
        select(Record)
        .where(Record.record_id == record_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()
    if record is None:
        raise RecordNotFound(f"no record {record_id}")
    if record.status is not RecordStatus.CURRENT:
        raise Conflict(f"record {record_id} is {record.status.value}")
    return record


def _new_revision(
    *,
    record_id: str,
    version: int,
    content_hash: Any,
    metadata_json: str,
    metadata_hash: Any,
    sm3: Any,
    prev_leaf: Any,
    leaf: Any,
    change_note: str | None,
    accepted_at: datetime,
) -> Revision:
    if not isinstance(metadata_json, str):
        raise InvalidInput("metadata_json must be the canonical JSON text")
    metadata_hash = hex32(metadata_hash)
    if hashlib.sha256(metadata_json.encode("utf-8")).hexdigest() != metadata_hash:
        raise InvalidInput("metadata_hash is not the SHA-256 of metadata_json")
    return Revision(
        record_id=record_id,
        version=version,
        content_hash=hex32(content_hash),
        sm3=None if sm3 is None else hex32(sm3),
        metadata_json=metadata_json,
        metadata_hash=metadata_hash,
        prev_leaf=None if prev_leaf is None else hex32(prev_leaf),
        leaf=None if leaf is None else hex32(leaf),
        change_note=change_note,
        accepted_at=accepted_at,
        anchor_state=AnchorState.PENDING,
    )


def _head_fields(*, title: str, category: str | None, published_on: date | None) -> dict[str, Any]:
    if not isinstance(title, str) or not title.strip() or len(title) > 500:
        raise InvalidInput("title must be 1 to 500 characters")
    if category is not None and (not category.strip() or len(category) > 100):
        raise InvalidInput("category must be 1 to 100 characters")
    if published_on is not None and (
        isinstance(published_on, datetime) or not isinstance(published_on, date)
    ):
        raise InvalidInput("published_on must be a date")
    return {"title": title, "category": category, "published_on": published_on}
