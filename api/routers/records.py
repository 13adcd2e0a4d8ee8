"""Records: publish (multipart), read, search, history, revise, revoke, supersede."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, Request, UploadFile, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from sqlalchemy.orm import Session

from api.core.deps import IdemKey, MaybeCallerDep, PublisherDep, SessionDep, SettingsDep
from api.core.settings import Settings
from api.routers._access import log_ok, logged
from api.schemas import (
    Lines,
    NoNul,
    RecordHistory,
    RecordPage,
    RecordPublic,
    RevokeCreate,
    SupersedeCreate,
)
from api.services import idempotency
from api.services import records as svc
from api.services.idempotency import run_write
from api.services.pii_guard import guard, guard_text, metadata_texts, with_text_findings
from api.services.publishing import Draft, Job
from api.services.uploads import DISCLOSURE_TYPES, Upload, read_upload
from api.services.views import history, record_public, records_public
from notary.db.types import RecordKind
from notary.errors import InvalidInput
from notary.pii.limits import ScanLimits
from notary.publishing import blobs

router = APIRouter(prefix="/records", tags=["records"])

INLINE_GUARD_BYTES = 16 * 1024
"""Text and XML files up to this size are guarded on the event loop (about 0.1 ms a KB)."""


async def guarded_content(
    settings: Settings, file: UploadFile, *, mask: bool, override: str | None
) -> svc.NewContent:
    """Read, type-check and PII-guard an uploaded file for the publish writer.

    A small text or XML file is scanned right here: quicker than a hop to a thread and back,
    and left to the writer, which stores a whole batch with two file-system flushes
    (`BlobStore.put_many`). PDFs and larger files are scanned, hashed and written off the
    event loop, so no batch waits on them.
    """
    upload = await read_upload(file, limit=settings.max_upload_bytes, allowed=DISCLOSURE_TYPES)
    if len(upload.data) > INLINE_GUARD_BYTES or upload.content_type == "application/pdf":
        return await run_in_threadpool(_guard_and_store, settings, upload, mask, override)
    return _guarded(upload, mask, override, settings.pii_limits)


def _guarded(
    upload: Upload, mask: bool, override: str | None, limits: ScanLimits
) -> svc.NewContent:
    g = guard(
        upload.data,
        upload.content_type,
        mask=mask,
        override_reason=override,
        filename=upload.filename,
        limits=limits,
    )
    return svc.NewContent(
        guarded=g,
        content_type=upload.content_type,
        sha256=hashlib.sha256(g.data).hexdigest(),
        sm3=hashlib.new("sm3", g.data).hexdigest(),
    )


def _guard_and_store(
    settings: Settings, upload: Upload, mask: bool, override: str | None
) -> svc.NewContent:
    content = _guarded(upload, mask, override, settings.pii_limits)
    blobs.write_file(settings.blobs, content.sha256, content.guarded.data)
    return dataclasses.replace(content, on_disk=True)


def _idem_parts(content: svc.NewContent | None, **fields: Any) -> dict[str, Any]:
    return {"file": content.sha256 if content else None, **fields}


@router.post("", status_code=status.HTTP_201_CREATED, response_model=RecordPublic)
async def publish(
    request: Request,
    settings: SettingsDep,
    caller: PublisherDep,
    file: Annotated[UploadFile, File(description="The exact bytes to publish")],
    metadata: Annotated[
        str, Form(description="JSON: title, category, publication_date, reviewer, language, extra")
    ],
    tier: Annotated[str | None, Form(description="public, restricted or internal")] = None,
    mask: Annotated[bool, Form()] = False,
    pii_override_reason: Annotated[str | None, Form(max_length=2000), NoNul, Lines] = None,
    idempotency_key: IdemKey = None,
) -> JSONResponse:
    """Publish a new record (version 1); its revision is pending until the worker anchors it."""
    client = svc.parse_metadata_json(metadata)
    if client is None:
        raise InvalidInput("metadata is required")
    access = svc.tier_of(client, tier)
    svc.precheck_metadata(client, access)
    # Text is guarded before the file, so a refusal leaves no blob behind.
    text_found = guard_text(metadata_texts(client), override_reason=pii_override_reason)
    key = idempotency.check_key(idempotency_key)
    content = await guarded_content(settings, file, mask=mask, override=pii_override_reason)
    content = dataclasses.replace(content, guarded=with_text_findings(content.guarded, text_found))
    req_hash = idempotency.request_hash(
        "POST",
        "/records",
        _idem_parts(
            content, metadata=client, tier=access.value, mask=mask, override=pii_override_reason
        ),
    )
    draft = Draft(caller, content, client, access, override_reason=pii_override_reason)
    answer = await request.app.state.publish_writer.submit(Job(draft, key, req_hash))
    return answer.response()


@router.get("", response_model=RecordPage)
def search(
    session: SessionDep,
    caller: MaybeCallerDep,
    office: Annotated[str | None, Query(max_length=66)] = None,
    category: Annotated[str | None, Query(max_length=100)] = None,
    date_from: Annotated[dt.date | None, Query(alias="from")] = None,
    date_to: Annotated[dt.date | None, Query(alias="to")] = None,
    q: Annotated[str | None, Query(max_length=200, description="text in the title")] = None,
    number: Annotated[
        str | None, Query(max_length=200, description="a document number (文号), exactly")
    ] = None,
    kind: RecordKind | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> RecordPage:
    """Search records by office, category, publication date range, title text and document
    number."""
    if any("\x00" in (v or "") for v in (office, category, q, number)):
        raise InvalidInput("search terms must not contain NUL characters")
    rows, total = svc.search(
        session,
        caller,
        office_id=office,
        category=category,
        date_from=date_from,
        date_to=date_to,
        q=q,
        document_number=number,
        kind=kind,
        limit=limit,
        offset=offset,
    )
    return RecordPage(
        items=records_public(session, rows, caller=caller), total=total, limit=limit, offset=offset
    )


@router.get("/{record_id}", response_model=RecordPublic)
def get_record(
    record_id: str, request: Request, session: SessionDep, caller: MaybeCallerDep
) -> RecordPublic:
    """A record and its current revision."""
    with logged(session, caller, "read", record_id):
        record = svc.visible_record(session, caller, record_id)
        out = record_public(session, record, caller=caller)
        log_ok(session, caller, "read", record.office_pk, record.record_id)
        session.commit()
        return out


@router.get(
    "/{record_id}/metadata",
    responses={200: {"content": {"application/json": {}}, "description": "canonical JSON"}},
)
def get_metadata(
    record_id: str,
    session: SessionDep,
    caller: MaybeCallerDep,
    version: Annotated[int | None, Query(ge=1, le=2**32 - 1)] = None,
) -> Response:
    """A revision's metadata exactly as hashed: the RFC 8785 canonical JSON whose SHA-256 is
    the revision's `metadataHash` on chain (default: the current version). Served as the
    record's tier allows (an internal record is its office's only)."""
    with logged(session, caller, "metadata", record_id):
        record = svc.visible_record(session, caller, record_id)
        rev = svc.revision_of(session, record, version or record.head_version)
        body = rev.metadata_json.encode()
        log_ok(session, caller, "metadata", record.office_pk, record.record_id)
        session.commit()
        headers = {"X-Metadata-Hash": rev.metadata_hash, "Cache-Control": "no-store"}
        return Response(body, media_type="application/json", headers=headers)


@router.get("/{record_id}/history", response_model=RecordHistory)
def get_history(
    record_id: str, request: Request, session: SessionDep, caller: MaybeCallerDep
) -> RecordHistory:
    """Every revision with its anchor state, and the revocation or supersession with reasons."""
    with logged(session, caller, "history", record_id):
        record = svc.visible_record(session, caller, record_id)
        out = history(session, record, caller=caller)
        log_ok(session, caller, "history", record.office_pk, record.record_id)
        session.commit()
        return out


@router.post("/{record_id}/revisions", status_code=201, response_model=RecordPublic)
async def revise(
    record_id: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    caller: PublisherDep,
    change_note: Annotated[str, Form(min_length=1, max_length=2000), NoNul, Lines],
    file: Annotated[UploadFile | None, File()] = None,
    metadata: Annotated[str | None, Form()] = None,
    mask: Annotated[bool, Form()] = False,
    pii_override_reason: Annotated[str | None, Form(max_length=2000), NoNul, Lines] = None,
    idempotency_key: IdemKey = None,
) -> JSONResponse:
    """The next version: a new file and/or new metadata, with a change note.

    A certificate cannot be revised (its content is a salted commitment and its metadata
    names the holder data): revoke it and issue a new one.
    """
    upload = None
    if file is not None:  # read here, on the event loop; everything else in a thread
        upload = await read_upload(file, limit=settings.max_upload_bytes, allowed=DISCLOSURE_TYPES)
    return await run_in_threadpool(
        _revise,
        session,
        settings,
        caller,
        record_id,
        upload=upload,
        metadata=metadata,
        change_note=change_note,
        mask=mask,
        override=pii_override_reason,
        idempotency_key=idempotency_key,
    )


def _revise(
    session: Session,
    settings: Settings,
    caller: Any,
    record_id: str,
    *,
    upload: Upload | None,
    metadata: str | None,
    change_note: str,
    mask: bool,
    override: str | None,
    idempotency_key: str | None,
) -> JSONResponse:
    # Off the event loop as a whole: a refusal is logged in a transaction of its own, and on
    # SQLite that waits for the write lock, which must never block the loop.
    with logged(session, caller, "revise", record_id):
        client = svc.parse_metadata_json(metadata)
        if client and "access_tier" in client:
            raise InvalidInput("the access tier cannot change in a revision")
        text_found = guard_text(
            {"change_note": change_note, **metadata_texts(client)}, override_reason=override
        )
        content = None
        if upload is not None:
            # Refuse what the revision itself would refuse before the new file is stored.
            svc.precheck_revision(session, caller, record_id, client)
            session.rollback()  # no lock held while the file is guarded and written
            content = _guard_and_store(settings, upload, mask, override)
        req_hash = idempotency.request_hash(
            "POST",
            f"/records/{record_id}/revisions",
            _idem_parts(content, metadata=client, note=change_note, mask=mask, override=override),
        )

        def do() -> dict:
            record, rev = svc.revise(
                session,
                settings.blobs,
                caller,
                record_id,
                content=content,
                client_metadata=client,
                change_note=change_note,
                override_reason=override,
                text_findings=text_found,
            )  # its access-log entry included
            session.flush()
            return record_public(session, record, rev, caller=caller).model_dump(mode="json")

        return run_write(session, caller, idempotency_key, req_hash, do, 201)


@router.post("/{record_id}/revoke", response_model=RecordPublic)
def revoke(
    record_id: str,
    body: RevokeCreate,
    request: Request,
    session: SessionDep,
    caller: PublisherDep,
    idempotency_key: IdemKey = None,
) -> JSONResponse:
    """Revoke with a reason; the reason's SHA-256 is anchored by the worker."""
    with logged(session, caller, "revoke", record_id):
        guard_text({"reason": body.reason}, override_reason=None)  # shown on the verify page
        req_hash = idempotency.request_hash(
            "POST", f"/records/{record_id}/revoke", body.model_dump()
        )

        def do() -> dict:
            record = svc.revoke(session, caller, record_id, body.reason)
            log_ok(session, caller, "revoke", record.office_pk, record.record_id)
            session.flush()
            return record_public(session, record, caller=caller).model_dump(mode="json")

        return run_write(session, caller, idempotency_key, req_hash, do, 200)


@router.post("/{record_id}/supersede", response_model=RecordPublic)
def supersede(
    record_id: str,
    body: SupersedeCreate,
    request: Request,
    session: SessionDep,
    caller: PublisherDep,
    idempotency_key: IdemKey = None,
) -> JSONResponse:
    """Mark the record replaced by another record of the same office."""
    with logged(session, caller, "supersede", record_id):
        guard_text({"reason": body.reason}, override_reason=None)
        req_hash = idempotency.request_hash(
            "POST", f"/records/{record_id}/supersede", body.model_dump()
        )

        def do() -> dict:
            record = svc.supersede(session, caller, record_id, body.by, body.reason)
            log_ok(session, caller, "supersede", record.office_pk, record.record_id)
            session.flush()
            return record_public(session, record, caller=caller).model_dump(mode="json")

        return run_write(session, caller, idempotency_key, req_hash, do, 200)
