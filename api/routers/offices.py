"""Offices and their API keys (governance admin only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, status
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from api.core.deps import AdminDep, SessionDep, SettingsDep
from api.core.registry import registry_client
from api.core.security import mint_key
from api.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyPublic,
    OfficeCreate,
    OfficePublic,
    SignerPublic,
)
from notary.db.models import ApiKey, Office
from notary.db.types import KeyRole, OfficeStatus, hex32, utcnow
from notary.errors import Conflict, InvalidInput, NotFound

router = APIRouter(prefix="/offices", tags=["offices"])


def _public(office: Office) -> OfficePublic:
    return OfficePublic(
        id=office.office_id,
        number=office.number,
        name=office.name,
        suspended=office.status is OfficeStatus.SUSPENDED,
        created_at=office.created_at,
    )


def _key_public(key: ApiKey, office_id: str | None) -> dict:
    return dict(
        id=str(key.id),
        office_id=office_id,
        role=key.role.value,
        label=key.label or "",
        prefix=key.prefix,
        created_at=key.created_at,
        revoked_at=key.revoked_at,
    )


def _office(session: SessionDep, office_id: str) -> Office:
    try:
        oid = hex32(office_id)
    except InvalidInput:
        raise NotFound(f"no office {office_id[:80]!r}") from None
    office = session.scalars(select(Office).where(Office.office_id == oid)).first()
    if office is None:
        raise NotFound(f"no office {oid}")
    return office


@router.post("", status_code=status.HTTP_201_CREATED, response_model=OfficePublic)
def create_office(body: OfficeCreate, session: SessionDep, caller: AdminDep) -> OfficePublic:
    """Admit an office (its id and number as registered on chain by governance)."""
    office = Office(office_id=body.office_id, number=body.number, name=body.name)
    session.add(office)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise Conflict("an office with this id or number exists") from None
    return _public(office)


@router.get("", response_model=list[OfficePublic])
def list_offices(session: SessionDep, caller: AdminDep) -> list[OfficePublic]:
    """Every office."""
    return [_public(o) for o in session.scalars(select(Office).order_by(Office.number))]


@router.get("/{office_id}", response_model=OfficePublic)
def get_office(office_id: str, session: SessionDep, caller: AdminDep) -> OfficePublic:
    """One office."""
    return _public(_office(session, office_id))


@router.get("/{office_id}/signers", response_model=list[SignerPublic])
def list_signers(
    office_id: str, session: SessionDep, settings: SettingsDep, caller: AdminDep
) -> list[SignerPublic]:
    """The office's signer keys as the registry knows them, with each authority period.

    Read from the chain, the only authority: granting and revoking sign with the governance
    key, which the API never holds (`notary office signer-add|signer-revoke`).
    """
    office = _office(session, office_id)
    oid, number = bytes.fromhex(office.office_id), office.number
    session.rollback()  # no database transaction held across chain reads
    client = registry_client(settings)
    granted = dict.fromkeys(
        event.signer
        for event in client.iter_logs(event_names=["SignerGranted"])
        if event.office_id == oid
    )
    return [
        SignerPublic(
            address=address,
            from_block=period.from_block,
            until_block=None if period.is_open else period.until_block,
            active=period.is_open,
        )
        for address in granted
        for period in client.signer_periods(address)
        if period.office_number == number
    ]


@router.post("/{office_id}/suspend", response_model=OfficePublic)
def suspend_office(
    office_id: str, request: Request, session: SessionDep, caller: AdminDep
) -> OfficePublic:
    """Suspend an office: its keys stop working at once."""
    office = _office(session, office_id)
    office.status = OfficeStatus.SUSPENDED
    session.commit()
    request.app.state.key_cache.clear()
    return _public(office)


@router.post("/{office_id}/resume", response_model=OfficePublic)
def resume_office(office_id: str, session: SessionDep, caller: AdminDep) -> OfficePublic:
    """Lift a suspension."""
    office = _office(session, office_id)
    office.status = OfficeStatus.ACTIVE
    session.commit()
    return _public(office)


@router.post("/{office_id}/keys", status_code=status.HTTP_201_CREATED, response_model=ApiKeyCreated)
def create_key(
    office_id: str,
    body: ApiKeyCreate,
    session: SessionDep,
    settings: SettingsDep,
    caller: AdminDep,
) -> ApiKeyCreated:
    """A new publisher or auditor key for the office; the plain key is in this answer only."""
    office = _office(session, office_id)
    new = mint_key(settings.key_secret)
    key = ApiKey(
        office_pk=office.id,
        role=KeyRole(body.role),
        label=body.label or None,
        prefix=new.prefix,
        key_hash=new.key_hash,
        created_at=utcnow(),
    )
    session.add(key)
    session.commit()
    return ApiKeyCreated(**_key_public(key, office.office_id), key=new.plain)


@router.get("/{office_id}/keys", response_model=list[ApiKeyPublic])
def list_keys(office_id: str, session: SessionDep, caller: AdminDep) -> list[ApiKeyPublic]:
    """The office's keys (never the keys themselves)."""
    office = _office(session, office_id)
    keys = session.scalars(select(ApiKey).where(ApiKey.office_pk == office.id).order_by(ApiKey.id))
    return [ApiKeyPublic(**_key_public(k, office.office_id)) for k in keys]


@router.post("/{office_id}/keys/{key_id}/revoke", response_model=ApiKeyPublic)
def revoke_key(
    office_id: str,
    key_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
    request: Request,
    session: SessionDep,
    caller: AdminDep,
) -> ApiKeyPublic:
    """Revoke a key: it stops working at once; revoking twice is harmless."""
    office = _office(session, office_id)
    key = session.get(ApiKey, key_id)
    if key is None or key.office_pk != office.id:
        raise NotFound(f"no key {key_id} for this office")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        session.commit()
        request.app.state.key_cache.clear()
    return ApiKeyPublic(**_key_public(key, office.office_id))
