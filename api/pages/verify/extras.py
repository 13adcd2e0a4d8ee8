"""What the office database adds to a verdict the chain decided (title, reason, tier, the
authentic file), and what of it an anonymous page may show (`api.services.tier_view`).

What the chain cannot say comes from an optional enricher (`app.state.verify_enricher`)
backed by the office database; without it those parts are simply left out.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from fastapi import Request

from api.services.links import verify_target
from api.services.tier_view import RecordFacts, RecordView, record_view
from notary.db.types import AccessTier
from notary.errors import NotFound
from verifier.result import Verdict, VerificationResult

SHOW_FILE_VERDICTS = frozenset(
    {Verdict.AUTHENTIC_CURRENT, Verdict.SUPERSEDED, Verdict.REVOKED, Verdict.EXPIRED}
)
"""The verdicts beside which the authentic file (of a public record) may be shown."""


@dataclass(frozen=True, slots=True)
class RecordExtras:
    """What the office database knows that the chain does not (all optional).

    `tier` None means the database does not know the record. What of it a page may show is
    decided by `api.services.tier_view.record_view`, never here.
    """

    title: str | None = None
    revocation_reason: str | None = None
    tier: str | None = None
    replacement_tier: str | None = None
    """The tier of the record the chain says replaced this one (None: unknown)."""
    metadata_json: bytes | None = None
    """The scanned revision's stored metadata document, exactly as hashed: the page shows it
    only once `verifier.metadata.check_metadata` found its hash on chain."""
    supersede_reason: str | None = None
    replacement_title: str | None = None
    replacement_link: str | None = None
    """A verify link for the replacing record's current anchored version (its own leaf)."""
    file_bytes: bytes | None = None
    file_path: Path | None = None
    """The authentic file on disk, read only when a page image is asked for."""
    download_url: str | None = None

    @property
    def public(self) -> bool:
        """Whether the record is of the public tier (its file may be shown to anyone)."""
        return self.tier == AccessTier.PUBLIC.value

    def file_data(self) -> bytes | None:
        """The authentic file's bytes, if known."""
        if self.file_bytes is not None:
            return self.file_bytes
        try:
            return self.file_path.read_bytes() if self.file_path else None
        except OSError:  # a missing file only hides the picture
            return None

    def is_pdf(self) -> bool:
        """Whether the authentic file is a PDF (reads 5 bytes, not the file)."""
        if self.file_bytes is not None:
            return self.file_bytes[:5] == b"%PDF-"
        if self.file_path is None:
            return False
        try:
            with self.file_path.open("rb") as f:
                return f.read(5) == b"%PDF-"
        except OSError:
            return False


Enricher = Callable[[VerificationResult], RecordExtras | None]
"""Extras for a verdict; None when no database of this node speaks for its registry."""


@functools.cache
def _extras_query() -> Any:
    """The revision's metadata (for its title), the tier, the revocation reason and the
    revision's stored file, by record and version: one read with outer joins, built once (it
    runs on every verify page)."""
    from sqlalchemy import and_, bindparam, select

    from notary.db.models import Blob, Record, Replacement, Revision, Revocation

    return (
        select(
            Revision.metadata_json,
            Record.access_tier,
            Revocation.reason,
            Blob.sha256,
            Replacement.reason,
        )
        .outerjoin(Revocation, Revocation.record_id == Record.record_id)
        .outerjoin(Replacement, Replacement.record_id == Record.record_id)
        .outerjoin(
            Revision,
            and_(Revision.record_id == Record.record_id, Revision.version == bindparam("version")),
        )
        .outerjoin(Blob, Blob.sha256 == Revision.content_hash)
        .where(Record.record_id == bindparam("record_id"))
    )


def _title(metadata_json: str | None) -> str | None:
    try:
        title = json.loads(metadata_json or "null")["title"]
    except (ValueError, TypeError, KeyError):
        return None
    return title if isinstance(title, str) else None


def _tier_name(tier: Any) -> str | None:
    return None if tier is None else str(getattr(tier, "value", tier))


@dataclass(frozen=True, slots=True)
class _Replacement:
    tier: str | None = None
    title: str | None = None
    version: int | None = None
    leaf: str | None = None


def _replacement(conn: Any, record_id: str | None) -> _Replacement:
    """What the database holds of a replacing record: its tier (None: it does not know it),
    its title and its current anchored version's leaf (for a verify link)."""
    if not record_id:
        return _Replacement()
    from sqlalchemy import and_, select

    from notary.db.models import Record, Revision

    rid = record_id.removeprefix("0x").lower()
    row = conn.execute(
        select(Record.access_tier, Record.title, Revision.version, Revision.leaf)
        .outerjoin(
            Revision,
            and_(Revision.record_id == Record.record_id, Revision.version == Record.head_version),
        )
        .where(Record.record_id == rid)
    ).first()
    if row is None:
        return _Replacement()
    tier, title, version, leaf = row
    return _Replacement(_tier_name(tier), title, version, leaf)


def _replacement_link(result: VerificationResult, rep: _Replacement) -> str | None:
    """`/v/…` for the replacing record's current version, on this same registry."""
    if not (rep.leaf and rep.version and result.replaced_by and result.registry):
        return None
    try:
        from urllib.parse import quote

        from notary.formats.qr_payload import QrPayload, encode

        payload = QrPayload.for_page(
            chain_id=int(result.chain_id or 0),
            registry=result.registry,
            record_id=bytes.fromhex(result.replaced_by.removeprefix("0x")),
            version=rep.version,
            leaf=bytes.fromhex(rep.leaf.removeprefix("0x")),
        )
        return "/v/" + quote(encode(payload), safe="")
    except Exception:  # a missing link is better than a broken page
        return None


def database_extras(request: Request, result: VerificationResult) -> RecordExtras | None:
    """Title, revocation reason, tier and (public records only) the authentic file, from the
    office database. Only ever decorates a verdict the chain already decided, and only for
    this node's own registry (None otherwise): another trusted registry may hold the same
    record id. A record of this registry the database does not know gets `RecordExtras()`
    (tier None: the page shows only what the chain proves). The title is the scanned
    version's own (a later, unanchored revision may have renamed the record)."""
    db = getattr(request.app.state, "db", None)
    settings = getattr(request.app.state, "settings", None)
    if db is None or db.engine is None or result.record_id is None or result.version is None:
        return None
    own = verify_target(request)
    if (
        own is None
        or result.chain_id != own.chain_id
        or (result.registry or "").lower() != own.registry.lower()
    ):
        return None
    from notary.db.models import Blob
    from notary.db.session import READ_ONLY
    from notary.publishing import blobs

    params = {"record_id": result.record_id.removeprefix("0x"), "version": result.version}
    with db.engine.connect() as conn:  # a read: no SQLite write lock
        conn = conn.execution_options(**READ_ONLY)
        row = conn.execute(_extras_query(), params).first()
        rep = _replacement(conn, result.replaced_by) if row is not None else _Replacement()
    if row is None:
        return RecordExtras()
    metadata_json, tier, reason, stored_sha, supersede_reason = row
    tier_name = _tier_name(tier)
    sha = (result.content_hash or "").removeprefix("0x")
    path = None
    if tier_name == "public" and sha and stored_sha == sha and result.verdict in SHOW_FILE_VERDICTS:
        try:
            path = blobs.open_path(settings.blobs, Blob(sha256=sha))
        except NotFound:  # a missing file only hides the picture
            path = None
    return RecordExtras(
        title=_title(metadata_json),
        revocation_reason=reason,
        tier=tier_name,
        replacement_tier=rep.tier,
        metadata_json=metadata_json.encode() if metadata_json is not None else None,
        supersede_reason=supersede_reason or None,
        replacement_title=rep.title,
        replacement_link=_replacement_link(result, rep),
        file_path=path,
        download_url=f"/api/v1/files/{sha}" if path is not None else None,
    )


def extras_for(request: Request, result: VerificationResult) -> RecordExtras | None:
    """The database's extras for a verdict (None: nothing speaks for its registry)."""
    enricher: Enricher | None = getattr(request.app.state, "verify_enricher", None)
    if result.record_id is None:
        return None
    try:
        if enricher is None:
            return database_extras(request, result)
        return enricher(result)
    except Exception:  # the database is optional for a verdict; without it, chain facts only
        return RecordExtras()


def anonymous_view(result: VerificationResult, extras: RecordExtras | None) -> RecordView | None:
    """What an anonymous page may show of the record behind a verdict, by its tier
    (`record_view`); None when no database of this node speaks for the registry (the page
    then shows the chain's facts as they are)."""
    if extras is None:
        return None
    facts = RecordFacts(
        tier=AccessTier(extras.tier) if extras.tier else None,
        title=extras.title,
        revocation_reason=extras.revocation_reason,
        replaced_by=result.replaced_by,
        replacement_tier=AccessTier(extras.replacement_tier) if extras.replacement_tier else None,
        supersede_reason=extras.supersede_reason,
        replacement_title=extras.replacement_title,
    )
    return record_view(facts)


def _withheld_texts(result: VerificationResult, view: RecordView) -> list[str]:
    """The chain facts a view withholds, as they appear in the steps' details."""
    texts: list[str] = []
    if not view.visible:
        if result.office_name:
            texts.append(result.office_name)
        if result.record_id:
            texts.append(result.record_id.removeprefix("0x")[:12])
        # The signer names the office as surely as its name does (the registry's grants
        # are public): withheld with it (docs/privacy.md, "Access tiers").
        texts += sorted({r.signer for r in result.timeline} | {result.signer or ""} - {""})
    if view.replacement_withheld and result.replaced_by:
        texts.append(result.replaced_by.removeprefix("0x"))
    return texts


def shown_result(result: VerificationResult, view: RecordView | None) -> VerificationResult:
    """The verdict with the chain facts the view withholds taken out (the office's name,
    the record id, the replacing record's id), in its fields and in its steps' details."""
    if view is None:
        return result
    texts = _withheld_texts(result, view)

    def redact(detail: str) -> str:
        for text in texts:
            detail = detail.replace(text, "…")
        return detail

    steps = tuple(replace(s, detail=redact(s.detail)) for s in result.steps)
    return replace(
        result,
        office_name=result.office_name if view.visible else None,
        record_id=result.record_id if view.visible else None,
        office_id=result.office_id if view.visible else None,
        signer=result.signer if view.visible else None,
        timeline=result.timeline
        if view.visible
        else tuple(replace(r, signer="") for r in result.timeline),
        replaced_by=view.replaced_by,
        metadata=result.metadata if view.visible else None,
        steps=steps,
    )


def shown_extras(extras: RecordExtras | None, view: RecordView | None) -> RecordExtras:
    """The extras the view lets a page show (title, reason, file)."""
    if extras is None or view is None:
        return RecordExtras()
    keep_file = view.file
    return replace(
        extras,
        title=view.title,
        revocation_reason=view.revocation_reason,
        metadata_json=extras.metadata_json if view.visible else None,
        supersede_reason=view.supersede_reason,
        replacement_title=view.replacement_title,
        replacement_link=extras.replacement_link if view.replaced_by else None,
        file_bytes=extras.file_bytes if keep_file else None,
        file_path=extras.file_path if keep_file else None,
        download_url=extras.download_url if keep_file else None,
    )
