"""Anomaly alerts (docs/design.md, "Privacy, access and audit"): evaluate, store, list, notify.

Rules, each with a stable name (the `alerts.rule` column):

| rule | severity | raised for |
| --- | --- | --- |
| `db_chain_mismatch` | critical | every `run_diff` discrepancy but a broken access log |
| `access_log_broken` | critical | a broken access-log chain or a lost anchored head |
| `unauthorised_signer` | critical | an anchor, revocation or batch by a signer that was revoked, never granted, or of another office (or by a suspended office): the registry refuses these, so this fires only on a chain that broke its own rules |
| `signer_rate` | warning | an authorised signer anchoring for its office far faster than the office's history (`notary.audit.signer_rate`) |
| `chain_rule_violation` | critical | any other rule replay found broken (versions, links, accumulator) |
| `revocation_burst` | warning | `burst_threshold` revocations by one office within `burst_window_blocks` blocks |
| `late_anchor` | warning | a revision anchored more than `late_anchor` after it was accepted |
| `pii_override` | info | a publication that overrode the PII guard |

The worker raises `anchor_failed`, `revocation_failed`, `replacement_failed` and
`access_log_failed` itself (`notary.anchoring.plan.raise_alert`).

Each alert has a fingerprint (rule + what it is about), so running the audit again raises
nothing twice (`notary.audit.alert_store`: storage, acknowledgement, the webhook). The
worker runs these rules by itself on a schedule (`notary.audit.schedule`).
"""  # noqa: E501

from __future__ import annotations

import os
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from notary.audit.alert_store import (
    AlertCandidate,
    WebhookResult,
    acknowledge_alert,
    alert_json,
    list_alerts,
    notify_pending,
    open_alert_counts,
    store_alerts,
)
from notary.audit.diff import Discrepancy
from notary.audit.signer_rate import signer_rate_alerts
from notary.audit.state import REVOKED, ReplayState
from notary.chain.config import ConfigError
from notary.db.models import Alert, PiiOverride, Revision
from notary.db.types import AnchorState, Severity

__all__ = [
    "AlertCandidate",
    "AlertConfig",
    "AlertRun",
    "WebhookResult",
    "acknowledge_alert",
    "alert_json",
    "evaluate",
    "list_alerts",
    "open_alert_counts",
    "raise_alerts",
    "store_alerts",
]

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
    rate_window_blocks: int = 1000
    rate_factor: float = 10.0
    rate_min_count: int = 50
    rate_min_history: int = 5

    def __post_init__(self) -> None:
        if self.burst_threshold < 1 or self.burst_window_blocks < 1:
            raise ConfigError("burst threshold and window must be at least 1")
        if self.rate_window_blocks < 1 or self.rate_min_count < 1 or self.rate_min_history < 1:
            raise ConfigError("signer-rate window, minimum count and history must be at least 1")
        if not self.rate_factor > 0:
            raise ConfigError("the signer-rate factor must be positive")
        if self.webhook_url is not None and not self.webhook_url.startswith(
            ("http://", "https://")
        ):
            raise ConfigError(f"webhook URL must be http(s): {self.webhook_url!r}")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> AlertConfig:
        """`NOTARY_AUDIT_BURST_THRESHOLD`, `…_BURST_WINDOW_BLOCKS`, `…_LATE_ANCHOR_S`,
        `…_ANCHORING_DELAY_S`, `…_WEBHOOK_URL`, `…_WEBHOOK_TIMEOUT_S`,
        `…_RATE_WINDOW_BLOCKS`, `…_RATE_FACTOR`, `…_RATE_MIN_COUNT`, `…_RATE_MIN_HISTORY`."""
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
            for name, kind in (
                ("rate_window_blocks", int),
                ("rate_factor", float),
                ("rate_min_count", int),
                ("rate_min_history", int),
            ):
                if v := env.get(f"NOTARY_AUDIT_{name.upper()}"):
                    kw[name] = kind(v)
        except ValueError as exc:
            raise ConfigError(f"bad NOTARY_AUDIT_* setting: {exc}") from None
        kw["webhook_url"] = env.get("NOTARY_AUDIT_WEBHOOK_URL") or None
        return cls(**kw)


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
        *signer_rate_alerts(
            state,
            window_blocks=config.rate_window_blocks,
            factor=config.rate_factor,
            min_count=config.rate_min_count,
            min_history=config.rate_min_history,
        ),
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
    """Evaluate the rules, store the new alerts (flushed, not committed), and POST every
    alert the webhook has not taken yet (these and any raised before, the worker's too)."""
    new = store_alerts(session, evaluate(session, state, discrepancies, config))
    webhook = None
    if config.webhook_url:
        webhook = notify_pending(session, config.webhook_url, timeout=config.webhook_timeout)
    return AlertRun(new, webhook)
