"""Stored alerts: add once per fingerprint, list, acknowledge, count the open ones, notify.

The functions other parts call (the API, the CLI, the console pages), stable:

- `list_alerts(session, office_pk=, rule=, include_acknowledged=, limit=)` → rows, newest first;
- `acknowledge_alert(session, alert_id, by=, note=, office_pk=)` → the row (`NotFound`,
  `InvalidInput`, `Conflict` when acknowledged already);
- `alert_json(alert)` → the JSON every door shows;
- `open_alert_counts(session)` → `{rule: open alerts}` (for `/metrics`).

An alert is one row per fingerprint (SHA-256 of rule and what it is about). Raised again,
the row is not duplicated: its `last_seen_at` moves on. An acknowledged alert stays
acknowledged; `alert_json` shows `seen_after_ack` when the same fingerprint was raised
after the acknowledgement, so a recurrence is visible without re-opening (or re-sending)
it. The webhook gets each alert once: rows with no `notified_at` are POSTed by
`notify_pending` until the webhook takes them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any

import httpx
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from notary.db.models import Alert, Office
from notary.db.types import Severity, utcnow
from notary.errors import Conflict, InvalidInput, NotFound

MAX_NOTE = 2000
"""Characters an acknowledgement note may hold."""
WEBHOOK_BATCH = 100
"""Alerts per webhook POST."""


def fingerprint(rule: str, key: str) -> str:
    """SHA-256 of rule and key: the same anomaly found twice is one alert."""
    return hashlib.sha256(f"{rule}|{key}".encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class AlertCandidate:
    """An alert before it is stored: `key` identifies what it is about (for the fingerprint)."""

    rule: str
    severity: Severity
    message: str
    key: str
    office_number: int | None = None
    record_id: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def fingerprint(self) -> str:
        """SHA-256 of rule and key (`fingerprint`)."""
        return fingerprint(self.rule, self.key)


def add_alert(
    session: Session,
    *,
    rule: str,
    key: str,
    message: str,
    severity: Severity = Severity.CRITICAL,
    office_pk: int | None = None,
    record_id: str | None = None,
    details: dict[str, Any] | None = None,
) -> Alert | None:
    """Store one alert unless its fingerprint is stored already (then only `last_seen_at`
    moves on); returns the new row, or None. Safe against a concurrent writer of the same
    fingerprint (a savepoint catches the unique violation)."""
    fp = fingerprint(rule, key)
    now = utcnow()
    seen = session.execute(
        update(Alert).where(Alert.fingerprint == fp).values(last_seen_at=now)
    ).rowcount
    if seen:
        return None
    alert = Alert(
        rule=rule,
        severity=severity,
        office_pk=office_pk,
        record_id=record_id.removeprefix("0x") if record_id else None,
        details={"message": message, **(details or {})},
        fingerprint=fp,
        created_at=now,
        last_seen_at=now,
    )
    try:
        with session.begin_nested():
            session.add(alert)
            session.flush()
    except IntegrityError:
        return None  # another process stored it a moment ago
    return alert


def store_alerts(session: Session, candidates: Sequence[AlertCandidate]) -> list[Alert]:
    """Store the candidates (once per fingerprint); returns the rows new this time. Those
    stored before only get `last_seen_at` moved on (one query per 500)."""
    offices = {number: pk for pk, number in session.execute(select(Office.id, Office.number))}
    unique = {c.fingerprint: c for c in candidates}
    fps = list(unique)
    now = utcnow()
    known: set[str] = set()
    for i in range(0, len(fps), 500):
        chunk = fps[i : i + 500]
        known |= set(session.scalars(select(Alert.fingerprint).where(Alert.fingerprint.in_(chunk))))
        session.execute(update(Alert).where(Alert.fingerprint.in_(chunk)).values(last_seen_at=now))
    new = []
    for fp, c in unique.items():
        if fp in known:
            continue
        alert = add_alert(
            session,
            rule=c.rule,
            key=c.key,
            message=c.message,
            severity=c.severity,
            office_pk=offices.get(c.office_number) if c.office_number is not None else None,
            record_id=c.record_id,
            details=c.details,
        )
        if alert is not None:
            new.append(alert)
    session.flush()
    return new


def list_alerts(
    session: Session,
    *,
    office_pk: int | None = None,
    rule: str | None = None,
    include_acknowledged: bool = True,
    limit: int = 1000,
) -> list[Alert]:
    """Stored alerts, newest first (for `GET /api/v1/alerts` and `notary audit alerts`)."""
    query = select(Alert).order_by(Alert.created_at.desc(), Alert.id.desc()).limit(limit)
    if office_pk is not None:
        query = query.where(Alert.office_pk == office_pk)
    if rule is not None:
        query = query.where(Alert.rule == rule)
    if not include_acknowledged:
        query = query.where(Alert.acknowledged.is_(False))
    return list(session.scalars(query))


def acknowledge_alert(
    session: Session,
    alert_id: int,
    *,
    by: str,
    note: str,
    office_pk: int | None = None,
) -> Alert:
    """Acknowledge an alert with a note (flushed, not committed).

    `office_pk` limits it to that office's alerts (an auditor's key): another office's alert,
    or one about no office, is `NotFound` as if it did not exist. A note is required (1 to
    2,000 characters, no NUL). An alert is acknowledged once: a second time is `Conflict`
    and leaves the first note as it was.
    """
    note = note.strip()
    if not note or len(note) > MAX_NOTE or "\x00" in note:
        raise InvalidInput(f"an acknowledgement needs a note of 1 to {MAX_NOTE} characters")
    alert = session.get(Alert, alert_id, with_for_update=True)
    if alert is None or (office_pk is not None and alert.office_pk != office_pk):
        raise NotFound(f"no alert {alert_id}")
    if alert.acknowledged:
        raise Conflict(f"alert {alert_id} was acknowledged already by {alert.acknowledged_by}")
    alert.acknowledged = True
    alert.acknowledged_at = utcnow()
    alert.acknowledged_by = by[:200]
    alert.ack_note = note
    session.flush()
    return alert


def open_alert_counts(session: Session) -> dict[str, int]:
    """Alerts nobody acknowledged yet, by rule."""
    rows = session.execute(
        select(Alert.rule, func.count()).where(Alert.acknowledged.is_(False)).group_by(Alert.rule)
    )
    return {rule: count for rule, count in rows}


def _iso(value: Any) -> str | None:
    return value.astimezone(UTC).isoformat() if value is not None else None


def alert_json(alert: Alert) -> dict[str, Any]:
    """An alert as JSON (API, CLI `--json`, webhook body)."""
    seen, acked = alert.last_seen_at, alert.acknowledged_at
    return {
        "id": alert.id,
        "rule": alert.rule,
        "severity": alert.severity.value,
        "office_pk": alert.office_pk,
        "record_id": "0x" + alert.record_id if alert.record_id else None,
        "message": (alert.details or {}).get("message", alert.rule),
        "details": alert.details,
        "created_at": _iso(alert.created_at),
        "last_seen_at": _iso(seen),
        "acknowledged": alert.acknowledged,
        "acknowledged_at": _iso(acked),
        "acknowledged_by": alert.acknowledged_by,
        "ack_note": alert.ack_note,
        "seen_after_ack": bool(alert.acknowledged and seen and acked and seen > acked),
    }


@dataclass(frozen=True, slots=True)
class WebhookResult:
    """Whether the webhook took the alerts (`error` says why not)."""

    sent: int
    ok: bool
    error: str | None = None


def send_webhook(url: str, alerts: Sequence[Alert], *, timeout: float = 5.0) -> WebhookResult:
    """POST `{"alerts": [...]}` to `url`; a failure is reported, never raised (the alerts
    are stored already)."""
    if not alerts:
        return WebhookResult(0, True)
    body = {"source": "disclosure-notary audit", "alerts": [alert_json(a) for a in alerts]}
    try:
        response = httpx.post(url, json=body, timeout=timeout)
    except httpx.HTTPError as exc:
        return WebhookResult(0, False, f"webhook {url} unreachable: {exc}")
    if response.status_code >= 300:
        return WebhookResult(0, False, f"webhook {url} answered HTTP {response.status_code}")
    return WebhookResult(len(alerts), True)


def notify_pending(session: Session, url: str, *, timeout: float = 5.0) -> WebhookResult:
    """POST every alert the webhook has not taken yet (any writer's: the audit's and the
    worker's), oldest first, and mark those it took (flushed, not committed). One already
    acknowledged is sent too: an acknowledgement never keeps an alert from the outside."""
    sent = 0
    while True:
        batch = list(
            session.scalars(
                select(Alert)
                .where(Alert.notified_at.is_(None))
                .order_by(Alert.id)
                .limit(WEBHOOK_BATCH)
                .with_for_update(skip_locked=True)  # two workers never send one alert twice
            )
        )
        result = send_webhook(url, batch, timeout=timeout)
        if not result.ok:
            return WebhookResult(sent, False, result.error)
        now = utcnow()
        for alert in batch:
            alert.notified_at = now
        session.flush()
        sent += len(batch)
        if len(batch) < WEBHOOK_BATCH:
            return WebhookResult(sent, True)
