"""E-certificates: a salted commitment to the holder data on chain, the data kept here."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
from typing import Annotated, Any

import rfc8785
from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from api import blobs, idempotency
from api.deps import MaybeCallerDep, PublisherDep, SessionDep, SettingsDep
from api.pii_guard import Guarded
from api.routers._access import log_ok, logged
from api.routers.records import IdemKey, run_write
from api.schemas import CertificateIssued, CertificatePublic, RevokeCreate
from api.services import records as svc
from api.services.views import head_revision, record_public
from api.uploads import CERTIFICATE_TYPES, read_upload
from notary.db.types import AccessTier, RecordKind
from notary.errors import InvalidInput, NotFound

router = APIRouter(prefix="/certificates", tags=["certificates"])

HOLDER_MEDIA_TYPE = "application/vnd.notary.holder+json"
"""Media type of the stored commitment preimage; never served by `/files`."""
MAX_HOLDER_BYTES = 64 * 1024


def commitment_doc(holder: dict[str, Any], salt: bytes) -> bytes:
    """RFC 8785 JSON of the holder data and salt; its SHA-256 is the commitment."""
    return rfc8785.dumps({"holder": holder, "salt": salt.hex()})


def _holder(text: str) -> dict[str, Any]:
    if len(text.encode()) > MAX_HOLDER_BYTES:
        raise InvalidInput("holder data is too large")
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise InvalidInput(f"holder is not valid JSON: {exc}") from exc
    if not isinstance(data, dict) or not data:
        raise InvalidInput("holder must be a non-empty JSON object")
    try:
        rfc8785.dumps(data)
    except Exception as exc:
        raise InvalidInput(f"holder data cannot be canonicalised: {exc}") from exc
    return data


def _utc(value: dt.datetime | None, name: str) -> dt.datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise InvalidInput(f"{name} needs a timezone (e.g. 2030-01-01T00:00:00Z)")
    return value.astimezone(dt.UTC).replace(microsecond=0)


@router.post("", status_code=201, response_model=CertificateIssued)
async def issue(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    caller: PublisherDep,
    holder: Annotated[str, Form(description="JSON object with the holder's data")],
    metadata: Annotated[
        str, Form(description="JSON: title, category, publication_date, reviewer, language")
    ],
    valid_from: Annotated[dt.datetime | None, Form()] = None,
    valid_until: Annotated[dt.datetime | None, Form()] = None,
    file: Annotated[UploadFile | None, File(description="PDF, OFD or XML")] = None,
    idempotency_key: IdemKey = None,
) -> JSONResponse:
    """Issue a certificate; the answer carries the commitment salt, once."""
    data = _holder(holder)
    client = svc.parse_metadata_json(metadata) or {}
    start, end = _utc(valid_from, "valid_from"), _utc(valid_until, "valid_until")
    if end is not None and end.timestamp() > 2**63:
        raise InvalidInput("valid_until is too far in the future")
    if start and end and end <= start:
        raise InvalidInput("valid_until must be after valid_from")
    upload = None
    if file is not None:
        upload = await read_upload(file, limit=settings.max_upload_bytes, allowed=CERTIFICATE_TYPES)
    # Same request → same salt on retry is impossible, so the key identifies the request.
    req_hash = idempotency.request_hash(
        "POST",
        "/certificates",
        {
            "holder": data,
            "metadata": client,
            "from": str(start),
            "until": str(end),
            "file": hashlib.sha256(upload.data).hexdigest() if upload else None,
        },
    )
    salt = secrets.token_bytes(32)
    doc = commitment_doc(data, salt)
    commitment = hashlib.sha256(doc).hexdigest()
    extra = dict(client.get("extra") or {})
    if start:
        extra["valid_from"] = start.isoformat()
    if upload is not None:
        extra["holder_commitment"] = commitment
        payload, ctype = upload.data, upload.content_type
    else:
        payload, ctype = doc, HOLDER_MEDIA_TYPE
    client = {**client, "extra": extra}
    client.setdefault("category", "certificate")
    content = svc.NewContent(
        guarded=Guarded(data=payload, masked=False, overridden_findings=None),
        content_type=ctype,
        sha256=hashlib.sha256(payload).hexdigest(),
        sm3=hashlib.new("sm3", payload).hexdigest(),
    )

    def do() -> dict:
        record, rev = svc.publish(
            session,
            settings.blobs,
            caller,
            content=content,
            client_metadata=client,
            tier=AccessTier.RESTRICTED,
            kind=RecordKind.CERTIFICATE,
            valid_until=end,
        )
        if upload is not None:
            blobs.put(
                session, settings.blobs, sha256=commitment, data=doc, media_type=HOLDER_MEDIA_TYPE
            )
        log_ok(session, caller, "issue", record.office_pk, record.record_id)
        session.flush()
        return CertificateIssued(
            record=record_public(session, record, rev),
            valid_from=start,
            valid_until=end,
            holder=data,
            salt=salt.hex(),
        ).model_dump(mode="json")

    return await run_in_threadpool(run_write, session, caller, idempotency_key, req_hash, do, 201)


@router.get("/{record_id}", response_model=CertificatePublic)
def get_certificate(
    record_id: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    caller: MaybeCallerDep,
) -> CertificatePublic:
    """A certificate's record; the holder data only for keys of the issuing office."""
    with logged(session, caller, "read", record_id):
        record = svc.visible_record(session, caller, record_id)
        if record.kind is not RecordKind.CERTIFICATE:
            raise NotFound(f"record {record.record_id} is not a certificate")
        head = head_revision(session, record)
        meta = json.loads(head.metadata_json)
        extra = meta.get("extra", {})
        holder = None
        if caller.of_office(record.office_pk):
            sha = extra.get("holder_commitment", head.content_hash)
            blob = blobs.stored(session, sha)
            holder = json.loads(blobs.read(settings.blobs, blob))["holder"]
        start = extra.get("valid_from")
        out = CertificatePublic(
            record=record_public(session, record, head),
            valid_from=dt.datetime.fromisoformat(start) if start else None,
            valid_until=record.valid_until,
            holder=holder,
        )
        log_ok(session, caller, "read", record.office_pk, record.record_id)
        session.commit()
        return out


@router.post("/{record_id}/revoke", response_model=CertificatePublic)
def revoke_certificate(
    record_id: str,
    body: RevokeCreate,
    session: SessionDep,
    caller: PublisherDep,
    idempotency_key: IdemKey = None,
) -> JSONResponse:
    """Revoke a certificate with a reason (its SHA-256 is anchored by the worker)."""
    with logged(session, caller, "revoke", record_id):
        record = svc.load_record(session, record_id)
        if record.kind is not RecordKind.CERTIFICATE:
            raise NotFound(f"record {record.record_id} is not a certificate")
        session.rollback()
        req_hash = idempotency.request_hash(
            "POST", f"/certificates/{record_id}/revoke", body.model_dump()
        )

        def do() -> dict:
            rec = svc.revoke(session, caller, record_id, body.reason)
            log_ok(session, caller, "revoke", rec.office_pk, rec.record_id)
            session.flush()
            return CertificatePublic(
                record=record_public(session, rec),
                valid_from=None,
                valid_until=rec.valid_until,
                holder=None,
            ).model_dump(mode="json")

        return run_write(session, caller, idempotency_key, req_hash, do, 200)
