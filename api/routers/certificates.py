"""E-certificates: salted commitments on chain, the document and holder data kept here.

docs/formats.md, "Certificate commitment": `contentHash = sha256(salt || document)`, where
the document is the uploaded PDF/OFD/XML or a PDF rendered here with the holder data masked
on its face; the metadata carries `holder_commitment = sha256(salt || RFC 8785 holder)`.
Both are stored as content-addressed `salt || …` blobs for the issuing office only.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
import json
import secrets
from pathlib import Path
from typing import Annotated, Any

import rfc8785
from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from api.core.deps import IdemKey, MaybeCallerDep, PublisherDep, SessionDep, SettingsDep
from api.routers._access import log_ok, logged
from api.schemas import CertificateIssued, CertificatePublic, RevokeCreate
from api.services import holder_access, idempotency, publishing
from api.services import records as svc
from api.services.certificate_pdf import render_certificate_pdf
from api.services.idempotency import run_write
from api.services.pii_guard import Guarded, guard_text, metadata_texts
from api.services.uploads import CERTIFICATE_TYPES, read_upload
from api.services.views import head_revision, record_public
from notary.db.models import Revision
from notary.db.types import AccessTier, RecordKind
from notary.errors import InvalidInput, NotFound
from notary.formats.certificate import (
    SALT_LENGTH,
    canonical_holder,
    holder_commitment,
)
from notary.formats.fields import check_free_text, check_validity
from notary.publishing import blobs

router = APIRouter(prefix="/certificates", tags=["certificates"])

HOLDER_MEDIA_TYPE = "application/vnd.notary.holder+json"
"""Media type of the stored `salt || holder JSON` preimage; never served by `/files`."""
MAX_HOLDER_BYTES = 64 * 1024
MAX_HOLDER_DEPTH = 32
"""Nesting levels of holder data at most: canonicalising it recurses once per level."""
SERVICE_EXTRA_KEYS = frozenset({"holder_commitment", "valid_from"})
"""Members of a certificate's `extra` that the service writes; a client may not."""
SECRET_ANSWER_KEYS = frozenset({"salt", "holder", "holder_url"})
"""Members of the issue answer never stored in its idempotency row (docs/privacy.md)."""


def _depth(value: Any) -> int:
    """How deeply a parsed JSON value nests (a scalar is 0), without recursing."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, level = stack.pop()
        deepest = max(deepest, level)
        if isinstance(item, dict):
            stack.extend((v, level + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, level + 1) for v in item)
    return deepest


def _holder(text: str) -> dict[str, Any]:
    if len(text.encode()) > MAX_HOLDER_BYTES:
        raise InvalidInput("holder data is too large")
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise InvalidInput(f"holder is not valid JSON: {exc}") from exc
    if not isinstance(data, dict) or not data:
        raise InvalidInput("holder must be a non-empty JSON object")
    if _depth(data) > MAX_HOLDER_DEPTH:
        raise InvalidInput(f"holder data nests more than {MAX_HOLDER_DEPTH} levels deep")
    _check_holder_text(data)
    try:
        rfc8785.dumps(data)
    except Exception as exc:
        raise InvalidInput(f"holder data cannot be canonicalised: {exc}") from exc
    return data


def _check_holder_text(data: dict[str, Any]) -> None:
    """Holder data is printed on the certificate's face and shown to the office: every key
    and string value must pass the free-text rule (values may span lines)."""
    stack: list[tuple[str, Any]] = [("holder", data)]
    while stack:
        name, item = stack.pop()
        if isinstance(item, dict):
            for key, value in item.items():
                check_free_text(key, f"{name} key {key[:40]!r}")
                stack.append((f"{name}.{key[:40]}", value))
        elif isinstance(item, list):
            stack.extend((f"{name}[{i}]", v) for i, v in enumerate(item))
        elif isinstance(item, str):
            check_free_text(item, name, multiline=True)


def _utc(value: dt.datetime | None, name: str) -> dt.datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise InvalidInput(f"{name} needs a timezone (e.g. 2030-01-01T00:00:00Z)")
    try:
        return value.astimezone(dt.UTC).replace(microsecond=0)
    except OverflowError:  # e.g. 9999-12-31T23:59:59-05:00 is past the year 9999 in UTC
        raise InvalidInput(f"{name} is out of range") from None


def _salted_content(salt: bytes, document: bytes, media_type: str) -> svc.NewContent:
    """The revision content of a certificate: `salt || document`, hashed as the chain sees it."""
    stored = salt + document
    return svc.NewContent(
        guarded=Guarded(data=stored, masked=False, overridden_findings=None),
        content_type=blobs.salted_media_type(media_type),
        sha256=holder_commitment(salt, document).hex(),
        sm3=hashlib.new("sm3", stored).hexdigest(),
    )


def _holder_data(stored: bytes, *, salted: bool) -> dict[str, Any]:
    """Holder data from its stored preimage: `salt || JSON` (`salted`, named by the
    metadata's `holder_commitment`), or the old `{"holder": …}` form.

    Which form is decided by the metadata, never by the bytes: a random salt starts with
    `{` once in 256 certificates.
    """
    if not salted:
        return json.loads(stored)["holder"]
    return json.loads(stored[SALT_LENGTH:])


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
    """Issue a certificate; the answer carries the commitment salt, once (a retry with the
    same `Idempotency-Key` gets the same answer again, completed from the holder preimage
    blob: its idempotency row keeps neither salt nor holder data).

    Without a file the service renders the certificate PDF (holder data masked on its face);
    fetch it from `document_url` with a key of the office.
    """
    data = _holder(holder)
    client = svc.parse_metadata_json(metadata) or {}
    guard_text(metadata_texts(client), override_reason=None)  # the holder's data stays private
    start, end = _utc(valid_from, "valid_from"), _utc(valid_until, "valid_until")
    check_validity(start, end)  # the leaf encoder's rule: an end at or before 1970 is refused
    upload = None
    if file is not None:
        upload = await read_upload(file, limit=settings.max_upload_bytes, allowed=CERTIFICATE_TYPES)
    # Same request → same salt on retry is impossible, so the key identifies the request.
    req_hash = idempotency.request_hash(
        "POST",
        "/certificates",
        {
            "holder": _keyed_digest(settings.key_secret, canonical_holder(data)),
            "metadata": client,
            "from": str(start),
            "until": str(end),
            "file": hashlib.sha256(upload.data).hexdigest() if upload else None,
        },
    )
    salt = secrets.token_bytes(SALT_LENGTH)
    holder_preimage = salt + canonical_holder(data)
    holder_hash = hashlib.sha256(holder_preimage).hexdigest()
    extra = client.get("extra") or {}
    if not isinstance(extra, dict):
        raise InvalidInput("metadata extra must be a JSON object")
    if taken := SERVICE_EXTRA_KEYS.intersection(extra):
        raise InvalidInput(f"metadata extra may not set {', '.join(sorted(taken))}")
    extra = dict(extra)
    if start:
        extra["valid_from"] = start.isoformat()
    extra["holder_commitment"] = holder_hash
    client = {**client, "extra": extra}
    client.setdefault("category", "certificate")
    svc.precheck_metadata(client, AccessTier.RESTRICTED)  # before any file is written

    def do() -> dict:
        if upload is not None:
            content = _salted_content(salt, upload.data, upload.content_type)
        else:
            office = svc.office_for_writer(session, caller)
            pdf = render_certificate_pdf(
                data,
                title=str(client.get("title") or "电子证照 E-certificate"),
                office=office.name,
                valid_from=start.date().isoformat() if start else None,
                valid_until=end.date().isoformat() if end else None,
            )
            content = _salted_content(salt, pdf, "application/pdf")
        blobs.write_file(settings.blobs, content.sha256, content.guarded.data)
        record = publishing.publish_one(
            session,
            publishing.Draft(
                caller,
                content,
                client,
                AccessTier.RESTRICTED,
                kind=RecordKind.CERTIFICATE,
                valid_until=end,
                action="issue",
            ),
        )
        blobs.put(
            session,
            settings.blobs,
            sha256=holder_hash,
            data=holder_preimage,
            media_type=HOLDER_MEDIA_TYPE,
        )
        holder_access.remember(session, record.id, salt)
        return CertificateIssued(
            record=record,
            valid_from=start,
            valid_until=end,
            holder=data,
            salt=salt.hex(),
            document_url=f"/api/v1/files/{record.current.content_hash}",
            holder_url=holder_access.holder_link(settings.public_base_url, record.id, salt),
        ).model_dump(mode="json")

    def restore(kept: dict) -> dict:
        return _with_secrets(session, settings.blobs, kept, settings.public_base_url)

    return await run_in_threadpool(
        functools.partial(run_write, keep=_without_secrets, restore=restore),
        session,
        caller,
        idempotency_key,
        req_hash,
        do,
        201,
    )


def _keyed_digest(secret: str, data: bytes) -> str:
    """HMAC-SHA-256 of `data` under the server secret: what the idempotency row keeps of
    the holder data. A plain digest would let anyone who reads the row confirm a guess
    (an ID number has few enough candidates)."""
    return hmac.new(secret.encode(), data, hashlib.sha256).hexdigest()


def _without_secrets(issued: dict) -> dict:
    """The issue answer as its idempotency row keeps it: no salt, no holder data.

    Both are in the office's `salt || holder JSON` blob already; `_with_secrets` reads them
    back for a replay, so the database holds no second copy in clear.
    """
    return {k: v for k, v in issued.items() if k not in SECRET_ANSWER_KEYS}


def _with_secrets(session: Session, blob_root: Path, kept: dict, base_url: str) -> dict:
    """A stored issue answer completed again with its salt, holder data and holder link
    (a replay).

    Read from the holder preimage the issue wrote in the same transaction as the answer:
    `salt || holder JSON`, named by the revision's `holder_commitment`, or the old
    `{"holder": …, "salt": …}` document under its content hash (as `get_certificate`).
    """
    revision = session.get(Revision, int(kept["record"]["current"]["id"]))
    if revision is None:
        raise NotFound("the certificate of this Idempotency-Key no longer exists")
    extra = json.loads(revision.metadata_json).get("extra", {})
    salted = "holder_commitment" in extra
    sha = extra["holder_commitment"] if salted else revision.content_hash
    stored = blobs.read(blob_root, blobs.stored(session, sha))
    salt = stored[:SALT_LENGTH].hex() if salted else json.loads(stored)["salt"]
    link = holder_access.holder_link(base_url, kept["record"]["id"], bytes.fromhex(salt))
    return {**kept, "holder": _holder_data(stored, salted=salted), "salt": salt, "holder_url": link}


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
            salted = "holder_commitment" in extra
            sha = extra["holder_commitment"] if salted else head.content_hash
            stored = blobs.read(settings.blobs, blobs.stored(session, sha))
            holder = _holder_data(stored, salted=salted)
        start = extra.get("valid_from")
        out = CertificatePublic(
            record=record_public(session, record, head, caller=caller),
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
        record = svc.visible_record(session, caller, record_id)  # unseen: as if missing
        if record.kind is not RecordKind.CERTIFICATE:
            raise NotFound(f"record {record.record_id} is not a certificate")
        guard_text({"reason": body.reason}, override_reason=None)
        session.rollback()
        req_hash = idempotency.request_hash(
            "POST", f"/certificates/{record_id}/revoke", body.model_dump()
        )

        def do() -> dict:
            rec = svc.revoke(session, caller, record_id, body.reason)
            log_ok(session, caller, "revoke", rec.office_pk, rec.record_id)
            session.flush()
            return CertificatePublic(
                record=record_public(session, rec, caller=caller),
                valid_from=None,
                valid_until=rec.valid_until,
                holder=None,
            ).model_dump(mode="json")

        return run_write(session, caller, idempotency_key, req_hash, do, 200)
