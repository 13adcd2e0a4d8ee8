"""What a verification decides: the verdict, why, and the trail of named steps behind it.

Everything here is a frozen value. The CLI, the verify page and the tests all render the same
`VerificationResult`, so a citizen, an auditor and a test see one trail.
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field
from typing import Any


class Verdict(enum.StrEnum):
    """The answer given to whoever holds the copy. Only AUTHENTIC_CURRENT is green."""

    AUTHENTIC_CURRENT = "authentic_current"
    """The chain backs this exact revision, it is the latest version and it is in force."""
    SUPERSEDED = "superseded"
    """Authentic, but a later version (or a replacement record) exists."""
    REVOKED = "revoked"
    """Authentic, but the office revoked the record (reason hash on chain)."""
    EXPIRED = "expired"
    """An authentic certificate past its validity end."""
    NOT_YET_VALID = "not_yet_valid"
    """An authentic certificate whose validity has not begun (its hash-checked `valid_from`)."""
    UNKNOWN = "unknown"
    """The trusted registry has no such record, version or content."""
    TAMPERED = "tampered"
    """The code or the bytes disagree with what was anchored."""
    UNTRUSTED_ISSUER = "untrusted_issuer"
    """The code names a chain or registry outside the trust list (or a signer without authority)."""
    INVALID_CODE = "invalid_code"
    """Not a code of this system: unparsable, truncated, corrupted, or no code found."""
    ISSUED_BY_OFFICE_STATUS_UNCHECKED = "issued_by_office_status_unchecked"
    """Offline: the payload signature is by a trusted office signer; status not checked."""
    UNAVAILABLE = "unavailable"
    """The chain could not be reached and nothing could be checked offline; try again."""

    @property
    def exit_code(self) -> int:
        """Documented process exit code of `verifier` for this verdict (0 only when green)."""
        return EXIT_CODES[self]

    @property
    def is_authentic(self) -> bool:
        """True only for the one verdict that may be shown as "authentic and current"."""
        return self is Verdict.AUTHENTIC_CURRENT


EXIT_CODES: dict[Verdict, int] = {
    Verdict.AUTHENTIC_CURRENT: 0,
    # 1 is left to Python itself (uncaught error) and 2 to argparse (usage error).
    Verdict.SUPERSEDED: 10,
    Verdict.REVOKED: 11,
    Verdict.EXPIRED: 12,
    Verdict.UNKNOWN: 13,
    Verdict.TAMPERED: 14,
    Verdict.UNTRUSTED_ISSUER: 15,
    Verdict.INVALID_CODE: 16,
    Verdict.ISSUED_BY_OFFICE_STATUS_UNCHECKED: 17,
    Verdict.UNAVAILABLE: 18,
    Verdict.NOT_YET_VALID: 20,  # 19 is the CLI's foreign-host warning (verifier.cli)
}

SEVERITY: tuple[Verdict, ...] = (
    Verdict.UNTRUSTED_ISSUER,
    Verdict.TAMPERED,
    Verdict.INVALID_CODE,
    Verdict.REVOKED,
    Verdict.EXPIRED,
    Verdict.NOT_YET_VALID,
    Verdict.SUPERSEDED,
    Verdict.UNKNOWN,
    Verdict.UNAVAILABLE,
    Verdict.ISSUED_BY_OFFICE_STATUS_UNCHECKED,
    Verdict.AUTHENTIC_CURRENT,
)
"""Most alarming first: when several codes or pages disagree, the worst one is reported."""


class StepStatus(enum.StrEnum):
    """Outcome of one named step."""

    PASS = "pass"
    FAIL = "fail"
    SKIP = "skip"
    WARN = "warn"


@dataclass(frozen=True, slots=True)
class Step:
    """One named step of the trail: what was checked and what came out."""

    name: str
    status: StepStatus
    detail: str = ""


@dataclass(frozen=True, slots=True)
class RevisionInfo:
    """One anchored revision of a record, as read from the chain (for the timeline)."""

    version: int
    content_hash: str
    metadata_hash: str
    signer: str
    block: int
    anchored_at: int | None
    leaf: str


@dataclass(frozen=True, slots=True)
class VerificationResult:
    """The verdict with every step that led to it and what the chain said about the record.

    `office_name` comes from the registry (and `issuer_name` from the trust list), never from
    the QR payload or the file. Times are unix seconds (block timestamps).
    """

    verdict: Verdict
    reason: str
    steps: tuple[Step, ...]
    record_id: str | None = None
    version: int | None = None
    page: int | None = None
    page_count: int | None = None
    pages_checked: bool = False
    """Whether `page`/`page_count` were compared with the file's pages (the chain records no
    page count: without the file they are only what the code says)."""
    kind: str | None = None
    issuer_name: str | None = None
    chain_id: int | None = None
    registry: str | None = None
    office_id: str | None = None
    office_name: str | None = None
    content_hash: str | None = None
    metadata_hash: str | None = None
    anchored_at: int | None = None
    current_version: int | None = None
    current_anchored_at: int | None = None
    replaced_by: str | None = None
    revoked_reason_hash: str | None = None
    replaced_reason_hash: str | None = None
    revoked_at: int | None = None
    valid_until: int | None = None
    valid_from: int | None = None
    """From the record's hash-checked metadata (`verifier.metadata`), never from the code."""
    metadata: dict[str, Any] | None = None
    """The revision's metadata document, only once its SHA-256 matched the chain's
    `metadataHash` (`verifier.metadata.check_metadata`)."""
    signer: str | None = None
    timeline: tuple[RevisionInfo, ...] = field(default_factory=tuple)

    @property
    def exit_code(self) -> int:
        """The CLI exit code for this verdict."""
        return self.verdict.exit_code

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (enums as their string values)."""
        out = asdict(self)
        out["verdict"] = self.verdict.value
        out["exit_code"] = self.exit_code
        out["steps"] = [
            {"name": s.name, "status": s.status.value, "detail": s.detail} for s in self.steps
        ]
        return out


def worst(results: list[VerificationResult]) -> VerificationResult:
    """The most alarming of several results (by `SEVERITY`); the first on ties."""
    return min(results, key=lambda r: SEVERITY.index(r.verdict))


@dataclass(frozen=True, slots=True)
class Look:
    """How a verdict is shown: its mark, its tone and its English label.

    One table for every renderer (the `verifier` command, the verify page), so a verdict never
    looks green in one place and amber in another. The tone is one of `ok` (green, only for
    AUTHENTIC_CURRENT), `warn`, `bad` and `neutral`; the page translates the label itself.
    """

    mark: str
    tone: str
    label: str


VERDICT_LOOK: dict[Verdict, Look] = {
    Verdict.AUTHENTIC_CURRENT: Look("✔", "ok", "authentic and current"),
    Verdict.SUPERSEDED: Look("⚠", "warn", "authentic but superseded"),
    Verdict.REVOKED: Look("✘", "bad", "revoked"),
    Verdict.EXPIRED: Look("⚠", "warn", "expired"),
    Verdict.NOT_YET_VALID: Look("⚠", "warn", "not yet valid"),
    Verdict.UNKNOWN: Look("?", "neutral", "unknown"),
    Verdict.TAMPERED: Look("✘", "bad", "tampered"),
    Verdict.UNTRUSTED_ISSUER: Look("✘", "bad", "untrusted issuer"),
    Verdict.INVALID_CODE: Look("✘", "bad", "not a valid code"),
    Verdict.ISSUED_BY_OFFICE_STATUS_UNCHECKED: Look(
        "◐", "warn", "issued by office — status not checked"
    ),
    Verdict.UNAVAILABLE: Look("?", "neutral", "chain unreachable"),
}
"""Every verdict's look; only AUTHENTIC_CURRENT has the `ok` tone."""

STEP_LOOK: dict[StepStatus, tuple[str, str]] = {
    StepStatus.PASS: ("✔", "ok"),
    StepStatus.FAIL: ("✘", "bad"),
    StepStatus.SKIP: ("–", "neutral"),
    StepStatus.WARN: ("!", "warn"),
}
"""A step's mark and tone."""
