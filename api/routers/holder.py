"""`POST /api/v1/certificates/{id}/holder-copy`: the holder's own certificate document.

Anonymous, with the capability of the holder's link in the body (never in a URL, so no
proxy or server log holds it); docs/privacy.md, "The holder's link". Every refusal that
names a record is the same 404 as an unknown record, and is rate limited like the other
expensive anonymous routes.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from api.core.deps import Caller, MaybeCallerDep, SessionDep, SettingsDep
from api.core.limits import rate_limited, retry_after
from api.core.settings import Settings
from api.routers._access import log_ok, logged
from api.schemas import ErrorBody
from api.services import holder_access

router = APIRouter(prefix="/certificates", tags=["certificates"])

HOLDER_ACTION = "holder"
"""The access-log action of a holder's read (refused ones too, with their status)."""


class HolderCopyRequest(BaseModel):
    """What the holder's page (or app) sends."""

    capability: str = Field(
        description='sha256("holder" || salt || record id), 64 hex digits', max_length=200
    )


def holder_copy(
    session: Session, settings: Settings, caller: Caller, record_id: str, capability: bytes
) -> holder_access.HolderDocument:
    """The document for the capability, its read logged in the office's access log (a
    refusal too, off the request path, as for every record route)."""
    with logged(session, caller, HOLDER_ACTION, record_id):
        doc = holder_access.holder_document(session, settings.blobs, record_id, capability)
        log_ok(session, caller, HOLDER_ACTION, doc.office_pk, doc.record_id)
        session.commit()
        return doc


def document_response(doc: holder_access.HolderDocument) -> Response:
    """The bytes as a private download (restricted tier: never cached, never rendered)."""
    return Response(
        doc.data,
        media_type=doc.media_type,
        headers={
            "Content-Disposition": f'attachment; filename="certificate-{doc.record_id[:16]}"',
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "sandbox",
            "Cache-Control": "private, no-store",
            "Referrer-Policy": "no-referrer",
        },
    )


@router.post(
    "/{record_id}/holder-copy",
    response_class=Response,
    responses={
        200: {"content": {"application/octet-stream": {}}},
        429: {"model": ErrorBody, "description": "Too many requests from this client; retry"},
    },
)
def get_holder_copy(
    record_id: str,
    body: HolderCopyRequest,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    caller: MaybeCallerDep,
) -> Response:
    """The certificate document for its holder (no key: the capability is the right)."""
    if (wait := rate_limited(request)) is not None:
        return JSONResponse(
            {"detail": "too many requests: try again later"},
            status_code=429,
            headers={"Retry-After": retry_after(wait)},
        )
    capability = holder_access.parse_capability(body.capability)
    return document_response(holder_copy(session, settings, caller, record_id, capability))
