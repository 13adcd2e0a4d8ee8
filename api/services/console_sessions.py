"""Console sessions: a random token in an `HttpOnly` cookie, its SHA-256 in `console_sessions`.

A session stands for one API key (a person's own, or an office key signed in with
directly); every page resolves it again, in one read, so a session ends at sign-out, at its
expiry, and the moment its key is revoked, its person disabled or its office suspended.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.orm import Session

from api.core.deps import Caller
from notary.db.models import ApiKey, ConsoleSession, Office, Person
from notary.db.types import KeyRole, OfficeStatus, utcnow

TOKEN_BYTES = 32


@dataclass(frozen=True, slots=True)
class SignedIn:
    """Who a live session is: the caller the services see, and what the pages show."""

    caller: Caller
    session_id: int
    token_hash: str
    name: str
    office_id: str | None
    office_name: str | None

    @property
    def role(self) -> KeyRole:
        """The session's role (its key's)."""
        assert self.caller.role is not None
        return self.caller.role


def token_hash(token: str) -> str:
    """The stored form of a session token."""
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(session: Session, *, api_key_id: int, person_id: int | None, minutes: int) -> str:
    """A new session for the key (and person); returns the token for the cookie. Commits."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    now = utcnow()
    session.add(
        ConsoleSession(
            token_hash=token_hash(token),
            api_key_id=api_key_id,
            person_id=person_id,
            created_at=now,
            expires_at=now + timedelta(minutes=minutes),
        )
    )
    # Expired rows of anyone go with each sign-in: the table holds live sessions only.
    session.execute(delete(ConsoleSession).where(ConsoleSession.expires_at < now))
    session.commit()
    return token


_RESOLVE = (
    select(
        ConsoleSession.id,
        ConsoleSession.expires_at,
        ConsoleSession.revoked_at,
        ApiKey.id.label("key_id"),
        ApiKey.role,
        ApiKey.office_pk,
        ApiKey.label,
        ApiKey.revoked_at.label("key_revoked_at"),
        Office.status,
        Office.office_id,
        Office.name.label("office_name"),
        Person.display_name,
        Person.disabled_at,
    )
    .join(ApiKey, ApiKey.id == ConsoleSession.api_key_id)
    .outerjoin(Office, Office.id == ApiKey.office_pk)
    .outerjoin(Person, Person.id == ConsoleSession.person_id)
    .where(ConsoleSession.token_hash == bindparam("token_hash"))
)
"""The session, its key, office and person in one read (it runs on every console page)."""


def resolve(session: Session, token: str | None) -> SignedIn | None:
    """The live session the cookie's token names, or None (no, unknown or dead session)."""
    if not token or len(token) > 100:
        return None
    digest = token_hash(token)
    row = session.execute(_RESOLVE, {"token_hash": digest}).first()
    if (
        row is None
        or row.revoked_at is not None
        or row.expires_at <= utcnow()
        or row.key_revoked_at is not None
        or row.disabled_at is not None
        or row.status is OfficeStatus.SUSPENDED
    ):
        return None
    return SignedIn(
        caller=Caller(key_id=row.key_id, role=row.role, office_pk=row.office_pk),
        session_id=row.id,
        token_hash=digest,
        name=row.display_name or row.label or f"{row.role.value} key {row.key_id}",
        office_id=row.office_id,
        office_name=row.office_name,
    )


def end_session(session: Session, token: str | None) -> None:
    """Revoke the session the token names (sign-out); unknown tokens change nothing."""
    if token and len(token) <= 100:
        session.execute(
            update(ConsoleSession)
            .where(ConsoleSession.token_hash == token_hash(token))
            .where(ConsoleSession.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )
        session.commit()
