"""Migrate a registry's history into a freshly deployed registry, then re-verify it.

The registry is not upgradeable in place (docs/operations.md, "Upgrading the registry"): an
upgrade deploys a new registry next to the old one and re-anchors the history into it.
`migrate` does that in four steps:

1. replay the old registry from its events (`notary.audit.runner.replay`);
2. register the same offices in the new registry (same officeId and name, in office-number
   order, so every record id still names its office) and grant the signers the old registry
   authorises now (governance key);
3. re-anchor every record's revisions in their chain order with `anchorMany` (one office per
   transaction, `batch_size` revisions each), then apply the revocations and replacements
   in their original order (same reason hash, same replacing record);
4. re-verify (`verify_migration`): replay the new registry and check that every record's
   history equals the old one.

Leaves differ between the two registries: the chain id and the registry address are part of
every leaf (docs/formats.md, "Leaf"), so a re-anchored revision has a new leaf and the QR
codes and proof bundles already printed keep pointing at the old registry. Re-verification
therefore compares what a leaf is computed from, never the leaves: record id, version, kind,
validity end, content hash and metadata hash of every revision, and each record's status
(with its reason hash or replacing record). The new registry's own leaves are checked by its
replay (every leaf recomputed, the accumulator compared with the registry's).

Resumable: each step first reads what the new registry already holds (offices, signer
periods, record heads) and sends only what is missing, so a run after a crash continues
where the last one stopped and a run after a complete migration sends nothing. A record whose
head in the new registry disagrees with the old history is left alone and reported.

Not copied: batch roots (`anchorBatch`; their leaves are bound to the old registry and only
the root is on chain), access-log heads, office suspensions (freezing the old registry
suspends every office, and copying that would freeze the new one), and signers revoked
before the migration (their revisions are re-anchored by a current signer of the office).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from eth_account.signers.local import LocalAccount

from notary.audit.runner import replay
from notary.audit.state import (
    ACTIVE,
    REPLACED,
    REVOKED,
    ChainAction,
    RecordState,
    ReplayState,
    RevisionEntry,
)
from notary.chain.client import RegistryClient
from notary.chain.events import OfficeRegistered
from notary.chain.types import Head, RecordStatus
from notary.errors import Conflict, InvalidInput
from notary.formats.revision import Revision, compute_leaf

DEFAULT_BATCH_SIZE = 100
"""Revisions per `anchorMany` (a new record costs about 59k gas: ~6M gas per transaction)."""

_STATUS = {
    RecordStatus.NONE: ACTIVE,  # not anchored yet: nothing closes it
    RecordStatus.ACTIVE: ACTIVE,
    RecordStatus.REVOKED: REVOKED,
    RecordStatus.REPLACED: REPLACED,
}

Log = Callable[[str], None]


class MigrationError(Conflict):
    """The new registry cannot receive the old history (it holds something in the way)."""


@dataclass(frozen=True, slots=True)
class Mismatch:
    """One way the new registry's history differs from the old one's."""

    kind: str
    """`missing_office`, `office_differs`, `extra_office`, `signer_missing`,
    `missing_record`, `extra_record`, `missing_revision`, `extra_revision`,
    `revision_differs`, `status_differs`, `new_registry_rule` or `not_migrated`."""
    message: str
    record_id: str | None = None
    version: int | None = None

    def to_json(self) -> dict[str, Any]:
        """A JSON object."""
        return {
            "kind": self.kind,
            "record_id": self.record_id,
            "version": self.version,
            "message": self.message,
        }


@dataclass(slots=True)
class Verification:
    """The outcome of comparing the new registry's history with the old one's."""

    records: int = 0
    """Records of the old registry compared."""
    revisions: int = 0
    """Revisions of the old registry compared."""
    mismatches: list[Mismatch] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the new registry holds exactly the old history."""
        return not self.mismatches

    def to_json(self) -> dict[str, Any]:
        """A JSON object."""
        return {
            "ok": self.ok,
            "records": self.records,
            "revisions": self.revisions,
            "compared": "record id, version, kind, validity end, content hash, metadata hash, "
            "status (reason hash, replacing record); not leaves, which bind the registry address",
            "mismatches": [m.to_json() for m in self.mismatches],
        }


@dataclass(slots=True)
class MigrationReport:
    """What one `migrate` run found and sent."""

    old_registry: str
    new_registry: str
    offices_registered: int = 0
    signers_granted: int = 0
    revisions_anchored: int = 0
    revisions_present: int = 0
    """Revisions the new registry already held (an earlier run)."""
    closures_applied: int = 0
    """Revocations and replacements sent."""
    transactions: list[str] = field(default_factory=list)
    skipped: list[Mismatch] = field(default_factory=list)
    """Records left alone because the new registry disagrees with the old history."""
    not_copied: dict[str, int] = field(default_factory=dict)
    """Old events that are not re-anchored, by kind (`batch`, `access_log`)."""
    verification: Verification | None = None

    @property
    def ok(self) -> bool:
        """True when re-verification ran and found the new history equal to the old."""
        return self.verification is not None and self.verification.ok

    def to_json(self) -> dict[str, Any]:
        """A JSON object."""
        return {
            "ok": self.ok,
            "old_registry": self.old_registry,
            "new_registry": self.new_registry,
            "offices_registered": self.offices_registered,
            "signers_granted": self.signers_granted,
            "revisions_anchored": self.revisions_anchored,
            "revisions_present": self.revisions_present,
            "closures_applied": self.closures_applied,
            "transactions": list(self.transactions),
            "skipped": [m.to_json() for m in self.skipped],
            "not_copied": dict(self.not_copied),
            "verification": None if self.verification is None else self.verification.to_json(),
        }


# ---------------------------------------------------------------------------------------------
# Migration
# ---------------------------------------------------------------------------------------------


def migrate(
    old: RegistryClient,
    new: RegistryClient,
    governance: LocalAccount,
    signers: Iterable[LocalAccount],
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    verify: bool = True,
    log: Log | None = None,
) -> MigrationReport:
    """Copy the old registry's offices, signers and record histories into `new`.

    `governance` must hold the new registry's governor role; `signers` are keys of offices
    that have records, each a current signer of its office in the old registry (one per
    office is enough). Raises `InvalidInput` for unusable arguments and `MigrationError`
    when the new registry's offices or signers are in the way (nothing is sent then);
    records it holds differently are skipped and reported instead. With `verify` (default)
    the report carries the re-verification.
    """
    say = log or (lambda _msg: None)
    if not 1 <= batch_size <= 1000:
        raise InvalidInput(f"batch_size must be between 1 and 1000; got {batch_size}")
    if (old.chain_id, old.address.lower()) == (new.chain_id, new.address.lower()):
        raise InvalidInput("the old and the new registry are the same contract")
    old_state = _replay_clean(old, "old")
    say(
        f"old registry: {len(old_state.offices)} offices, {len(old_state.records)} records, "
        f"{len(old_state.revisions)} revisions"
    )
    report = MigrationReport(old_registry=old.address, new_registry=new.address)
    for action in old_state.actions:
        if action.action not in (REVOKED, REPLACED):
            report.not_copied[action.action] = report.not_copied.get(action.action, 0) + 1

    _check_offices(old_state, new)
    grants = _missing_grants(old_state, new)
    plan = _Plan.read(old_state, new)
    report.skipped.extend(plan.skipped)
    report.revisions_present = plan.present
    keys = _keys_by_office(old_state, signers, plan.offices_with_work())

    for account in (governance, *keys.values()):
        new.reset_nonce(account)  # the same keys may have been used through other clients
    _register_offices(old_state, new, governance, report)
    for office_id, signer in grants:
        report.transactions.append(new.grant_signer(governance, office_id, signer).tx_hash)
        report.signers_granted += 1
    if report.offices_registered or report.signers_granted:
        say(
            f"registered {report.offices_registered} offices, "
            f"granted {report.signers_granted} signers"
        )

    _send_plan(new, plan, keys, batch_size, report, say)
    if verify:
        report.verification = verify_migration(old, new, old_state=old_state)
        say(
            "re-verification: "
            + (
                "clean"
                if report.verification.ok
                else f"{len(report.verification.mismatches)} mismatch(es)"
            )
        )
    return report


def _send_plan(
    new: RegistryClient,
    plan: _Plan,
    keys: dict[int, LocalAccount],
    batch_size: int,
    report: MigrationReport,
    say: Log,
) -> None:
    """Anchor the missing revisions (`anchorMany`, one office per transaction), then apply
    the revocations and replacements in the old registry's order."""
    for number, revisions in plan.revisions_by_office().items():
        for start in range(0, len(revisions), batch_size):
            chunk = revisions[start : start + batch_size]
            report.transactions.append(new.anchor_many(keys[number], chunk).tx_hash)
            report.revisions_anchored += len(chunk)
            say(f"office {number}: {report.revisions_anchored} revisions anchored so far")
    for action in plan.closures:
        record_id, value = _bytes(action.record_id), _bytes(action.value)
        signer = keys[action.office_number]
        if action.action == REVOKED:
            result = new.revoke(signer, record_id, value)
        else:
            reason = _bytes(action.reason_hash) if action.reason_hash else bytes(32)
            result = new.replace(signer, record_id, value, reason)
        report.transactions.append(result.tx_hash)
        report.closures_applied += 1
    if plan.closures:
        say(f"applied {report.closures_applied} revocations and replacements")


def _replay_clean(client: RegistryClient, which: str) -> ReplayState:
    """Replay a registry whose history must be sound to migrate from."""
    state, _ = replay(client)
    if state.violations or state.registry_accumulator_ok is False:
        first = state.violations[0].message if state.violations else "accumulator mismatch"
        raise InvalidInput(
            f"the {which} registry's replay found {len(state.violations)} rule violation(s) "
            f"({first}); run `notary audit replay` on it before migrating"
        )
    return state


def _check_offices(old_state: ReplayState, new: RegistryClient) -> None:
    """Every old office number must be free or held by the same office in `new`."""
    for office in sorted(old_state.offices.values(), key=lambda o: o.number):
        there = new.office_id_of(office.number)
        if there != bytes(32) and there != _bytes(office.office_id):
            raise MigrationError(
                f"office number {office.number} is office 0x{there.hex()} in the new registry "
                f"but {office.office_id} ({office.name}) in the old one: record ids would name "
                "another office; migrate into a freshly deployed registry"
            )


def _register_offices(
    old_state: ReplayState, new: RegistryClient, governance: LocalAccount, report: MigrationReport
) -> None:
    """Register the offices `new` lacks, in number order (numbers are assigned 1, 2, 3 …)."""
    for office in sorted(old_state.offices.values(), key=lambda o: o.number):
        office_id = _bytes(office.office_id)
        if new.office(office_id).exists:
            continue
        result = new.register_office(governance, office_id, office.name)
        number = result.events_of(OfficeRegistered)[0].number
        report.transactions.append(result.tx_hash)
        report.offices_registered += 1
        if number != office.number:
            raise MigrationError(
                f"office {office.name} got number {number} in the new registry, "
                f"{office.number} in the old one: migrate into a freshly deployed registry"
            )


def _current_signers(state: ReplayState) -> list[tuple[str, int]]:
    """(signer, office number) of every open signer period."""
    return [
        (signer, p.office_number)
        for signer, periods in state.signers.items()
        for p in periods
        if p.until_block is None
    ]


def _missing_grants(old_state: ReplayState, new: RegistryClient) -> list[tuple[bytes, str]]:
    """(office id, signer) of the old registry's current signers that `new` lacks."""
    ids = {o.number: o.office_id for o in old_state.offices.values()}
    grants = []
    for signer, number in _current_signers(old_state):
        open_ = [p for p in new.signer_periods(signer) if p.is_open]
        if any(p.office_number == number for p in open_):
            continue
        if open_:
            raise MigrationError(
                f"signer {signer} signs for office number {open_[0].office_number} in the new "
                f"registry but for office number {number} in the old one"
            )
        grants.append((_bytes(ids[number]), signer))
    return grants


def _keys_by_office(
    old_state: ReplayState, accounts: Iterable[LocalAccount], needed: set[int]
) -> dict[int, LocalAccount]:
    """The signing key to use for each office, from the old registry's current signers."""
    current = {signer: number for signer, number in _current_signers(old_state)}
    keys: dict[int, LocalAccount] = {}
    for account in accounts:
        number = current.get(account.address.lower())
        if number is None:
            raise InvalidInput(
                f"{account.address} is not a current signer of any office in the old registry"
            )
        keys.setdefault(number, account)
    missing = sorted(needed - set(keys))
    if missing:
        names = {o.number: o.name for o in old_state.offices.values()}
        listed = ", ".join(f"{n} ({names.get(n, '?')})" for n in missing)
        raise InvalidInput(f"no signer key given for office(s) with records to copy: {listed}")
    return keys


@dataclass(slots=True)
class _Plan:
    """What the new registry lacks, from the old history and the new registry's heads."""

    revisions: list[tuple[int, Revision]] = field(default_factory=list)
    """(office number, revision to anchor), in the old registry's order."""
    closures: list[ChainAction] = field(default_factory=list)
    """The old revocations and replacements still to apply, in the old registry's order."""
    skipped: list[Mismatch] = field(default_factory=list)
    present: int = 0

    @classmethod
    def read(cls, old_state: ReplayState, new: RegistryClient) -> _Plan:
        plan = cls()
        first_missing: dict[str, int] = {}  # record id -> first version `new` lacks
        new_leaves: dict[str, list[bytes]] = {}
        open_records: set[str] = set()  # records `new` holds (or will) without a closure
        for record_id, entries in _histories(old_state).items():
            leaves = new_leaves[record_id] = _leaves_in(new, entries)
            head = new.head(_bytes(record_id))
            why = _conflict(head, leaves, old_state.records[record_id].status)
            if why is not None:
                plan.skipped.append(Mismatch("not_migrated", why, record_id, head.version))
                continue
            plan.present += head.version
            first_missing[record_id] = head.version + 1
            if head.status in (RecordStatus.NONE, RecordStatus.ACTIVE):
                open_records.add(record_id)
        for entry in old_state.revisions:
            first = first_missing.get(entry.record_id)
            if first is None or entry.version < first:
                continue
            leaves = new_leaves[entry.record_id]
            prev = leaves[entry.version - 2] if entry.version > 1 else bytes(32)
            plan.revisions.append((entry.office_number, _revision(entry, prev)))
        skipped = {m.record_id for m in plan.skipped}
        for action in old_state.actions:
            if action.action not in (REVOKED, REPLACED) or action.record_id not in open_records:
                continue
            if action.action == REPLACED and action.value in skipped:
                why = f"not replaced: its replacing record {action.value} was not migrated"
                plan.skipped.append(Mismatch("not_migrated", why, action.record_id))
                continue
            plan.closures.append(action)
        return plan

    def offices_with_work(self) -> set[int]:
        """Office numbers that have something to send."""
        return {n for n, _ in self.revisions} | {a.office_number for a in self.closures}

    def revisions_by_office(self) -> dict[int, list[Revision]]:
        """The revisions to anchor, per office, each list in the old registry's order."""
        by_office: dict[int, list[Revision]] = {}
        for number, revision in self.revisions:
            by_office.setdefault(number, []).append(revision)
        return by_office


def _conflict(head: Head, leaves: list[bytes], old_status: str) -> str | None:
    """Why `head` (in the new registry) cannot continue the old history, or None."""
    if head.version > len(leaves):
        return f"the new registry holds v{head.version}, the old one only v{len(leaves)}"
    if head.exists and not head.matches(leaves[head.version - 1]):
        return (
            f"v{head.version} in the new registry is not the old registry's v{head.version} "
            "(different content, metadata or earlier versions)"
        )
    closed = _STATUS.get(head.status)
    if head.exists and closed != ACTIVE:
        if head.version < len(leaves):
            return f"the new registry has it {closed} at v{head.version}"
        if closed != old_status:
            return f"the new registry has it {closed}, the old one {old_status}"
    return None


def _histories(state: ReplayState) -> dict[str, list[RevisionEntry]]:
    """Every record's revisions, in version order."""
    history: dict[str, list[RevisionEntry]] = {}
    for entry in state.revisions:
        history.setdefault(entry.record_id, []).append(entry)
    for entries in history.values():
        entries.sort(key=lambda e: e.version)
    return history


def _revision(entry: RevisionEntry, prev_leaf: bytes) -> Revision:
    return Revision(
        record_id=_bytes(entry.record_id),
        version=entry.version,
        kind=entry.kind,  # type: ignore[arg-type]
        valid_until=entry.valid_until,
        content_hash=_bytes(entry.content_hash),
        metadata_hash=_bytes(entry.metadata_hash),
        prev_leaf=prev_leaf,
    )


def _leaves_in(client: RegistryClient, entries: list[RevisionEntry]) -> list[bytes]:
    """The leaves of a record's versions 1, 2 … as `client`'s registry computes them."""
    leaves: list[bytes] = []
    for entry in entries:
        prev = leaves[-1] if leaves else bytes(32)
        revision = _revision(entry, prev)
        leaves.append(compute_leaf(revision, chain_id=client.chain_id, registry=client.address))
    return leaves


def _bytes(hex_text: str | None) -> bytes:
    assert hex_text is not None
    return bytes.fromhex(hex_text.removeprefix("0x"))


# ---------------------------------------------------------------------------------------------
# Re-verification
# ---------------------------------------------------------------------------------------------


def verify_migration(
    old: RegistryClient, new: RegistryClient, *, old_state: ReplayState | None = None
) -> Verification:
    """Replay both registries and list every way the new history differs from the old.

    Compared: offices (id, number, name), the old registry's current signers, and for every
    record each revision's version, kind, validity end, content hash and metadata hash, then
    its status with the reason hash or replacing record. Leaves are not compared (they bind
    the registry address); the new registry's replay recomputes its own and checks them
    against its accumulator, and any rule it breaks is a mismatch too.
    """
    if old_state is None:
        old_state = _replay_clean(old, "old")
    new_state, _ = replay(new)
    result = Verification(records=len(old_state.records), revisions=len(old_state.revisions))
    out = result.mismatches
    for v in new_state.violations:
        out.append(Mismatch("new_registry_rule", f"{v.rule}: {v.message}", v.record_id))
    if new_state.registry_accumulator_ok is False:
        out.append(Mismatch("new_registry_rule", "the new registry's accumulator disagrees"))
    _compare_offices(old_state, new_state, out)
    _compare_records(old_state, new_state, out)
    return result


def _compare_offices(old: ReplayState, new: ReplayState, out: list[Mismatch]) -> None:
    for office_id, office in old.offices.items():
        there = new.offices.get(office_id)
        if there is None:
            out.append(Mismatch("missing_office", f"office {office_id} ({office.name}) missing"))
        elif (there.number, there.name) != (office.number, office.name):
            out.append(
                Mismatch(
                    "office_differs",
                    f"office {office_id} is #{there.number} {there.name!r} in the new registry, "
                    f"#{office.number} {office.name!r} in the old one",
                )
            )
    for office_id, office in new.offices.items():
        if office_id not in old.offices:
            out.append(Mismatch("extra_office", f"office {office_id} ({office.name}) is new"))
    current = set(_current_signers(new))
    for signer, number in _current_signers(old):
        if (signer, number) not in current:
            out.append(
                Mismatch("signer_missing", f"{signer} cannot sign for office {number} in the new")
            )


_FIELDS = ("kind", "valid_until", "content_hash", "metadata_hash")


def _compare_records(old: ReplayState, new: ReplayState, out: list[Mismatch]) -> None:
    old_history, new_history = _histories(old), _histories(new)
    for record_id, entries in old_history.items():
        theirs = new_history.get(record_id)
        if theirs is None:
            out.append(Mismatch("missing_record", "not in the new registry", record_id))
            continue
        for mine, other in zip(entries, theirs, strict=False):
            differ = [
                f"{name} {getattr(mine, name)} in the old, {getattr(other, name)} in the new"
                for name in _FIELDS
                if getattr(mine, name) != getattr(other, name)
            ]
            if differ:
                out.append(Mismatch("revision_differs", "; ".join(differ), record_id, mine.version))
        for entry in entries[len(theirs) :]:
            out.append(
                Mismatch("missing_revision", "not in the new registry", record_id, entry.version)
            )
        for entry in theirs[len(entries) :]:
            out.append(
                Mismatch(
                    "extra_revision",
                    f"the new registry has v{entry.version} (content {entry.content_hash}), "
                    "the old one has no such version",
                    record_id,
                    entry.version,
                )
            )
        was, now = _closure(old.records[record_id]), _closure(new.records[record_id])
        if was != now:
            out.append(
                Mismatch(
                    "status_differs", f"{_says(was)} in the old, {_says(now)} in the new", record_id
                )
            )
    for record_id, entries in new_history.items():
        if record_id not in old_history:
            out.append(
                Mismatch(
                    "extra_record",
                    f"v1…v{len(entries)} anchored in the new registry only",
                    record_id,
                )
            )


def _closure(record: RecordState) -> tuple[str, str | None]:
    if record.status == REVOKED:
        return REVOKED, record.reason_hash
    if record.status == REPLACED:
        reason = f" (reason hash {record.reason_hash})" if record.reason_hash else ""
        return REPLACED, f"{record.replaced_by}{reason}"
    return record.status, None


def _says(closure: tuple[str, str | None]) -> str:
    status, value = closure
    if status == REVOKED:
        return f"revoked (reason hash {value})"
    if status == REPLACED:
        return f"replaced by {value}"
    return status
