"""New records through the API: `notary.publishing.records.insert_drafts` (the one
publishing path, shared with the CLI) answered in the API's public form.

`publish_batch` adds what a batch of independent requests needs (each key and office
checked again inside the transaction, Idempotency-Key replays); `api.services.publish_writer`
feeds it concurrent publishes (group commit). A certificate is a batch of one in its
request's own transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from api.core.errors import Forbidden, Unauthenticated
from api.schemas import RecordPublic, RevisionPublic
from api.services import idempotency
from api.services.idempotency import Answer
from api.services.records import live_keys, office_for_writer, writable_office
from api.services.views import document_size, document_type
from notary.db.types import (
    AnchorState,
    RecordStatus,
)
from notary.errors import Conflict, NotFound
from notary.publishing import records
from notary.publishing.records import Draft, OfficeRow, lock_offices


def _public(d: Draft, office: OfficeRow, record: dict, revision: dict) -> RecordPublic:
    """The answer to a publish, from the rows inserted."""
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


def insert_drafts(
    session: Session, drafts: Sequence[Draft], offices: dict[int, OfficeRow]
) -> list[RecordPublic]:
    """`notary.publishing.records.insert_drafts`, answered in the API's public form."""
    done = records.insert_drafts(session, drafts, offices)
    out = []
    for d, row in zip(drafts, done, strict=True):
        public = _public(d, row.office, row.record, row.revision)
        public.current.id = str(row.revision["id"])
        out.append(public)
    return out


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
