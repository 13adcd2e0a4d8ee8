"""Rebuild the registry's history from its events alone, checking every rule on the way.

`Replayer.apply_page` takes raw `eth_getLogs` objects (hex strings) and decodes only what
it needs by slicing 32-byte words, so a replay of 100,000 revisions costs little more than
fetching them. Each `RevisionAnchored` gets its leaf recomputed with
`notary.formats.revision.compute_leaf` from the event and the previous leaf replay already holds,
and is folded into the accumulator; at the end the registry's own `accumulator()` at the
last block must agree, which proves every recomputed leaf (and so every previous-leaf link)
is what the registry computed.

Rules checked, each reported as a `Violation` with block, transaction and log index:

| rule | meaning |
| --- | --- |
| `unknown_office` | an anchor, revocation or batch names an office never registered |
| `signer_not_authorised` | the signer had no authority period for that office at that block |
| `office_suspended` | an office changed something while suspended |
| `version_not_contiguous` | a version is not the record's head + 1 |
| `prev_link_missing` | version > 1 of a record replay never saw version 1 of |
| `after_revocation` | an anchor, revocation or replacement of a revoked/replaced record |
| `unknown_record` | a revocation or replacement of a record never anchored |
| `replacement_invalid` | replaced by itself, an unknown record or one of another office |
| `invalid_revision` | values the registry never accepts (a disclosure with a validity end) |
| `accumulator_mismatch` | the registry's `accumulator()` differs from the replayed one |
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from notary.audit.leaves import Job, LeafComputer, Result
from notary.audit.state import (
    ACTIVE,
    REPLACED,
    REVOKED,
    ChainAction,
    OfficeState,
    RecordState,
    ReplayState,
    RevisionEntry,
    SignerPeriod,
    Violation,
)
from notary.chain.abi import ContractAbi
from notary.formats.accumulator import Accumulator
from notary.formats.revision import parse_address

ZERO_LEAF = "0x" + "00" * 32


class Replayer:
    """Applies raw registry logs, in chain order, to a `ReplayState`."""

    def __init__(self, state: ReplayState, abi: ContractAbi) -> None:
        """Continue `state` (a new one, or one saved by an earlier run)."""
        self.state = state
        self._acc = state.accumulator
        self._heads = {r: rec.leaf for r, rec in state.records.items()}
        heads = {r: bytes.fromhex(leaf[2:]) for r, leaf in self._heads.items()}
        self._leaves = LeafComputer(state.chain_id, parse_address(state.registry), heads, self._acc)
        self._jobs: list[Job] = []
        self._entries: list[RevisionEntry | None] = []
        self._numbers = {o.office_id: o.number for o in state.offices.values()}
        self._by_number = state.office_by_number()
        handlers: dict[str, Callable[[list[str], str, int, str, int], None]] = {
            "OfficeRegistered": self._office_registered,
            "OfficeSuspendedBy": self._office_suspended,
            "OfficeReinstated": self._office_reinstated,
            "SignerGranted": self._signer_granted,
            "SignerRevoked": self._signer_revoked,
            "RevisionAnchored": self._revision_anchored,
            "RecordRevoked": self._record_revoked,
            "RecordReplaced": self._record_replaced,
            "BatchAnchored": self._batch_anchored,
            "AccessLogAnchored": self._access_log_anchored,
        }
        self._abi = abi
        # Every format of each event (a format-1 registry is replayed, and migrated, too).
        self._handlers = {
            "0x" + topic.hex(): fn for name, fn in handlers.items() for topic in abi.topics(name)
        }

    # -- driving ----------------------------------------------------------------------------

    def apply_page(self, logs: Iterable[dict[str, Any]], to_block: int) -> None:
        """Apply one page of raw logs (JSON-RPC objects) covering blocks up to `to_block`."""
        handlers = self._handlers
        block_hex, block = "", 0
        for log in logs:
            topics = log["topics"]
            if not topics:
                continue
            handler = handlers.get(topics[0]) or handlers.get(topics[0].lower())
            if handler is None:
                continue  # OpenZeppelin role events and the like: nothing to rebuild
            if log["blockNumber"] != block_hex:  # most logs share their block with the last
                block_hex = log["blockNumber"]
                block = int(block_hex, 16)
            handler(topics, log["data"], block, log["transactionHash"], int(log["logIndex"], 16))
        jobs, entries = self._jobs, self._entries
        self._jobs, self._entries = [], []
        self._attach(self._leaves.run(jobs), entries, to_block)

    def _attach(self, result: Result, entries: list[RevisionEntry | None], last: int) -> None:
        """Fill in the leaves of one page, in order, and move the state to its last block."""
        blob, errors, acc_hash, acc_count = result
        failed = dict(errors)
        heads, records = self._heads, self.state.records
        for i, entry in enumerate(entries):
            if entry is None:
                continue
            if i in failed:
                self._violate(
                    "invalid_revision",
                    f"{entry.record_id} v{entry.version}: {failed[i]}",
                    entry.block_number,
                    entry.tx_hash,
                    entry.log_index,
                    record_id=entry.record_id,
                    office_number=entry.office_number,
                )
                continue
            rid = entry.record_id
            entry.prev_leaf = heads.get(rid, ZERO_LEAF)
            entry.leaf = heads[rid] = records[rid].leaf = "0x" + blob[32 * i : 32 * i + 32].hex()
        self._acc = Accumulator(acc_hash, acc_count)
        self.state.acc_hash = "0x" + acc_hash.hex()
        self.state.acc_count = acc_count
        self.state.last_block = max(self.state.last_block, last)

    @property
    def accumulator(self) -> Accumulator:
        """The replayed accumulator so far."""
        return self._acc

    def check_accumulator(self, registry_value: Accumulator) -> bool:
        """Compare the registry's `accumulator()` at `last_block` with the replayed one."""
        replayed = self.accumulator
        ok = registry_value == replayed
        self.state.registry_accumulator_ok = ok
        if not ok:
            self._violate(
                "accumulator_mismatch",
                f"registry accumulator at block {self.state.last_block} is "
                f"0x{registry_value.hash.hex()}/{registry_value.count}, replay computed "
                f"0x{replayed.hash.hex()}/{replayed.count}",
                self.state.last_block,
                "",
                -1,
            )
        return ok

    # -- helpers ----------------------------------------------------------------------------

    def _violate(
        self,
        rule: str,
        message: str,
        block: int,
        tx: str,
        log_index: int,
        *,
        record_id: str | None = None,
        office_number: int | None = None,
    ) -> None:
        self.state.violations.append(
            Violation(rule, message, block, tx, log_index, record_id, office_number)
        )

    def _signer_ok(self, signer: str, office_number: int, block: int) -> bool:
        """The fast path of `_check_signer`: True when there is nothing to report."""
        office = self._by_number.get(office_number)
        if office is None or office.suspended:
            return False
        for period in self.state.signers.get(signer, ()):
            if period.covers(office_number, block):
                return True
        return False

    def _check_signer(
        self, signer: str, office_number: int, block: int, tx: str, log_index: int, what: str
    ) -> None:
        office = self._by_number.get(office_number)
        if office is None:
            self._violate(
                "unknown_office",
                f"{what} for office number {office_number}, never registered",
                block,
                tx,
                log_index,
                office_number=office_number,
            )
            return
        periods = self.state.signers.get(signer, ())
        if not any(p.covers(office_number, block) for p in periods):
            self._violate(
                "signer_not_authorised",
                f"{what} by {signer}, not a signer of office {office_number} at block {block}",
                block,
                tx,
                log_index,
                office_number=office_number,
            )
        if office.suspended:
            self._violate(
                "office_suspended",
                f"{what} by office {office_number} while it was suspended",
                block,
                tx,
                log_index,
                office_number=office_number,
            )

    def _office_number(self, office_id: str, block: int, tx: str, log_index: int) -> int:
        number = self._numbers.get(office_id)
        if number is None:
            self._violate(
                "unknown_office", f"office {office_id} never registered", block, tx, log_index
            )
            return 0
        return number

    # -- governance events ------------------------------------------------------------------

    def _office_registered(
        self, topics: list[str], data: str, block: int, tx: str, li: int
    ) -> None:
        office_id = topics[1].lower()
        values = self._abi.event("OfficeRegistered").decode(
            [bytes.fromhex(t[2:]) for t in topics[1:]], bytes.fromhex(data[2:])
        )
        office = OfficeState(office_id, int(values["number"]), str(values["name"]), block)
        self.state.offices[office_id] = office
        self._numbers[office_id] = office.number
        self._by_number[office.number] = office

    def _office_suspended(self, topics: list[str], data: str, block: int, tx: str, li: int) -> None:
        office = self.state.offices.get(topics[1].lower())
        if office is not None:
            office.suspended = True

    def _office_reinstated(
        self, topics: list[str], data: str, block: int, tx: str, li: int
    ) -> None:
        office = self.state.offices.get(topics[1].lower())
        if office is not None:
            office.suspended = False

    def _signer_granted(self, topics: list[str], data: str, block: int, tx: str, li: int) -> None:
        number = self._office_number(topics[1].lower(), block, tx, li)
        signer = "0x" + topics[2][-40:].lower()
        self.state.signers.setdefault(signer, []).append(SignerPeriod(signer, number, block))

    def _signer_revoked(self, topics: list[str], data: str, block: int, tx: str, li: int) -> None:
        number = self._office_number(topics[1].lower(), block, tx, li)
        signer = "0x" + topics[2][-40:].lower()
        for period in self.state.signers.get(signer, ()):
            if period.office_number == number and period.until_block is None:
                period.until_block = block

    # -- office events ----------------------------------------------------------------------

    def _revision_anchored(
        self, topics: list[str], data: str, block: int, tx: str, li: int
    ) -> None:
        record_id = topics[1].lower()
        data = data.lower()
        signer = "0x" + data[26:66]
        version = int(data[66:130], 16)
        kind = int(data[130:194], 16)
        valid_until = int(data[194:258], 16)
        office_number = int(record_id[2:10], 16)
        if not self._signer_ok(signer, office_number, block):
            what = f"anchor of {record_id} v{version}"
            self._check_signer(signer, office_number, block, tx, li, what)
        record = self.state.records.get(record_id)
        if (record is None and version != 1) or (record and version != record.version + 1):
            self._version_gap(record, record_id, version, office_number, block, tx, li)
        if record is not None and record.status != ACTIVE:
            self._violate(
                "after_revocation",
                f"{record_id} anchored v{version} after it was {record.status}",
                block,
                tx,
                li,
                record_id=record_id,
                office_number=office_number,
            )
        # prev_leaf and leaf are filled in by `_attach` once the leaf is computed.
        entry = RevisionEntry(
            record_id,
            version,
            kind,
            valid_until,
            "0x" + data[258:322],
            "0x" + data[322:386],
            "",
            "",
            signer,
            office_number,
            block,
            tx,
            li,
        )
        self.state.revisions.append(entry)
        self._jobs.append(("r", record_id, data))
        self._entries.append(entry)
        if record is None:
            self.state.records[record_id] = RecordState(
                record_id, office_number, kind, version, "", valid_until=valid_until
            )
        else:
            record.version, record.valid_until = version, valid_until

    def _version_gap(
        self,
        record: RecordState | None,
        record_id: str,
        version: int,
        office_number: int,
        block: int,
        tx: str,
        li: int,
    ) -> None:
        head = record.version if record is not None else 0
        where = {"record_id": record_id, "office_number": office_number}
        self._violate(
            "version_not_contiguous",
            f"{record_id} anchored version {version} after version {head}",
            block,
            tx,
            li,
            **where,
        )
        if record is None:
            self._violate(
                "prev_link_missing",
                f"{record_id} v{version} links to a version replay never saw",
                block,
                tx,
                li,
                **where,
            )

    def _close(
        self, record_id: str, signer: str, block: int, tx: str, li: int, what: str
    ) -> RecordState | None:
        office_number = int(record_id[2:10], 16)
        self._check_signer(signer, office_number, block, tx, li, f"{what} of {record_id}")
        record = self.state.records.get(record_id)
        if record is None:
            self._violate(
                "unknown_record",
                f"{what} of {record_id}, never anchored",
                block,
                tx,
                li,
                record_id=record_id,
                office_number=office_number,
            )
            return None
        if record.status != ACTIVE:
            self._violate(
                "after_revocation",
                f"{what} of {record_id} after it was {record.status}",
                block,
                tx,
                li,
                record_id=record_id,
                office_number=office_number,
            )
        return record

    def _record_revoked(self, topics: list[str], data: str, block: int, tx: str, li: int) -> None:
        record_id = topics[1].lower()
        signer = "0x" + data[26:66].lower()
        reason = "0x" + data[66:130].lower()
        record = self._close(record_id, signer, block, tx, li, "revocation")
        if record is not None:
            record.status, record.reason_hash = REVOKED, reason
            record.closed_block, record.closed_tx = block, tx
        self.state.actions.append(
            ChainAction(REVOKED, int(record_id[2:10], 16), signer, block, tx, li, record_id, reason)
        )

    def _record_replaced(self, topics: list[str], data: str, block: int, tx: str, li: int) -> None:
        record_id, by = topics[1].lower(), topics[2].lower()
        signer = "0x" + data[26:66].lower()
        # The supersede reason's hash (zero when none; absent from a format-1 log).
        reason = "0x" + (data[66:130].lower() or "0" * 64)
        record = self._close(record_id, signer, block, tx, li, "replacement")
        target = self.state.records.get(by)
        if by == record_id or target is None or target.office_number != int(record_id[2:10], 16):
            self._violate(
                "replacement_invalid",
                f"{record_id} replaced by {by}",
                block,
                tx,
                li,
                record_id=record_id,
            )
        if record is not None:
            record.status, record.replaced_by = REPLACED, by
            record.reason_hash = None if int(reason, 16) == 0 else reason
            record.closed_block, record.closed_tx = block, tx
        self.state.actions.append(
            ChainAction(
                REPLACED,
                int(record_id[2:10], 16),
                signer,
                block,
                tx,
                li,
                record_id,
                by,
                reason_hash=None if int(reason, 16) == 0 else reason,
            )
        )

    def _batch_anchored(self, topics: list[str], data: str, block: int, tx: str, li: int) -> None:
        root = topics[1].lower()
        number = self._office_number(topics[2].lower(), block, tx, li)
        signer = "0x" + data[26:66].lower()
        count = int(data[66:130], 16)
        self._check_signer(signer, number, block, tx, li, f"batch {root}")
        self._jobs.append(("b", root, data[66:130]))
        self._entries.append(None)
        self.state.actions.append(
            ChainAction("batch", number, signer, block, tx, li, None, root, count)
        )

    def _access_log_anchored(
        self, topics: list[str], data: str, block: int, tx: str, li: int
    ) -> None:
        number = self._office_number(topics[1].lower(), block, tx, li)
        signer = "0x" + data[26:66].lower()
        head = "0x" + data[66:130].lower()
        entries = int(data[130:194], 16)
        self._check_signer(signer, number, block, tx, li, "access-log anchor")
        self.state.actions.append(
            ChainAction("access_log", number, signer, block, tx, li, None, head, entries)
        )


@dataclass(frozen=True, slots=True)
class ReplaySummary:
    """What one replay run did."""

    from_block: int
    to_block: int
    logs: int
    revisions: int
    violations: int
    accumulator_ok: bool | None
