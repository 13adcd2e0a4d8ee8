"""`signer_rate`: an authorised signer anchoring for its office far faster than the office ever did.

The registry refuses anchors by signers it does not authorise, so on an honest chain the
replay's `unauthorised_signer` rule cannot fire; what a stolen but still authorised key (or
a runaway script) looks like there is volume. The chain's clock is its block number, so the
office's history is counted in windows of `window_blocks` blocks (with a fixed block time,
a fixed stretch of time): a signer whose revisions in one window exceed `factor` times the
office's median per active window before it, and at least `min_count`, is an alert, once
per (office, signer, window). An office with fewer than `min_history` earlier active
windows has no history to compare with yet. Batch anchors (Merkle roots of back-filled
archives) are not counted: they are bulk by design.
"""

from __future__ import annotations

import statistics
from collections import Counter

from notary.audit.alert_store import AlertCandidate
from notary.audit.state import ReplayState
from notary.db.types import Severity

RULE = "signer_rate"


def signer_rate_alerts(
    state: ReplayState,
    *,
    window_blocks: int,
    factor: float,
    min_count: int,
    min_history: int,
) -> list[AlertCandidate]:
    """Every (office, signer, window) far above the office's history (see the module)."""
    per_office: dict[int, dict[int, Counter[str]]] = {}
    for rev in state.revisions:
        window = rev.block_number // window_blocks
        per_office.setdefault(rev.office_number, {}).setdefault(window, Counter())[rev.signer] += 1
    out = []
    for office, windows in per_office.items():
        history: list[int] = []
        for window in sorted(windows):
            counts = windows[window]
            if len(history) >= min_history:
                usual = statistics.median(history)
                for signer, count in counts.items():
                    if count >= min_count and count > factor * usual:
                        first = window * window_blocks
                        out.append(
                            AlertCandidate(
                                RULE,
                                Severity.WARNING,
                                f"signer {signer} anchored {count} revisions for office {office} "
                                f"in blocks {first}…{first + window_blocks - 1}; the office "
                                f"usually anchors {usual:g} per {window_blocks} blocks",
                                f"{office}|{signer}|{window}",
                                office,
                                None,
                                {
                                    "signer": signer,
                                    "count": count,
                                    "usual": usual,
                                    "first_block": first,
                                    "window_blocks": window_blocks,
                                },
                            )
                        )
            history.append(sum(counts.values()))
    return out
