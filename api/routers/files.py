"""Published bytes by SHA-256, honouring each record's access tier."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, Response
from sqlalchemy import select

from api.core.deps import MaybeCallerDep, SessionDep, SettingsDep
from api.core.errors import Forbidden, Unauthenticated, status_for
from api.routers._access import log_ok
from api.routers.certificates import HOLDER_MEDIA_TYPE
from notary.db.models import Record, Revision
from notary.db.types import AccessTier
from notary.errors import InvalidInput, NotaryError, NotFound
from notary.formats.revision import parse_bytes32
from notary.publishing import accesslog, blobs

router = APIRouter(prefix="/files", tags=["files"])


@router.get(
    "/{sha256}",
    response_class=FileResponse,
    responses={200: {"content": {"application/octet-stream": {}}}},
)
def get_file(
    sha256: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    caller: MaybeCallerDep,
) -> FileResponse:
    """The file, if a record publishing it allows the caller (public; restricted: its office)."""
    try:
        digest = parse_bytes32(sha256, "sha256").hex()
    except InvalidInput:
        raise NotFound(f"no file {sha256[:80]!r}") from None
    records = session.scalars(
        select(Record)
        .join(Revision, Revision.record_id == Record.record_id)
        .where(Revision.content_hash == digest)
        .distinct()
    ).all()
    blob = session.get(blobs.Blob, digest)
    if not records or blob is None or blob.media_type == HOLDER_MEDIA_TYPE:
        raise NotFound(f"no file {digest}")
    allowed = next(
        (
            r
            for r in records
            if r.access_tier is AccessTier.PUBLIC
            or (r.access_tier is AccessTier.RESTRICTED and caller.of_office(r.office_pk))
        ),
        None,
    )
    if allowed is None:
        error: NotaryError
        if all(r.access_tier is AccessTier.INTERNAL for r in records):
            # Only the office may learn that its internal record holds these bytes; anyone
            # else gets the answer for bytes no record holds.
            own = any(caller.of_office(r.office_pk) for r in records)
            error = (
                Forbidden("internal records publish no file")
                if own
                else NotFound(f"no file {digest}")
            )
        elif caller.anonymous:
            error = Unauthenticated("this file is restricted: a key of its office is required")
        else:
            error = Forbidden("this file is restricted to its office")
        # Each office whose record holds these bytes learns of the refusal (one entry each).
        refused = {r.office_pk: r.record_id for r in sorted(records, key=lambda r: r.record_id)}
        session.rollback()
        for office_pk, record_id in sorted(refused.items()):
            accesslog.append(
                session,
                office_pk=office_pk,
                key_id=caller.key_id,
                action="file",
                record_id=record_id,
                outcome=str(status_for(error)),
            )
        session.commit()
        raise error
    headers = _file_headers(digest, public=allowed.access_tier is AccessTier.PUBLIC)
    if (blob.media_type or "").endswith(blobs.SALTED_PARAM):  # a certificate: drop the salt
        data, media_type = blobs.document(settings.blobs, blob)
        log_ok(session, caller, "file", allowed.office_pk, allowed.record_id)
        session.commit()
        return Response(data, media_type=media_type, headers=headers)
    path = blobs.open_path(settings.blobs, blob)
    log_ok(session, caller, "file", allowed.office_pk, allowed.record_id)
    session.commit()
    return FileResponse(
        path, media_type=blob.media_type or "application/octet-stream", headers=headers
    )


def _file_headers(digest: str, *, public: bool) -> dict[str, str]:
    """Published bytes are the offices' uploads, served from the service's own origin: a
    download, never a page the browser runs (an XML file with a script would run beside the
    verify pages), and a restricted file is kept out of shared and browser caches."""
    return {
        "Content-Disposition": f'attachment; filename="{digest}"',
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "sandbox",
        "Cache-Control": "public, max-age=3600" if public else "private, no-store",
    }
