"""Alerts and the chain-vs-database audit for auditors.

docs/design.md, "Privacy, access and audit".

`GET /alerts`: stored alerts, an auditor's office only (admin: all). `POST /alerts/{id}/ack`:
an auditor acknowledges one of its office's alerts with a note (the admin key: any alert,
those about no office too); a publisher key cannot, so an office cannot silence the alerts
about itself. `GET /audit`: replays the
registry named by the node's chain config and diffs it with the database, for the auditor's
office. The replay is a full one per call; large registries should use `notary audit`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from api.core.deps import AuditorDep, CallerDep, SessionDep, SettingsDep
from api.core.errors import Forbidden
from api.core.registry import registry_client
from api.schemas import NoNul
from notary.audit import list_alerts, replay, run_diff
from notary.audit.alerts import acknowledge_alert, alert_json
from notary.db.models import Office
from notary.db.types import KeyRole
from notary.errors import NotFound
from notary.storage.blobstore import BlobStore

router = APIRouter(tags=["audit"])


@router.get("/alerts", response_model=list[dict[str, Any]])
def get_alerts(
    session: SessionDep,
    caller: CallerDep,
    rule: Annotated[str | None, Query(max_length=100), NoNul] = None,
    include_acknowledged: bool = True,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[dict[str, Any]]:
    """Alerts, newest first: an auditor's own office, or every office for the admin key."""
    if caller.role is KeyRole.ADMIN:
        office_pk = None
    elif caller.role is KeyRole.AUDITOR:
        office_pk = caller.office_pk
    else:
        raise Forbidden("this needs an auditor or admin key")
    rows = list_alerts(
        session,
        office_pk=office_pk,
        rule=rule,
        include_acknowledged=include_acknowledged,
        limit=limit,
    )
    out = [alert_json(a) for a in rows]
    session.rollback()
    return out


class AckCreate(BaseModel):
    """An acknowledgement: why the alert needs no further action."""

    note: Annotated[str, Field(min_length=1, max_length=2000), NoNul]


@router.post("/alerts/{alert_id}/ack", response_model=dict[str, Any])
def ack_alert(
    session: SessionDep,
    caller: CallerDep,
    body: AckCreate,
    alert_id: Annotated[int, Path(ge=1, le=2**62)],
) -> dict[str, Any]:
    """Acknowledge an alert with a note: an auditor its own office's, the admin any."""
    if caller.role is KeyRole.ADMIN:
        office_pk = None
    elif caller.role is KeyRole.AUDITOR and caller.office_pk is not None:
        office_pk = caller.office_pk
    else:
        raise Forbidden("this needs an auditor or admin key")
    alert = acknowledge_alert(
        session, alert_id, by=f"key:{caller.key_id}", note=body.note, office_pk=office_pk
    )
    out = alert_json(alert)
    session.commit()
    return out


@router.get("/audit", response_model=dict[str, Any])
def run_audit(session: SessionDep, settings: SettingsDep, caller: AuditorDep) -> dict[str, Any]:
    """Replay the chain and list where it disagrees with the database, for this office."""
    office = session.get(Office, caller.office_pk)
    if office is None:
        raise NotFound("the key's office no longer exists")
    client = registry_client(settings)
    state, summary = replay(client)
    found = run_diff(session, state, BlobStore(settings.blobs))
    # Only what is attributed to this office (blob-store findings carry no office).
    mine = [d for d in found if d.office_number == office.number]
    session.rollback()
    return {
        "office_id": office.office_id,
        "to_block": summary.to_block,
        "ok": not mine,
        "discrepancies": [d.to_json() for d in mine],
    }
