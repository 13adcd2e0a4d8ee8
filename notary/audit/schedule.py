"""The audit that runs by itself: the worker replays, diffs and raises alerts on a schedule.

`ScheduledAudit.maybe_run(settled)` is called by the anchoring worker after every round. A
run is due every `every_s` seconds (`NOTARY_AUDIT_EVERY_S`, default 300; 0 turns the
schedule off), and after a round that settled something once `after_round_min_s` seconds
(`NOTARY_AUDIT_AFTER_ROUND_MIN_S`, default 30) have passed since the last run, so a busy
worker audits what it anchored soon without auditing after every block. The clock starts
when the worker does.

A run is bounded: the replay is incremental (`notary.audit.runner.replay` continues the
state this object keeps in memory, and saves it to `NOTARY_AUDIT_STATE` when set, so a
restarted worker resumes instead of replaying from genesis); the diff and the rules read
the database once each. The new alerts are stored once per fingerprint and every alert the
webhook has not taken yet is POSTed (`NOTARY_AUDIT_WEBHOOK_URL`). A failed run (chain or
database down) is logged and retried at the next due time; it never stops the anchoring.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from notary.audit.alerts import AlertConfig, AlertRun, raise_alerts
from notary.audit.diff import run_diff
from notary.audit.runner import load_or_new, replay
from notary.audit.state import ReplayState
from notary.chain.client import RegistryClient
from notary.chain.config import ConfigError
from notary.db.session import unit_of_work
from notary.storage.blobstore import BlobStore

log = logging.getLogger("notary.audit.schedule")

EVERY_S = 300.0
AFTER_ROUND_MIN_S = 30.0


@dataclass(frozen=True, slots=True)
class ScheduleConfig:
    """When the worker audits, where it keeps the replay state, and the alert settings."""

    every_s: float = EVERY_S
    after_round_min_s: float = AFTER_ROUND_MIN_S
    state_path: Path | None = None
    blobs: Path | None = None
    """The blob store to check (`NOTARY_AUDIT_BLOBS`); None skips the blob checks."""
    alerts: AlertConfig = field(default_factory=AlertConfig)

    def __post_init__(self) -> None:
        if not (self.every_s >= 0 and self.after_round_min_s >= 0):  # NaN fails too
            raise ConfigError("audit intervals must be seconds ≥ 0")

    @property
    def enabled(self) -> bool:
        """False when `every_s` is 0."""
        return self.every_s > 0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ScheduleConfig:
        """`NOTARY_AUDIT_EVERY_S`, `…_AFTER_ROUND_MIN_S`, `…_STATE`, `…_BLOBS`, and the
        alert settings (`AlertConfig.from_env`)."""
        env = os.environ if environ is None else environ
        try:
            every = float(env.get("NOTARY_AUDIT_EVERY_S") or EVERY_S)
            after = float(env.get("NOTARY_AUDIT_AFTER_ROUND_MIN_S") or AFTER_ROUND_MIN_S)
        except ValueError as exc:
            raise ConfigError(f"bad NOTARY_AUDIT_* interval: {exc}") from None
        state = env.get("NOTARY_AUDIT_STATE")
        blobs = env.get("NOTARY_AUDIT_BLOBS")
        return cls(
            every_s=every,
            after_round_min_s=after,
            state_path=Path(state) if state else None,
            blobs=Path(blobs) if blobs else None,
            alerts=AlertConfig.from_env(env),
        )


@dataclass(frozen=True, slots=True)
class AuditRun:
    """What one scheduled run did."""

    to_block: int
    new_logs: int
    discrepancies: int
    alerts: AlertRun


class ScheduledAudit:
    """Replay, diff and alert rules, run when due (see the module docstring)."""

    def __init__(
        self,
        config: ScheduleConfig,
        sessions: sessionmaker[Session],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.sessions = sessions
        self.clock = clock
        self.state: ReplayState | None = None
        self.last_run = clock()
        self.runs = 0

    def due(self, settled: int) -> bool:
        """True when a run is due now, after a round that settled `settled` rows."""
        if not self.config.enabled:
            return False
        since = self.clock() - self.last_run
        return since >= self.config.every_s or (
            settled > 0 and since >= self.config.after_round_min_s
        )

    def maybe_run(self, client: RegistryClient, settled: int) -> AuditRun | None:
        """Run if due; a failure is logged (and retried when next due), never raised."""
        if not self.due(settled):
            return None
        self.last_run = self.clock()
        try:
            return self.run(client)
        except Exception as exc:  # the anchoring must go on whatever the audit hits
            log.warning("scheduled audit failed (%s); retrying when next due", exc)
            return None

    def run(self, client: RegistryClient) -> AuditRun:
        """One run now: continue the replay, diff, store and send the alerts."""
        if self.state is None:
            self.state = load_or_new(client, self.config.state_path, None)
        self.state, summary = replay(client, state=self.state, state_path=self.config.state_path)
        blobs = BlobStore(self.config.blobs) if self.config.blobs else None
        alerts = self.config.alerts
        with unit_of_work(self.sessions) as session:
            found = run_diff(session, self.state, blobs, anchoring_delay=alerts.anchoring_delay)
            result = raise_alerts(session, self.state, found, alerts)
        self.runs += 1
        if result.new:
            log.warning("scheduled audit raised %d new alert(s)", len(result.new))
        if result.webhook is not None and not result.webhook.ok:
            log.warning("alert webhook: %s", result.webhook.error)
        return AuditRun(summary.to_block, summary.logs, len(found), result)
