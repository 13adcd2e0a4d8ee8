"""Writing new records and revisions: one unit of work for every door.

`insert_drafts` writes any number of new records, of any offices, with one multi-row
statement per table: records, blobs, revisions (their ids returned), PII overrides, then the
access-log entries, chained per office. `revise_record` writes the next version of a current
disclosure the same way (blob row, revision, override, access-log entry). Who may write
(keys, roles, an office's own records) is the door's to check before calling these; the
rules about the content and the record are checked here.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple, Protocol

from sqlalchemy import bindparam, insert, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from notary.db.models import Blob, Office, PiiOverride, Record, Revision
from notary.db.types import (
    AccessTier,
    AnchorState,
    OfficeStatus,
    RecordKind,
    RecordStatus,
    utcnow,
)
from notary.errors import Conflict
from notary.formats.fields import check_version, valid_until_seconds
from notary.formats.metadata import Metadata
from notary.formats.revision import new_record_id
from notary.publishing import accesslog, blobs
from notary.publishing.content import Guarded, NewContent, with_text_findings
from notary.publishing.metadata import build_metadata
from notary.storage.blobstore import relative_path


class Actor(Protocol):
    """Who writes: the API key (None at the command line) and its office."""

    @property
    def key_id(self) -> int | None: ...

    @property
    def office_pk(self) -> int | None: ...


@dataclass(frozen=True, slots=True)
class OfficeActor:
    """The office itself, acting without an API key (the `notary` command on its data dir)."""

    office_pk: int
    key_id: int | None = None


class OfficeRow(NamedTuple):
    """An office as the write paths need it (`lock_offices`)."""

    id: int
    office_id: str
    number: int
    name: str
    status: OfficeStatus


_OFFICES = (
    select(Office.id, Office.office_id, Office.number, Office.name, Office.status)
    .where(Office.id.in_(bindparam("ids", expanding=True)))
    .order_by(Office.id)
    .with_for_update(key_share=True)
)


def lock_offices(session: Session, office_pks: Iterable[int]) -> dict[int, OfficeRow]:
    """The offices' rows, locked in id order (PostgreSQL: `FOR NO KEY UPDATE`).

    The lock keeps a suspension from committing between this check and the writes, and is
    the one the access log's appenders queue on (`accesslog.append_many`).
    """
    rows = session.connection().execute(_OFFICES, {"ids": sorted(set(office_pks))})
    return {r.id: OfficeRow(*r) for r in rows}


def office_row(office: Office) -> OfficeRow:
    """An ORM office as `insert_drafts` takes it."""
    return OfficeRow(office.id, office.office_id, office.number, office.name, office.status)


@dataclass(slots=True)
class Inserted:
    """One new record as written: its office and the record and revision rows (the
    revision's `id` filled in once inserted)."""

    office: OfficeRow
    record: dict[str, Any]
    revision: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Draft:
    """A new record as its request prepared it (its file stored before the insert)."""

    caller: Actor
    """Who publishes: an API key of the office, or the office itself at the command line."""
    content: NewContent
    client_metadata: dict[str, Any]
    tier: AccessTier
    kind: RecordKind = RecordKind.DISCLOSURE
    valid_until: dt.datetime | None = None
    override_reason: str | None = None
    action: str = "publish"
    """The access-log action (`publish`, or `issue` for a certificate)."""


# Built once: building a statement costs more than running it.
_INSERT_RECORDS = insert(Record.__table__)
_INSERT_REVISIONS = insert(Revision.__table__).returning(
    Revision.__table__.c.id, sort_by_parameter_order=True
)
_INSERT_OVERRIDES = insert(PiiOverride.__table__)
_INSERT_BLOBS = {
    name: dialect_insert(Blob.__table__).on_conflict_do_nothing(index_elements=["sha256"])
    for name, dialect_insert in (("sqlite", sqlite_insert), ("postgresql", postgresql_insert))
}
"""`INSERT … ON CONFLICT DO NOTHING`: the same bytes may be stored by a concurrent request."""


def insert_drafts(
    session: Session, drafts: Sequence[Draft], offices: dict[int, OfficeRow]
) -> list[Inserted]:
    """Insert new records at version 1 (revisions pending anchoring), with their blob rows,
    PII overrides and access-log entries (chained per office); the rows inserted.

    Every draft's office must be in `offices` (`lock_offices`) and writable.
    """
    if not drafts:
        return []
    now = utcnow()
    records, revisions, blob_rows, out = [], [], {}, []
    for d in drafts:
        valid_until_seconds(d.valid_until)  # what the worker could not encode is refused here
        office = offices[d.caller.office_pk]
        c = d.content
        meta = build_metadata(d.client_metadata, office_name=office.name, tier=d.tier, sm3=c.sm3)
        record_id = new_record_id(office.number).hex()
        records.append(
            {
                "record_id": record_id,
                "office_pk": office.id,
                "kind": d.kind,
                "access_tier": d.tier,
                "status": RecordStatus.CURRENT,
                "head_version": 1,
                "title": meta.title,
                "category": meta.category,
                "published_on": meta.publication_date,
                "valid_until": d.valid_until,
                "created_at": now,
                "updated_at": now,
            }
        )
        revisions.append(
            {
                "record_id": record_id,
                "version": 1,
                "content_hash": c.sha256,
                "sm3": c.sm3,
                "metadata_json": meta.canonical_json().decode(),
                "metadata_hash": meta.metadata_hash().hex(),
                "change_note": None,
                "accepted_at": now,
                "anchor_state": AnchorState.PENDING,
            }
        )
        blob_rows[c.sha256] = {
            "sha256": c.sha256,
            "size": len(c.guarded.data),
            "path": relative_path(c.sha256),
            "media_type": c.content_type,
            "created_at": now,
        }
        out.append(Inserted(office, records[-1], revisions[-1]))
    conn = session.connection()  # Core all the way: no ORM unit of work for plain inserts
    conn.execute(_INSERT_RECORDS, records)
    conn.execute(_INSERT_BLOBS[conn.dialect.name], list(blob_rows.values()))
    ids = conn.scalars(_INSERT_REVISIONS, revisions).all()
    overrides = []
    for d, rev_id, done in zip(drafts, ids, out, strict=True):
        done.revision["id"] = rev_id
        if d.content.guarded.overridden_findings is not None:
            overrides.append(
                {
                    "revision_id": rev_id,
                    "findings": d.content.guarded.overridden_findings,
                    "reason": d.override_reason or "",
                    "api_key_id": d.caller.key_id,
                    "created_at": now,
                }
            )
    if overrides:
        conn.execute(_INSERT_OVERRIDES, overrides)
    by_office: dict[int, list[accesslog.Access]] = {}
    for d, done in zip(drafts, out, strict=True):
        by_office.setdefault(d.caller.office_pk, []).append(
            accesslog.Access(d.caller.key_id, d.action, done.record["record_id"], "ok")
        )
    for office_pk in sorted(by_office):
        accesslog.append_many(session, office_pk, by_office[office_pk])
    return out


def revisable(session: Session, record: Record) -> Revision:
    """The current revision of a record that may get a next version (a current disclosure);
    `Conflict` otherwise."""
    if record.kind is RecordKind.CERTIFICATE:  # its content is a salted commitment
        raise Conflict("a certificate cannot be revised: revoke it and issue a new one")
    if record.status is not RecordStatus.CURRENT:
        raise Conflict(f"record is {record.status.value}; it cannot be revised")
    return session.scalars(
        select(Revision).where(
            Revision.record_id == record.record_id, Revision.version == record.head_version
        )
    ).one()


def revised_metadata(
    record: Record, head: Revision, client_metadata: dict[str, Any] | None, sm3: str
) -> Metadata:
    """The current metadata with the client's changes, checked in full."""
    old = json.loads(head.metadata_json)
    base = {k: old[k] for k in ("title", "category", "publication_date", "reviewer", "language")}
    base["extra"] = old.get("extra", {})
    base.update(client_metadata or {})
    return build_metadata(base, office_name=record.office.name, tier=record.access_tier, sm3=sm3)


def _store_revision(
    session: Session,
    blob_root: Path,
    *,
    record: Record,
    version: int,
    content: NewContent,
    metadata: Metadata,
    change_note: str | None,
    actor: Actor,
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
                api_key_id=actor.key_id,
            )
        )
    return rev


def revise_record(
    session: Session,
    blob_root: Path,
    actor: Actor,
    record: Record,
    *,
    content: NewContent | None,
    client_metadata: dict[str, Any] | None,
    change_note: str,
    override_reason: str | None = None,
    text_findings: list[dict[str, Any]] | None = None,
) -> Revision:
    """The next version of `record` (locked by the caller): a new file and/or metadata, with
    a change note, pending anchoring, and its access-log entry.

    `content` None keeps the current file. `text_findings` are personal data found in the
    note or metadata that `override_reason` overrode: recorded with the revision's override,
    like the file's own.
    """
    head = revisable(session, record)
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
    content = NewContent(
        guarded=with_text_findings(content.guarded, text_findings),
        content_type=content.content_type,
        sha256=content.sha256,
        sm3=content.sm3,
        on_disk=content.on_disk,
    )
    metadata = revised_metadata(record, head, client_metadata, content.sm3)
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
        actor=actor,
        override_reason=override_reason,
    )
    record.head_version = version
    record.title = metadata.title
    record.category = metadata.category
    record.published_on = metadata.publication_date
    record.updated_at = utcnow()
    accesslog.append(
        session,
        office_pk=record.office_pk,
        key_id=actor.key_id,
        action="revise",
        record_id=record.record_id,
        outcome="ok",
    )
    return rev
