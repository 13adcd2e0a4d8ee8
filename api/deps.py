"""Request dependencies as `Annotated` aliases: settings, session, caller, roles."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from api.errors import Forbidden, Unauthenticated
from api.security import lookup_prefix, matches
from api.settings import Settings
from notary.db.models import ApiKey, Office
from notary.db.session import READ_ONLY
from notary.db.types import KeyRole, OfficeStatus

_bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer nk_…`")


def get_settings(request: Request) -> Settings:
    """The app's settings."""
    return request.app.state.settings


def get_session(request: Request) -> Iterator[Session]:
    """One database session per request."""
    with request.app.state.db.session() as session:
        yield session


SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[Session, Depends(get_session)]


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is asking: an API key (role, office) or nobody (`key_id` None)."""

    key_id: int | None = None
    role: KeyRole | None = None
    office_pk: int | None = None

    @property
    def anonymous(self) -> bool:
        return self.key_id is None

    def of_office(self, office_pk: int) -> bool:
        """True for a publisher or auditor key of that office."""
        return self.office_pk is not None and self.office_pk == office_pk


def _caller(
    session: SessionDep,
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Caller:
    if credentials is None:
        return Caller()
    try:
        return _lookup(session, settings, credentials.credentials)
    finally:
        # End the auth transaction at once: on SQLite it holds the write lock, which must
        # not be held while the body is read or while another session (receipts) runs.
        session.rollback()


_KEY_QUERY = (
    select(
        ApiKey.id, ApiKey.role, ApiKey.office_pk, ApiKey.key_hash, ApiKey.revoked_at, Office.status
    )
    .outerjoin(Office, Office.id == ApiKey.office_pk)
    .where(ApiKey.prefix == bindparam("prefix"))
)
"""The key's row and its office's status in one read (it runs on every keyed request)."""


def _lookup(session: Session, settings: Settings, plain: str) -> Caller:
    session.connection(execution_options=READ_ONLY)  # a lookup: no write lock on SQLite
    row = None
    if 0 < len(plain) <= 200:
        row = session.execute(_KEY_QUERY, {"prefix": lookup_prefix(plain)}).first()
    if (
        row is None
        or row.revoked_at is not None
        or not matches(plain, row.key_hash, settings.key_secret)
    ):
        raise Unauthenticated("invalid or revoked API key")
    if row.status is OfficeStatus.SUSPENDED:
        raise Forbidden("the key's office is suspended")
    return Caller(key_id=row.id, role=row.role, office_pk=row.office_pk)


def _authenticated(caller: Annotated[Caller, Depends(_caller)]) -> Caller:
    if caller.anonymous:
        raise Unauthenticated("an API key is required")
    return caller


def _role(*roles: KeyRole):
    def check(caller: Annotated[Caller, Depends(_authenticated)]) -> Caller:
        if caller.role not in roles:
            names = " or ".join(r.value for r in roles)
            raise Forbidden(f"this needs a {names} key")
        return caller

    return check


MaybeCallerDep = Annotated[Caller, Depends(_caller)]
"""Anyone, with or without a key (public reads)."""
CallerDep = Annotated[Caller, Depends(_authenticated)]
AdminDep = Annotated[Caller, Depends(_role(KeyRole.ADMIN))]
PublisherDep = Annotated[Caller, Depends(_role(KeyRole.PUBLISHER))]
AuditorDep = Annotated[Caller, Depends(_role(KeyRole.AUDITOR))]
OfficeKeyDep = Annotated[Caller, Depends(_role(KeyRole.PUBLISHER, KeyRole.AUDITOR))]
