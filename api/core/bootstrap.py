"""Start-up data: the bootstrap admin key (the demo key in development)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.core.security import key_from_plain
from api.core.settings import Settings
from notary.db.models import ApiKey
from notary.db.types import KeyRole


def ensure_admin_key(session: Session, settings: Settings) -> None:
    """Store `settings.admin_key` as an admin key unless that key is already stored."""
    if not settings.admin_key:
        return
    key = key_from_plain(settings.admin_key, settings.key_secret)
    existing = session.scalars(select(ApiKey).where(ApiKey.prefix == key.prefix)).first()
    if existing is not None:
        return
    session.add(
        ApiKey(
            role=KeyRole.ADMIN,
            office_pk=None,
            label="bootstrap",
            prefix=key.prefix,
            key_hash=key.key_hash,
        )
    )
