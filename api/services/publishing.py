"""New records: checked and hashed before the transaction, then inserted in bulk.

Publishing is the API's hot path. A `Draft` carries what its request has already checked
(metadata fields, access tier) and prepared (the guarded file and its hashes; the file must
be on disk before `insert_drafts` names it). `insert_drafts` writes any number of drafts,
of any offices, with one multi-row statement per table: records, blobs, revisions (their
ids returned), PII overrides, then the access-log entries, chained per office.
`publish_batch` adds what a batch of independent requests needs (each key and office
checked again inside the transaction, Idempotency-Key replays); `api.services.publish_writer` feeds
it concurrent publishes (group commit). A certificate is a batch of one in its request's
own transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from api.core.deps import Caller
from api.core.errors import Forbidden, Unauthenticated
from api.schemas import RecordPublic, RevisionPublic
from api.services import accesslog, idempotency
from api.services.idempotency import Answer
from api.services.records import (
    NewContent,
    OfficeRow,
    build_metadata,
    live_keys,
    lock_offices,
    office_for_writer,
    writable_office,
)
from api.services.views import document_size, document_type
from notary.db.models import Blob, PiiOverride, Record, Revision
from notary.db.types import (
    AccessTier,
    AnchorState,
    RecordKind,
    RecordStatus,
    utcnow,
)
from notary.errors import Conflict, NotFound
from notary.formats.fields import valid_until_seconds
from notary.formats.revision import new_record_id
from notary.storage.blobstore import relative_path


@dataclass(frozen=True, slots=True)
class Draft:
    """A new record as its request prepared it (its file stored before the insert)."""

    caller: Caller
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
) -> list[RecordPublic]:
    """Insert new records at version 1 (revisions pending anchoring); their public form.

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
        out.append(_public(d, office, records[-1], revisions[-1]))
    conn = session.connection()  # Core all the way: no ORM unit of work for plain inserts
    conn.execute(_INSERT_RECORDS, records)
    conn.execute(_INSERT_BLOBS[conn.dialect.name], list(blob_rows.values()))
    ids = conn.scalars(_INSERT_REVISIONS, revisions).all()
    overrides = []
    for d, rev_id, public in zip(drafts, ids, out, strict=True):
        public.current.id = str(rev_id)
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
    for d, public in zip(drafts, out, strict=True):
        by_office.setdefault(d.caller.office_pk, []).append(
            accesslog.Access(d.caller.key_id, d.action, public.id, "ok")
        )
    for office_pk in sorted(by_office):
        accesslog.append_many(session, office_pk, by_office[office_pk])
    return out


def _public(d: Draft, office: OfficeRow, record: dict, revision: dict) -> RecordPublic:
    """The answer to a publish, from the rows about to be inserted (the revision id later)."""
    media_type = d.content.content_type
    return RecordPublic(
        id=record["record_id"],
        office_id=office.office_id,
        kind=d.kind.value,
        tier=d.tier.value,
        status=RecordStatus.CURRENT.value,
        title=record["title"],
        category=record["category"] or "",
        published_on=record["published_on"],
        current_version=1,
        current=RevisionPublic(
            id="",
            record_id=record["record_id"],
            version=1,
            kind=d.kind.value,
            content_hash=revision["content_hash"],
            metadata_hash=revision["metadata_hash"],
            leaf=None,
            size=document_size(len(d.content.guarded.data), media_type),
            content_type=document_type(media_type),
            change_note=None,
            anchor_state=AnchorState.PENDING.value,
            tx_hash=None,
            block_number=None,
            created_at=revision["accepted_at"],
            anchored_at=None,
        ),
        superseded_by=None,
        revocation_reason=None,
        valid_until=d.valid_until,
        created_at=record["created_at"],
    )


def publish_one(session: Session, draft: Draft) -> RecordPublic:
    """Insert one draft in the caller's transaction (its key and office checked again)."""
    office = office_for_writer(session, draft.caller)
    return insert_drafts(session, [draft], {office.id: office})[0]


@dataclass(frozen=True, slots=True)
class Job:
    """One publish request waiting for the group commit."""

    draft: Draft
    idempotency_key: str | None
    request_hash: str


def publish_batch(session: Session, jobs: Sequence[Job]) -> list[Answer | Exception]:
    """Run independent publish requests in the session's transaction; one result per job.

    A job's own refusal (key revoked or office suspended since its request was
    authenticated, an Idempotency-Key replay or misuse) is its result and does not touch
    the others; the caller commits. An exception raised out of here (say, a unique
    violation by another process) means the batch must be rolled back and retried job by
    job.
    """
    offices = lock_offices(session, {j.draft.caller.office_pk or 0 for j in jobs})
    live = live_keys(session, {j.draft.caller.key_id or 0 for j in jobs})
    keyed = [(j.draft.caller.key_id or 0, j.idempotency_key) for j in jobs if j.idempotency_key]
    stored = idempotency.find_many(session, keyed)
    results: list[Answer | Exception | None] = [None] * len(jobs)
    first_of_key: dict[tuple[int, str], int] = {}
    todo: list[int] = []
    for i, job in enumerate(jobs):
        caller = job.draft.caller
        pair = (caller.key_id or 0, job.idempotency_key or "")
        try:
            if caller.key_id not in live:
                raise Unauthenticated("invalid or revoked API key")
            writable_office(offices, caller)
            if job.idempotency_key and pair in stored:
                results[i] = idempotency.stored_answer(stored[pair], job.request_hash)
                continue
        except (Unauthenticated, Forbidden, NotFound, Conflict) as exc:
            results[i] = exc
            continue
        if job.idempotency_key and pair in first_of_key:
            continue  # the same key twice in one batch: answered after the first is made
        if job.idempotency_key:
            first_of_key[pair] = i
        todo.append(i)
    publics = insert_drafts(session, [jobs[i].draft for i in todo], offices)
    remember = []
    for i, public in zip(todo, publics, strict=True):
        results[i] = Answer(201, public.model_dump(mode="json"))
        if key := jobs[i].idempotency_key:
            remember.append((jobs[i].draft.caller.key_id, key, jobs[i].request_hash, results[i]))
    idempotency.remember_many(session, remember)
    for i, job in enumerate(jobs):
        if results[i] is None:  # a repeated key: the first job's answer, replayed
            first = first_of_key[(job.draft.caller.key_id or 0, job.idempotency_key or "")]
            answer = results[first]
            assert isinstance(answer, Answer)
            if job.request_hash != jobs[first].request_hash:
                results[i] = Conflict("Idempotency-Key reused with a different request")
            else:
                results[i] = answer._replace(replayed=True)
    return results  # type: ignore[return-value]
