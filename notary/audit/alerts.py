"""Anomaly alerts (docs/design.md, "Privacy, access and audit"): evaluate, store, list, notify.

Rules, each with a stable name (the `alerts.rule` column):

| rule | severity | raised for |
| --- | --- | --- |
| `db_chain_mismatch` | critical | every `run_diff` discrepancy but a broken access log |
| `access_log_broken` | critical | a broken access-log chain or a lost anchored head |
| `unauthorised_signer` | critical | an anchor, revocation or batch by a signer that was revoked, never granted, or of another office (or by a suspended office) |
| `chain_rule_violation` | critical | any other rule replay found broken (versions, links, accumulator) |
| `revocation_burst` | warning | `burst_threshold` revocations by one office within `burst_window_blocks` blocks |
| `late_anchor` | warning | a revision anchored more than `late_anchor` after it was accepted |
| `pii_override` | info | a publication that overrode the PII guard |

Each alert has a fingerprint (rule + what it is about), so running the audit again raises
nothing twice. New alerts can be POSTed as JSON to a webhook from configuration.
"""  # noqa: E501

from __future__ import annotations

import hashlib
import os
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, timedelta
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from notary.audit.diff import Discrepancy
from notary.audit.state import REVOKED, ReplayState
from notary.chain.config import ConfigError
from notary.db.models import Alert, Office, PiiOverride, Revision
from notary.db.types import AnchorState, Severity

SIGNER_RULES = frozenset({"signer_not_authorised", "unknown_office", "office_suspended"})


@dataclass(frozen=True, slots=True)
class AlertConfig:
    """Alert thresholds and the webhook, from `NOTARY_AUDIT_*` environment variables."""

    burst_threshold: int = 5
    burst_window_blocks: int = 100
    late_anchor: timedelta = timedelta(hours=1)
    anchoring_delay: timedelta = timedelta(minutes=10)
    webhook_url: str | None = None
    webhook_timeout: float = 5.0

    def __post_init__(self) -> None:
        if self.burst_threshold < 1 or self.burst_window_blocks < 1:
            raise ConfigError("burst threshold and window must be at least 1")
        if self.webhook_url is not None and not self.webhook_url.startswith(
            ("http://", "https://")
        ):
            raise ConfigError(f"webhook URL must be http(s): {self.webhook_url!r}")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> AlertConfig:
        """`NOTARY_AUDIT_BURST_THRESHOLD`, `…_BURST_WINDOW_BLOCKS`, `…_LATE_ANCHOR_S`,
        `…_ANCHORING_DELAY_S`, `…_WEBHOOK_URL`, `…_WEBHOOK_TIMEOUT_S`."""
        env = os.environ if environ is None else environ
        kw: dict[str, Any] = {}
        try:
            if v := env.get("NOTARY_AUDIT_BURST_THRESHOLD"):
                kw["burst_threshold"] = int(v)
            if v := env.get("NOTARY_AUDIT_BURST_WINDOW_BLOCKS"):
                kw["burst_window_blocks"] = int(v)
            if v := env.get("NOTARY_AUDIT_LATE_ANCHOR_S"):
                kw["late_anchor"] = timedelta(seconds=float(v))
            if v := env.get("NOTARY_AUDIT_ANCHORING_DELAY_S"):
                kw["anchoring_delay"] = timedelta(seconds=float(v))
            if v := env.get("NOTARY_AUDIT_WEBHOOK_TIMEOUT_S"):
                kw["webhook_timeout"] = float(v)
        except ValueError as exc:
            raise ConfigError(f"bad NOTARY_AUDIT_* setting: {exc}") from None
        kw["webhook_url"] = env.get("NOTARY_AUDIT_WEBHOOK_URL") or None
        return cls(**kw)


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
        """SHA-256 of rule and key: the same anomaly found twice is one alert."""
        return hashlib.sha256(f"{self.rule}|{self.key}".encode()).hexdigest()


# ---------------------------------------------------------------------------------------------
# Rules
# ---------------------------------------------------------------------------------------------


def evaluate(
    session: Session,
    state: ReplayState,
    discrepancies: Sequence[Discrepancy],
    config: AlertConfig,
) -> list[AlertCandidate]:
    """Every alert the rules raise for this replay, diff and database."""
    return [
        *from_discrepancies(discrepancies),
        *from_violations(state),
        *revocation_bursts(state, config),
        *late_anchors(session, config),
        *pii_overrides(session),
    ]


def from_discrepancies(discrepancies: Sequence[Discrepancy]) -> list[AlertCandidate]:
    """`db_chain_mismatch` and `access_log_broken`."""
    out = []
    for d in discrepancies:
        rule = "access_log_broken" if d.kind == "access_log_broken" else "db_chain_mismatch"
        key = f"{d.kind}|{d.record_id}|{d.version}|{d.office_number}|{d.message}"
        out.append(
            AlertCandidate(
                rule,
                Severity.CRITICAL,
                f"{d.kind}: {d.message}",
                key,
                d.office_number,
                d.record_id,
                d.to_json(),
            )
        )
    return out


def from_violations(state: ReplayState) -> list[AlertCandidate]:
    """`unauthorised_signer` and `chain_rule_violation` from replay's rule checks."""
    out = []
    for v in state.violations:
        rule = "unauthorised_signer" if v.rule in SIGNER_RULES else "chain_rule_violation"
        key = f"{v.rule}|{v.block_number}|{v.tx_hash}|{v.log_index}"
        details = {
            "violation": v.rule,
            "block_number": v.block_number,
            "tx_hash": v.tx_hash,
            "log_index": v.log_index,
        }
        out.append(
            AlertCandidate(
                rule, Severity.CRITICAL, v.message, key, v.office_number, v.record_id, details
            )
        )
    return out


def revocation_bursts(state: ReplayState, config: AlertConfig) -> list[AlertCandidate]:
    """`revocation_burst`: `burst_threshold` revocations of one office within the window."""
    out = []
    windows: dict[int, deque[tuple[int, str]]] = {}
    for action in state.actions:
        if action.action != REVOKED:
            continue
        window = windows.setdefault(action.office_number, deque())
        window.append((action.block_number, action.tx_hash))
        while window and window[0][0] <= action.block_number - config.burst_window_blocks:
            window.popleft()
        if len(window) >= config.burst_threshold:
            first, last = window[0][0], action.block_number
            out.append(
                AlertCandidate(
                    "revocation_burst",
                    Severity.WARNING,
                    f"office {action.office_number} revoked {len(window)} records in blocks "
                    f"{first}…{last}",
                    f"{action.office_number}|{first}",
                    action.office_number,
                    None,
                    {"count": len(window), "first_block": first, "last_block": last},
                )
            )
            window.clear()
    return out


def late_anchors(session: Session, config: AlertConfig) -> list[AlertCandidate]:
    """`late_anchor`: anchored more than `late_anchor` after acceptance."""
    out = []
    rows = session.scalars(
        select(Revision).where(
            Revision.anchor_state == AnchorState.ANCHORED, Revision.anchored_at.is_not(None)
        )
    )
    for rev in rows:
        delay = rev.anchored_at - rev.accepted_at  # type: ignore[operator]
        if delay > config.late_anchor:
            out.append(
                AlertCandidate(
                    "late_anchor",
                    Severity.WARNING,
                    f"v{rev.version} anchored {delay} after it was accepted",
                    f"{rev.record_id}|{rev.version}",
                    int(rev.record_id[:8], 16),
                    "0x" + rev.record_id,
                    {"version": rev.version, "delay_s": delay.total_seconds()},
                )
            )
    return out


def pii_overrides(session: Session) -> list[AlertCandidate]:
    """`pii_override`: every publication that overrode the PII guard."""
    out = []
    rows = session.execute(
        select(PiiOverride, Revision.record_id, Revision.version).join(
            Revision, Revision.id == PiiOverride.revision_id
        )
    )
    for override, record_id, version in rows:
        out.append(
            AlertCandidate(
                "pii_override",
                Severity.INFO,
                f"v{version} published despite {len(override.findings)} PII finding(s): "
                f"{override.reason}",
                str(override.id),
                int(record_id[:8], 16),
                "0x" + record_id,
                {"version": version, "reason": override.reason, "findings": override.findings},
            )
        )
    return out


# ---------------------------------------------------------------------------------------------
# Storage, listing, webhook
# ---------------------------------------------------------------------------------------------


def store_alerts(session: Session, candidates: Sequence[AlertCandidate]) -> list[Alert]:
    """Insert the candidates not stored before (by fingerprint); returns the new rows."""
    offices = {number: pk for pk, number in session.execute(select(Office.id, Office.number))}
    fingerprints = [c.fingerprint for c in candidates]
    known = set(
        session.scalars(select(Alert.fingerprint).where(Alert.fingerprint.in_(fingerprints)))
    )
    new = []
    for c in candidates:
        if c.fingerprint in known:
            continue
        known.add(c.fingerprint)
        record_id = c.record_id.removeprefix("0x") if c.record_id else None
        alert = Alert(
            rule=c.rule,
            severity=c.severity,
            office_pk=offices.get(c.office_number) if c.office_number is not None else None,
            record_id=record_id,
            details={"message": c.message, **c.details},
            fingerprint=c.fingerprint,
        )
        session.add(alert)
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


def alert_json(alert: Alert) -> dict[str, Any]:
    """An alert as JSON (webhook body, CLI `--json`)."""
    return {
        "id": alert.id,
        "rule": alert.rule,
        "severity": alert.severity.value,
        "office_pk": alert.office_pk,
        "record_id": "0x" + alert.record_id if alert.record_id else None,
        "details": alert.details,
        "created_at": alert.created_at.astimezone(UTC).isoformat() if alert.created_at else None,
        "acknowledged": alert.acknowledged,
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


@dataclass(frozen=True, slots=True)
class AlertRun:
    """What `raise_alerts` did."""

    new: list[Alert]
    webhook: WebhookResult | None


def raise_alerts(
    session: Session,
    state: ReplayState,
    discrepancies: Sequence[Discrepancy],
    config: AlertConfig,
) -> AlertRun:
    """Evaluate the rules, store the new alerts (flushed, not committed), notify the webhook."""
    new = store_alerts(session, evaluate(session, state, discrepancies, config))
    webhook = None
    if config.webhook_url:
        webhook = send_webhook(config.webhook_url, new, timeout=config.webhook_timeout)
    return AlertRun(new, webhook)
