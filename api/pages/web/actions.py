"""The console's writes and reads, made through the JSON API's own route functions.

One copy of each mechanism: a console publish, revision, revocation, supersession or
stamped download runs exactly the code a `POST /api/v1/records…` runs (field checks, PII
guard, group commit, idempotency, access log), with the session's caller in place of a
bearer key. This module is the console's only door to them, so when those routes move to a
shared service only this file follows. Results come back as the API's JSON bodies; refusals
as the library's exceptions, which the pages show.
"""

from __future__ import annotations

import io
import json
from typing import Any

from fastapi import Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.datastructures import UploadFile as FormFile

from api.core.deps import Caller
from api.pages.web import forms
from api.routers import certificates, receipts, stamped
from api.routers import records as records_api
from api.schemas import RevokeCreate, SupersedeCreate
from api.services import records as svc
from api.services.uploads import DISCLOSURE_TYPES, Upload, read_upload
from notary.errors import NotFound


def _body(response: Any) -> dict[str, Any]:
    return json.loads(bytes(response.body))


def as_upload_file(data: bytes, filename: str, content_type: str) -> UploadFile:
    """Bytes held by the console as the `UploadFile` a route reads."""
    return UploadFile(
        io.BytesIO(data),
        size=len(data),
        filename=filename,
        headers=Headers({"content-type": content_type}),
    )


async def read_file_field(request: Request, field: Any) -> Upload | None:
    """A form's file field read as the API reads uploads (bounded, typed by its bytes);
    None when no file was chosen."""
    if not isinstance(field, FormFile) or not field.filename:
        return None
    settings = request.app.state.settings
    return await read_upload(field, limit=settings.max_upload_bytes, allowed=DISCLOSURE_TYPES)


async def publish(
    request: Request,
    caller: Caller,
    upload: Upload,
    metadata: dict[str, Any],
    *,
    tier: str,
    mask: bool,
    override: str | None,
    idempotency_key: str,
) -> dict[str, Any]:
    """`POST /api/v1/records` for the session's caller; the new record's public form."""
    response = await records_api.publish(
        request,
        request.app.state.settings,
        caller,
        as_upload_file(upload.data, upload.filename or "release", upload.content_type),
        json.dumps(metadata, ensure_ascii=False),
        tier,
        mask,
        override,
        idempotency_key,
    )
    return _body(response)


async def revise(
    request: Request,
    caller: Caller,
    record_id: str,
    *,
    change_note: str,
    upload: Upload | None,
    metadata: dict[str, Any] | None,
    mask: bool,
    override: str | None,
    idempotency_key: str,
) -> dict[str, Any]:
    """`POST /api/v1/records/{id}/revisions`: the next version."""
    settings = request.app.state.settings
    db = request.app.state.db

    def work() -> dict[str, Any]:
        with db.session() as session:
            response = records_api._revise(
                session,
                settings,
                caller,
                record_id,
                upload=upload,
                metadata=json.dumps(metadata, ensure_ascii=False) if metadata else None,
                change_note=change_note,
                mask=mask,
                override=override,
                idempotency_key=idempotency_key,
            )
            return _body(response)

    return await run_in_threadpool(work)


def revoke(
    request: Request, caller: Caller, record_id: str, reason: str, idempotency_key: str
) -> dict[str, Any]:
    """`POST /api/v1/records/{id}/revoke` with its reason."""
    body = forms.parsed(RevokeCreate, reason=reason)
    with request.app.state.db.session() as session:
        return _body(records_api.revoke(record_id, body, request, session, caller, idempotency_key))


def supersede(
    request: Request, caller: Caller, record_id: str, by: str, reason: str, idempotency_key: str
) -> dict[str, Any]:
    """`POST /api/v1/records/{id}/supersede`: replaced by another record of the office."""
    body = forms.parsed(SupersedeCreate, by=by, reason=reason)
    with request.app.state.db.session() as session:
        return _body(
            records_api.supersede(record_id, body, request, session, caller, idempotency_key)
        )


def record_history(request: Request, caller: Caller, record_id: str) -> dict[str, Any]:
    """`GET /api/v1/records/{id}/history`: the record and its events (logged as a read)."""
    with request.app.state.db.session() as session:
        out = records_api.get_history(record_id, request, session, caller)
        return out.model_dump(mode="json")


async def receipt(request: Request, caller: Caller, revision_id: int) -> dict[str, Any]:
    """`GET /api/v1/receipts/{id}` without waiting."""
    out = await receipts.get_receipt(revision_id, request, caller, request.app.state.settings)
    return out.model_dump(mode="json")


def stamped_pdf(request: Request, caller: Caller, record_id: str, version: int | None) -> Any:
    """`GET /api/v1/records/{id}/stamped`: the response with the stamped PDF."""
    with request.app.state.db.session() as session:
        return stamped.get_stamped(
            record_id, request, session, request.app.state.settings, caller, version
        )


def own_record(request: Request, caller: Caller, record_id: str) -> None:
    """Refuse (404, as for no record) a record of another office: the console shows and
    changes only its own office's releases, whatever the API lets anyone read."""
    with request.app.state.db.session() as session:
        record = svc.load_record(session, record_id)
        theirs = record.office_pk != caller.office_pk
        session.rollback()
    if theirs:
        raise NotFound(f"no record {record_id[:80]} in this office")


async def issue_certificate(
    request: Request,
    caller: Caller,
    *,
    holder: dict[str, Any],
    metadata: dict[str, Any],
    valid_from: Any,
    valid_until: Any,
    idempotency_key: str,
) -> dict[str, Any]:
    """`POST /api/v1/certificates` without a file (the service renders the PDF)."""
    with request.app.state.db.session() as session:
        response = await certificates.issue(
            request,
            session,
            request.app.state.settings,
            caller,
            json.dumps(holder, ensure_ascii=False),
            json.dumps(metadata, ensure_ascii=False),
            valid_from,
            valid_until,
            None,
            idempotency_key,
        )
        return _body(response)
