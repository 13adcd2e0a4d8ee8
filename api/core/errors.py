"""The one place where exceptions become HTTP status codes.

Library errors (`notary.errors`) and the few API-only errors below are mapped by class, most
specific first; every error body is JSON `{"detail": ...}`. Anything unexpected becomes a
500 with a generic body and is logged, never a traceback to the client.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import StatementError
from starlette.exceptions import HTTPException as StarletteHTTPException

from notary.errors import Conflict, InvalidInput, NotaryError, NotFound, Unauthorised, Unavailable
from notary.pii import DocumentTooLarge, MaskingUnsupported
from notary.publishing.errors import PayloadTooLarge, PiiFound, UnsupportedMedia
from notary.storage.blobstore import BlobTooLarge

log = logging.getLogger(__name__)

__all__ = ["Forbidden", "PayloadTooLarge", "PiiFound", "Unauthenticated", "UnsupportedMedia"]


class Unauthenticated(Unauthorised):
    """No credentials, or credentials that match no active key."""


class Forbidden(Unauthorised):
    """A valid key whose role or office may not do this."""


STATUS_BY_CLASS: tuple[tuple[type[Exception], int], ...] = (
    (Unauthenticated, 401),
    (Forbidden, 403),
    (Unauthorised, 403),
    (PayloadTooLarge, 413),
    (DocumentTooLarge, 413),
    (BlobTooLarge, 413),
    (UnsupportedMedia, 415),
    (PiiFound, 422),
    (MaskingUnsupported, 422),
    (NotFound, 404),
    (Conflict, 409),
    (Unavailable, 503),
    (InvalidInput, 400),
    (NotaryError, 400),
)


def status_for(exc: Exception) -> int:
    """HTTP status for a library or API error (first matching class wins)."""
    for cls, status in STATUS_BY_CLASS:
        if isinstance(exc, cls):
            return status
    return 500


def _body(exc: NotaryError) -> dict[str, Any]:
    if isinstance(exc, PiiFound):
        return {"detail": str(exc), "findings": exc.findings}
    return {"detail": str(exc) or exc.__class__.__name__}


async def _notary_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, NotaryError)
    status = status_for(exc)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(_body(exc), status_code=status, headers=headers)


async def _statement_error(request: Request, exc: Exception) -> JSONResponse:
    orig = getattr(exc, "orig", None)
    if isinstance(orig, NotaryError):  # a column type refused a value (e.g. a malformed id)
        return await _notary_error(request, orig)
    return await _unexpected(request, exc)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    return JSONResponse(
        {"detail": exc.detail}, status_code=exc.status_code, headers=getattr(exc, "headers", None)
    )


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [{k: v for k, v in e.items() if k in ("loc", "msg", "type")} for e in exc.errors()]
    return JSONResponse({"detail": errors}, status_code=422)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return JSONResponse({"detail": "internal error"}, status_code=500)


def install(app: FastAPI) -> None:
    """Register the exception handlers on `app`."""
    app.add_exception_handler(NotaryError, _notary_error)
    app.add_exception_handler(StatementError, _statement_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected)
