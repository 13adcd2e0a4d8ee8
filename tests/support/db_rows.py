"""Rows for data-layer tests: offices, records and revisions with derived hashes."""

from __future__ import annotations

import hashlib
from datetime import date

import rfc8785
from sqlalchemy.orm import Session

from notary.db import repo
from notary.db.models import (
    Office,
    Revision,
)
from notary.db.types import (
    AccessTier,
    RecordKind,
)


def h(label: str) -> str:
    """A deterministic 32-byte hex value for test data."""
    return hashlib.sha256(label.encode()).hexdigest()


def metadata(title: str, **extra: str) -> tuple[str, str]:
    """Canonical metadata JSON text and its SHA-256, as the API would pass them."""
    text_ = rfc8785.dumps({"title": title, **extra}).decode()
    return text_, hashlib.sha256(text_.encode()).hexdigest()


def record_id_for(office: Office, label: str) -> str:
    return f"{office.number:08x}" + h(label)[8:]


def make_office(session: Session, number: int = 1, name: str = "示范市数据局") -> Office:
    return repo.create_office(session, office_id=h(f"office-{number}"), number=number, name=name)


def publish(
    session: Session,
    office: Office,
    label: str,
    *,
    title: str | None = None,
    category: str | None = "budget",
    published_on: date | None = date(2025, 3, 1),
    kind: RecordKind = RecordKind.DISCLOSURE,
    tier: AccessTier = AccessTier.PUBLIC,
    leaf: str | None = None,
) -> Revision:
    meta_json, meta_hash = metadata(title or label)
    return repo.create_record(
        session,
        record_id=record_id_for(office, label),
        office=office,
        kind=kind,
        access_tier=tier,
        title=title or label,
        category=category,
        published_on=published_on,
        content_hash=h(f"content-{label}"),
        metadata_json=meta_json,
        metadata_hash=meta_hash,
        leaf=leaf,
    )


def revise(session: Session, record_id: str, version: int, label: str, **kw: object) -> Revision:
    meta_json, meta_hash = metadata(label)
    return repo.add_revision(
        session,
        record_id=record_id,
        version=version,
        title=label,
        content_hash=h(f"content-{label}"),
        metadata_json=meta_json,
        metadata_hash=meta_hash,
        **kw,  # type: ignore[arg-type]
    )
