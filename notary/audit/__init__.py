"""The auditor's tools: replay the registry from its events alone, diff it with the
database, raise alerts (docs/design.md, "What must always hold" 2 and "Privacy, access and audit").

- `replay(client, state_path=…)` → `(ReplayState, ReplaySummary)` (`notary.audit.runner`)
- `write_jsonl`, `write_csv` (`notary.audit.export`)
- `run_diff(session, replay_state, blobstore)` → `list[Discrepancy]` (`notary.audit.diff`)
- `raise_alerts`, `list_alerts`, `AlertConfig` (`notary.audit.alerts`)
- CLI: `notary.cli.audit.audit_app` and `checkpoint_app` (typer sub-apps)
"""

from __future__ import annotations

from notary.audit.alerts import AlertConfig, list_alerts, raise_alerts
from notary.audit.diff import Discrepancy, run_diff
from notary.audit.export import write_csv, write_jsonl
from notary.audit.runner import replay
from notary.audit.state import ReplayState, Violation

__all__ = [
    "AlertConfig",
    "Discrepancy",
    "ReplayState",
    "Violation",
    "list_alerts",
    "raise_alerts",
    "replay",
    "run_diff",
    "write_csv",
    "write_jsonl",
]
