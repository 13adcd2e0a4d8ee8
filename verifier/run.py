"""The state of one verification while its steps run, and how a run ends in a verdict.

`Run` carries what the steps learn (`verifier.steps`, `verifier.timeline`); a step that finds
a reason to stop raises `Stop` through `Run.fail`; `execute` turns every way out (a stop, an
unreachable chain, any unexpected error) into a `VerificationResult`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from verifier.payload import PayloadView
from verifier.result import Step, StepStatus, Verdict, VerificationResult, worst
from verifier.source import AnchorEvent, HeadState, Registry, SourceUnavailable
from verifier.trust import TrustEntry, TrustList

log = logging.getLogger("verifier.verify")


Connector = Callable[[TrustEntry], Registry]
"""How a trust entry becomes a readable registry (default: JSON-RPC via `RegistryPool`)."""


@dataclass(frozen=True, slots=True)
class ContentHit:
    """A revision an index says holds some content: a candidate, confirmed on the chain."""

    chain_id: int
    registry: str
    record_id: bytes
    version: int
    block: int | None = None
    """The block the index saw the revision anchored in (a hint: the chain confirms it)."""


ContentIndex = Callable[[bytes], Sequence[ContentHit]]
"""Content hash → the revisions that may hold it (a service's own database). With an index
the verifier never scans a registry's history: it reads only the named records."""

LEAF_PREFIX_ON_CHAIN = 23
CERTIFICATE = 1
KIND_NAMES = {0: "disclosure", CERTIFICATE: "certificate"}

MAX_INDEX_HITS = 8
"""Candidates from a content index confirmed on the chain, newest first: the same bytes in
more records than this are rare, and each costs a chain read."""

_default_pool: Any = None


def default_connector() -> Connector:
    """A process-wide pool of JSON-RPC registries, one per trust entry."""
    global _default_pool  # one shared pool of connections per process
    if _default_pool is None:
        from verifier.chainsource import RegistryPool  # web3 only when needed

        _default_pool = RegistryPool()
    return _default_pool


class Stop(Exception):
    """A step's reason to end the run with this verdict."""

    def __init__(self, verdict: Verdict, reason: str) -> None:
        super().__init__(reason)
        self.verdict = verdict
        self.reason = reason


@dataclass
class Run:
    """Mutable state of one verification while its steps run."""

    trust: TrustList
    connect: Connector
    now: int
    steps: list[Step] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)
    payload: PayloadView | None = None
    entry: TrustEntry | None = None
    registry: Registry | None = None
    record_id: bytes | None = None
    version: int | None = None
    head: HeadState | None = None
    events: list[AnchorEvent] = field(default_factory=list)
    event: AnchorEvent | None = None
    leaves: dict[int, bytes] = field(default_factory=dict)
    file_hash: bytes | None = None
    index: ContentIndex | None = None

    def ok(self, name: str, detail: str = "") -> None:
        self.steps.append(Step(name, StepStatus.PASS, detail))

    def skip(self, name: str, detail: str = "") -> None:
        self.steps.append(Step(name, StepStatus.SKIP, detail))

    def warn(self, name: str, detail: str = "") -> None:
        self.steps.append(Step(name, StepStatus.WARN, detail))

    def fail(self, name: str, verdict: Verdict, reason: str) -> Stop:
        self.steps.append(Step(name, StepStatus.FAIL, reason))
        return Stop(verdict, reason)

    def result(self, verdict: Verdict, reason: str) -> VerificationResult:
        return VerificationResult(
            verdict=verdict, reason=reason, steps=tuple(self.steps), **self.facts
        )


def clock(now: int | None) -> int:
    """The given time, or the wall clock."""
    return int(time.time()) if now is None else now


def execute(run: Run, body: Callable[[], tuple[Verdict, str]]) -> VerificationResult:
    """Run the steps; every way out becomes a verdict."""
    try:
        verdict, reason = body()
    except Stop as stop:
        verdict, reason = stop.verdict, stop.reason
    except SourceUnavailable as exc:
        verdict, reason = offline(run, str(exc))
    except Exception as exc:  # invariant: no exception escapes verification
        log.exception("verification failed unexpectedly")
        run.steps.append(Step("internal", StepStatus.FAIL, f"{type(exc).__name__}: {exc}"))
        verdict, reason = Verdict.UNKNOWN, "the verification could not be completed"
    return run.result(verdict, reason)


def combine(results: list[VerificationResult]) -> VerificationResult:
    """Several codes (pages, QR codes in one photo) → the worst; all must agree to be green."""
    bad = worst(results)
    if bad.verdict is not Verdict.AUTHENTIC_CURRENT:
        return bad
    records = {(r.record_id, r.version) for r in results}
    if len(records) > 1:
        step = Step("check_codes_agree", StepStatus.FAIL, "the codes name different revisions")
        return replace(
            results[0],
            verdict=Verdict.TAMPERED,
            reason="the QR codes on this document name different records or versions",
            steps=(*results[0].steps, step),
        )
    return results[0]


def offline(run: Run, why: str) -> tuple[Verdict, str]:
    """Chain unreachable: fall back to the payload signature against cached signers."""
    run.steps.append(Step("fetch_anchor", StepStatus.FAIL, f"chain unreachable: {why}"))
    p, entry = run.payload, run.entry
    if p is None or entry is None or not p.signature:
        return Verdict.UNAVAILABLE, "the chain could not be reached; try again later"
    try:
        from notary.formats.qr_payload import recover_signer

        signer = str(recover_signer(p.raw)).lower()
    except Exception as exc:  # a bad signature is simply not a signature
        run.steps.append(Step("check_offline_signature", StepStatus.FAIL, str(exc)))
        return Verdict.UNAVAILABLE, "the chain could not be reached and the signature is invalid"
    office = entry.offline_office(signer)
    if office is None:
        run.steps.append(
            Step("check_offline_signature", StepStatus.FAIL, f"{signer} is not a known signer")
        )
        return Verdict.UNAVAILABLE, "the chain could not be reached; the signer is not known"
    run.steps.append(Step("check_offline_signature", StepStatus.PASS, f"signed by {signer}"))
    run.facts.update(office_name=office, signer=signer)
    return (
        Verdict.ISSUED_BY_OFFICE_STATUS_UNCHECKED,
        f"signed by an authorised signer of {office}; current status could not be checked",
    )


def event_time(reg: Registry, event: Any) -> int:
    """The timestamp of an event's block: from its log when the node gave it, else read."""
    stamp = getattr(event, "block_time", None)
    return stamp if stamp is not None else reg.block_time(event.block)
