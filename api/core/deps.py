"""Request dependencies as `Annotated` aliases: settings, session, caller, roles."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from api.core.db import Database
from api.core.errors import Forbidden, Unauthenticated
from api.core.security import hash_key, lookup_prefix, matches
from api.core.settings import Settings
from notary.db.models import ApiKey, Office
from notary.db.session import READ_ONLY
from notary.db.types import KeyRole, OfficeStatus

MAX_KEY_LENGTH = 200
_bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer nk_…`")


async def get_settings(request: Request) -> Settings:
    """The app's settings."""
    return request.app.state.settings


def get_session(request: Request) -> Iterator[Session]:
    """One database session per request."""
    with request.app.state.db.session() as session:
        yield session


SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[Session, Depends(get_session)]
IdemKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)]
"""The `Idempotency-Key` header of a POST (`api.services.idempotency.run_write`)."""


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


async def _caller(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Caller:
    if credentials is None:
        return Caller()
    state = request.app.state
    plain = credentials.credentials
    if not 0 < len(plain) <= MAX_KEY_LENGTH:
        raise Unauthenticated("invalid or revoked API key")
    cache = state.key_cache
    digest = hash_key(plain, state.settings.key_secret)
    if (known := cache.get(digest)) is not None:
        return known
    generation = cache.generation
    caller = await run_in_threadpool(_lookup_key, state.db, state.settings, plain)
    if caller.role is not KeyRole.ADMIN:  # governance writes re-check nothing: never cached
        cache.put(digest, caller, generation)
    return caller


def lookup_caller(db: Database, settings: Settings, plain: str) -> Caller:
    """The caller a presented API key stands for (the console's key sign-in); raises
    `Unauthenticated` or `Forbidden` as a request with that key would be refused."""
    if not 0 < len(plain) <= MAX_KEY_LENGTH:
        raise Unauthenticated("invalid or revoked API key")
    return _lookup_key(db, settings, plain)


def _lookup_key(db: Database, settings: Settings, plain: str) -> Caller:
    # A session of its own, ended at once: on SQLite a transaction left open would hold a
    # snapshot while the body is read, and the route's own session may need the write lock.
    with db.session() as session:
        return _lookup(session, settings, plain)


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


async def _authenticated(caller: Annotated[Caller, Depends(_caller)]) -> Caller:
    if caller.anonymous:
        raise Unauthenticated("an API key is required")
    return caller


def _role(*roles: KeyRole):
    async def check(caller: Annotated[Caller, Depends(_authenticated)]) -> Caller:
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
