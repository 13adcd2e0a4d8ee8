"""People: office staff and administrators who sign in to the console with a password.

A person acts through an API key of their own, minted when the admin creates them and never
shown to anyone (they sign in with their password): the key's role and office are the
person's, the access log names it, and revoking it ends their sessions and sign-ins at once.
Passwords are hashed with argon2id (`argon2-cffi`, its default parameters).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.core.errors import Unauthenticated
from api.core.security import mint_key
from notary.db.models import ApiKey, Office, Person
from notary.db.types import KeyRole, OfficeStatus, utcnow
from notary.errors import Conflict, InvalidInput

_HASHER = PasswordHasher()
USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{2,63}$")
MIN_PASSWORD = 12
MAX_PASSWORD = 200
_DUMMY_HASH = _HASHER.hash("not a password of anyone")
"""Verified against when the username is unknown, so both answers take the same time."""


@dataclass(frozen=True, slots=True)
class PersonPublic:
    """What the admin page shows of a person (never the hash)."""

    id: int
    username: str
    display_name: str
    role: str
    office_id: str | None
    disabled: bool


def hash_password(password: str) -> str:
    """The argon2id hash of `password` (with its salt and parameters)."""
    return _HASHER.hash(password)


def check_new_password(password: str) -> None:
    """Refuse a password too short or too long to be kept."""
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise InvalidInput(f"a password has {MIN_PASSWORD} to {MAX_PASSWORD} characters")


def create_person(
    session: Session,
    secret: str,
    *,
    username: str,
    display_name: str,
    password: str,
    role: KeyRole,
    office: Office | None,
) -> Person:
    """A new person with a key of their own for `role` (admins belong to no office).

    Commits; a taken username is a `Conflict`.
    """
    username = username.strip().lower()
    if not USERNAME.match(username):
        raise InvalidInput("a username is 3 to 64 of a-z, 0-9, '.', '_' or '-'")
    display_name = display_name.strip()
    if not 0 < len(display_name) <= 200 or any(ord(c) < 32 for c in display_name):
        raise InvalidInput("a display name has 1 to 200 printable characters")
    check_new_password(password)
    if (role is KeyRole.ADMIN) != (office is None):
        raise InvalidInput("an admin belongs to no office; publishers and auditors to one")
    new = mint_key(secret)  # its plain form is dropped here: the person uses the password
    key = ApiKey(
        office_pk=office.id if office else None,
        role=role,
        label=f"person:{username}"[:100],
        prefix=new.prefix,
        key_hash=new.key_hash,
        created_at=utcnow(),
    )
    session.add(key)
    session.flush()
    person = Person(
        username=username,
        display_name=display_name,
        password_hash=hash_password(password),
        api_key_id=key.id,
        created_at=utcnow(),
    )
    session.add(person)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise Conflict(f"the username {username!r} is taken") from None
    return person


def authenticate(session: Session, username: str, password: str) -> Person:
    """The person these credentials name, if their account, key and office are all live.

    Every refusal is the same `Unauthenticated`, and an unknown name costs the same argon2
    work as a wrong password, so the answer tells nothing about which names exist.
    """
    refused = Unauthenticated("wrong username or password")
    if len(username) > 64 or len(password) > MAX_PASSWORD:
        raise refused
    row = session.execute(
        select(Person, ApiKey, Office)
        .join(ApiKey, ApiKey.id == Person.api_key_id)
        .outerjoin(Office, Office.id == ApiKey.office_pk)
        .where(Person.username == username.strip().lower())
    ).first()
    stored = row[0].password_hash if row else _DUMMY_HASH
    try:
        _HASHER.verify(stored, password)
    except (VerificationError, InvalidHashError):
        raise refused from None
    if row is None:
        raise refused
    person, key, office = row
    if person.disabled_at is not None or key.revoked_at is not None:
        raise refused
    if office is not None and office.status is OfficeStatus.SUSPENDED:
        raise refused
    if _HASHER.check_needs_rehash(person.password_hash):
        person.password_hash = hash_password(password)
        session.commit()
    return person


def list_people(session: Session) -> list[PersonPublic]:
    """Every person with their role and office."""
    rows = session.execute(
        select(Person, ApiKey, Office)
        .join(ApiKey, ApiKey.id == Person.api_key_id)
        .outerjoin(Office, Office.id == ApiKey.office_pk)
        .order_by(Person.username)
    ).all()
    return [
        PersonPublic(
            id=p.id,
            username=p.username,
            display_name=p.display_name,
            role=k.role.value,
            office_id=o.office_id if o else None,
            disabled=p.disabled_at is not None or k.revoked_at is not None,
        )
        for p, k, o in rows
    ]


def disable_person(session: Session, person_id: int) -> None:
    """Disable a person: their key is revoked, so their sessions end at once."""
    person = session.get(Person, person_id)
    if person is None:
        raise InvalidInput(f"no person {person_id}")
    now = utcnow()
    person.disabled_at = person.disabled_at or now
    key = session.get(ApiKey, person.api_key_id)
    if key is not None and key.revoked_at is None:
        key.revoked_at = now
    session.commit()
