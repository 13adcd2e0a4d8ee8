"""What replay rebuilds from the registry's events, as plain values that round-trip through JSON.

The state file is how a replay resumes: a second run loads it and continues from
`last_block + 1`. Hex values are `0x`-prefixed lowercase strings (as a block explorer shows
them); addresses are lowercase too so they compare without checksum work.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from notary.errors import InvalidInput
from notary.formats.accumulator import Accumulator
from notary.storage.atomic import atomic_write_bytes

STATE_FORMAT = "disclosure-notary/replay-state/v1"

ACTIVE = "active"
REVOKED = "revoked"
REPLACED = "replaced"


@dataclass(slots=True)
class OfficeState:
    """An office as the events describe it."""

    office_id: str
    number: int
    name: str
    registered_block: int
    suspended: bool = False


@dataclass(slots=True)
class SignerPeriod:
    """Blocks (inclusive) during which `signer` could sign for office `office_number`."""

    signer: str
    office_number: int
    from_block: int
    until_block: int | None = None
    """None while the period is open."""

    def covers(self, office_number: int, block: int) -> bool:
        """True when this period authorises signing for `office_number` at `block`."""
        return (
            self.office_number == office_number
            and block >= self.from_block
            and (self.until_block is None or block <= self.until_block)
        )


@dataclass(slots=True)
class RevisionEntry:
    """One anchored revision, with its recomputed leaf and where it was anchored."""

    record_id: str
    version: int
    kind: int
    valid_until: int
    content_hash: str
    metadata_hash: str
    prev_leaf: str
    leaf: str
    signer: str
    office_number: int
    block_number: int
    tx_hash: str
    log_index: int


@dataclass(slots=True)
class RecordState:
    """The head of one record after replay."""

    record_id: str
    office_number: int
    kind: int
    version: int
    leaf: str
    status: str = ACTIVE
    valid_until: int = 0
    reason_hash: str | None = None
    closed_block: int | None = None
    closed_tx: str | None = None
    replaced_by: str | None = None


@dataclass(slots=True)
class ChainAction:
    """A revocation, replacement, batch or access-log anchor, in chain order."""

    action: str
    """`revoked`, `replaced`, `batch` or `access_log`."""
    office_number: int
    signer: str
    block_number: int
    tx_hash: str
    log_index: int
    record_id: str | None = None
    value: str | None = None
    """reason hash, replacing record id, batch root or access-log head."""
    count: int | None = None
    """batch leaf count or access-log entries."""
    reason_hash: str | None = None
    """a replacement's supersede reason hash (None when none was given)."""


@dataclass(slots=True)
class Violation:
    """A rule the chain's history breaks, and where."""

    rule: str
    message: str
    block_number: int
    tx_hash: str
    log_index: int = -1
    record_id: str | None = None
    office_number: int | None = None


@dataclass(slots=True)
class ReplayState:
    """Everything replay knows after reading the events up to `last_block`."""

    chain_id: int
    registry: str
    start_block: int
    last_block: int = -1
    acc_hash: str = "0x" + "00" * 24
    acc_count: int = 0
    offices: dict[str, OfficeState] = field(default_factory=dict)
    signers: dict[str, list[SignerPeriod]] = field(default_factory=dict)
    records: dict[str, RecordState] = field(default_factory=dict)
    revisions: list[RevisionEntry] = field(default_factory=list)
    actions: list[ChainAction] = field(default_factory=list)
    violations: list[Violation] = field(default_factory=list)
    registry_accumulator_ok: bool | None = None

    @property
    def accumulator(self) -> Accumulator:
        """The replayed accumulator."""
        return Accumulator(bytes.fromhex(self.acc_hash[2:]), self.acc_count)

    def office_by_number(self) -> dict[int, OfficeState]:
        """Offices keyed by their number."""
        return {o.number: o for o in self.offices.values()}

    def revision(self, record_id: str, version: int) -> RevisionEntry | None:
        """One replayed revision (linear scan; build an index for bulk lookups)."""
        for entry in self.revisions:
            if entry.record_id == record_id and entry.version == version:
                return entry
        return None

    # -- JSON -------------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        """A JSON object that `from_json` reads back to an equal state."""
        return {
            "format": STATE_FORMAT,
            "chain_id": self.chain_id,
            "registry": self.registry,
            "start_block": self.start_block,
            "last_block": self.last_block,
            "accumulator": {"hash": self.acc_hash, "count": self.acc_count},
            "registry_accumulator_ok": self.registry_accumulator_ok,
            "offices": [asdict(o) for o in self.offices.values()],
            "signer_periods": [asdict(p) for ps in self.signers.values() for p in ps],
            "records": [asdict(r) for r in self.records.values()],
            "revisions": [_row(r) for r in self.revisions],
            "actions": [asdict(a) for a in self.actions],
            "violations": [asdict(v) for v in self.violations],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ReplayState:
        """Parse a state written by `to_json`; refuses another format."""
        if not isinstance(data, dict) or data.get("format") != STATE_FORMAT:
            raise InvalidInput(f"not a replay state file (format must be {STATE_FORMAT!r})")
        try:
            state = cls(
                chain_id=int(data["chain_id"]),
                registry=str(data["registry"]).lower(),
                start_block=int(data["start_block"]),
                last_block=int(data["last_block"]),
                acc_hash=str(data["accumulator"]["hash"]),
                acc_count=int(data["accumulator"]["count"]),
                registry_accumulator_ok=data.get("registry_accumulator_ok"),
            )
            for o in data["offices"]:
                state.offices[o["office_id"]] = OfficeState(**o)
            for p in data["signer_periods"]:
                state.signers.setdefault(p["signer"], []).append(SignerPeriod(**p))
            for r in data["records"]:
                state.records[r["record_id"]] = RecordState(**r)
            state.revisions = [RevisionEntry(*row) for row in data["revisions"]]
            state.actions = [ChainAction(**a) for a in data["actions"]]
            state.violations = [Violation(**v) for v in data["violations"]]
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInput(f"malformed replay state: {exc!r}") from None
        return state

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the state file atomically."""
        text = json.dumps(self.to_json(), separators=(",", ":"))
        return atomic_write_bytes(Path(path), text.encode(), mode=0o644)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> ReplayState:
        """Read a state file written by `save`."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"{path}: not JSON ({exc})") from None
        return cls.from_json(data)


REVISION_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(RevisionEntry))
"""Column order of a revision row (state file, JSONL and CSV exports)."""


def _row(entry: RevisionEntry) -> list[Any]:
    return [getattr(entry, name) for name in REVISION_FIELDS]
