"""Stamped PDFs: an anchored PDF revision with a verify QR code on every page.

The stamp is an incremental update, so the original bytes (what the chain's content hash
is of) stay a prefix of the stamped file and the verifier recovers them.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlalchemy import select

from api.core.deps import Caller, MaybeCallerDep, SessionDep, SettingsDep
from api.core.errors import Forbidden, Unauthenticated, UnsupportedMedia
from api.routers._access import log_ok, logged
from api.services.links import VerifyTarget, verify_target
from api.services.records import load_record
from notary.db.models import Record, Revision
from notary.db.types import AccessTier, AnchorState, RecordKind
from notary.errors import Conflict, NotFound, Unavailable
from notary.publishing import blobs
from notary.storage.atomic import atomic_write_bytes

router = APIRouter(prefix="/records", tags=["records"])

PDF = "application/pdf"
CACHE_DIR = "stamped"
"""Folder under the data directory holding stamped copies, one file per revision and target."""


def _check_access(caller: Caller, record: Record) -> None:
    """Public: anyone; restricted: keys of its office; internal: nobody (nothing published)."""
    if record.access_tier is AccessTier.INTERNAL:
        raise Forbidden("internal records publish no file")
    if record.access_tier is AccessTier.RESTRICTED and not caller.of_office(record.office_pk):
        if caller.anonymous:
            raise Unauthenticated("this record is restricted: a key of its office is required")
        raise Forbidden("this record is restricted to its office")


def _cache_path(root: Path, rev: Revision, target: VerifyTarget) -> Path:
    key = f"{rev.leaf}|{target.scheme}://{target.host}|{target.chain_id}|{target.registry}"
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    return root / CACHE_DIR / f"{rev.id}-{digest}.pdf"


@router.get(
    "/{record_id}/stamped",
    response_class=Response,
    responses={200: {"content": {PDF: {}}, "description": "The stamped PDF"}},
)
def get_stamped(
    record_id: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    caller: MaybeCallerDep,
    version: Annotated[
        int | None, Query(ge=1, le=2**31 - 1, description="default: current")
    ] = None,
) -> Response:
    """An anchored PDF revision stamped with a QR code on every page.

    409 while the revision waits for anchoring, 415 for a file that is not a PDF, 503 when
    the node has no chain config to name in the codes. A certificate's codes carry its salt.
    """
    with logged(session, caller, "stamped", record_id):
        record = load_record(session, record_id)
        if record.access_tier is AccessTier.INTERNAL and not caller.of_office(record.office_pk):
            raise NotFound(f"no record {record.record_id}")
        _check_access(caller, record)
        wanted = version or record.head_version
        rev = session.scalars(
            select(Revision).where(
                Revision.record_id == record.record_id, Revision.version == wanted
            )
        ).first()
        if rev is None:
            raise NotFound(f"record {record.record_id} has no version {wanted}")
        blob = blobs.stored(session, rev.content_hash)
        media_type = (blob.media_type or "").removesuffix(blobs.SALTED_PARAM)
        if media_type != PDF:
            raise UnsupportedMedia(f"only PDF revisions are stamped; this one is {media_type}")
        if rev.anchor_state is not AnchorState.ANCHORED or not rev.leaf:
            raise Conflict(
                f"version {rev.version} is not anchored yet ({rev.anchor_state.value}); "
                "the stamp needs its leaf: retry once the receipt says anchored"
            )
        target = verify_target(request)
        if target is None:
            raise Unavailable("this node has no chain config (chain.json), so no verify URLs")
        cached = _cache_path(settings.data_dir, rev, target)
        if cached.is_file():
            stamped = cached.read_bytes()
        else:
            stored = blobs.read(settings.blobs, blob)
            salted = (blob.media_type or "").endswith(blobs.SALTED_PARAM)
            original, salt = (stored[32:], stored[:32]) if salted else (stored, None)
            if record.kind is not RecordKind.CERTIFICATE:
                salt = None
            stamped = target.stamp(
                original,
                record_id=rev.record_id,
                version=rev.version,
                leaf=rev.leaf or "",
                salt=salt,
            )
            # fsynced before it takes its name: a power cut never leaves a torn copy to serve
            # owner-only like every file in the data dir (a restricted record's copy)
            atomic_write_bytes(cached, stamped, mode=0o600)
        log_ok(session, caller, "stamped", record.office_pk, record.record_id)
        session.commit()
    name = f"{record.record_id[:16]}-v{rev.version}-stamped.pdf"
    return Response(
        stamped, media_type=PDF, headers={"Content-Disposition": f'inline; filename="{name}"'}
    )
