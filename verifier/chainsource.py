"""`Registry` over JSON-RPC: reads a trusted registry deployment with web3, nothing else.

Only views and event logs are used; no key, no transaction, no database. Blocks are immutable
once read, so block timestamps are cached; a record's events are cached per head version
(events are append-only, and a new anchor moves the head).
"""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from verifier.source import (
    AnchorEvent,
    HeadState,
    OfficeState,
    RecordStatus,
    ReplaceEvent,
    RevokeEvent,
    SourceUnavailable,
)
from verifier.trust import TrustEntry

ABI_PATH = Path(__file__).resolve().parent.parent / "notary" / "abi" / "NotaryRegistry.json"
LOG_PAGE_BLOCKS = 50_000
RPC_TIMEOUT_S = 5.0

T = TypeVar("T")


@functools.cache
def registry_abi() -> list[dict[str, Any]]:
    """The committed registry ABI (via `notary.contract_build` when present)."""
    try:
        from notary.contract_build import load_artifact  # optional, lazy

        artifact = load_artifact()
        abi = artifact["abi"] if isinstance(artifact, dict) else artifact.abi
        return list(abi)
    except (ImportError, AttributeError, KeyError, TypeError):
        doc = json.loads(ABI_PATH.read_text())
        return doc["abi"] if isinstance(doc, dict) else doc


def _b(value: Any) -> bytes:
    return bytes(value)


class ChainRegistry:
    """A `Registry` for one trust entry, reached through its RPC URL."""

    def __init__(self, entry: TrustEntry, *, rpc_url: str | None = None) -> None:
        from web3 import Web3  # web3 import is slow; only when reading a chain

        url = rpc_url or entry.rpc_url
        if not url:
            raise SourceUnavailable(f"no RPC URL for registry {entry.registry}")
        self.entry = entry
        self.chain_id = entry.chain_id
        self.address = entry.registry
        self._w3 = Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": RPC_TIMEOUT_S}))
        self._contract = self._w3.eth.contract(
            address=Web3.to_checksum_address(entry.registry), abi=registry_abi()
        )
        self._lock = threading.Lock()
        self._checked_chain = False
        self._block_times: dict[int, int] = {}
        self._revisions: dict[tuple[bytes, int], list[AnchorEvent]] = {}
        self._offices: dict[bytes, OfficeState] = {}

    # --- plumbing ---------------------------------------------------------------------

    def _call(self, fn: Callable[[], T]) -> T:
        """Run one read, turning any transport or decoding failure into SourceUnavailable."""
        try:
            if not self._checked_chain:
                got = self._w3.eth.chain_id
                if got != self.chain_id:
                    raise SourceUnavailable(
                        f"the RPC node serves chain {got}, the trust list says {self.chain_id}"
                    )
                if not self._w3.eth.get_code(self._contract.address):
                    raise SourceUnavailable(f"no contract at {self.address}")
                self._checked_chain = True
            return fn()
        except SourceUnavailable:
            raise
        except Exception as exc:  # any transport/ABI error means "cannot read"
            raise SourceUnavailable(f"{type(exc).__name__}: {exc}") from exc

    def _logs(self, event: str, argument_filters: dict[str, Any] | None = None) -> list[Any]:
        ev = getattr(self._contract.events, event)
        return list(ev.get_logs(from_block=0, to_block="latest", argument_filters=argument_filters))

    # --- Registry ---------------------------------------------------------------------

    def head(self, record_id: bytes) -> HeadState:
        """The record's head (version 0 when unknown)."""
        h = self._call(lambda: self._contract.functions.head(record_id).call())
        return HeadState(
            office_id=_b(h[0]),
            version=int(h[1]),
            status=RecordStatus(int(h[2])),
            leaf_prefix=_b(h[3]),
            anchored_block=int(h[4]),
            valid_until=int(h[5]),
            replaced_by=_b(h[6]),
        )

    def revisions(self, record_id: bytes, *, head_version: int | None = None) -> list[AnchorEvent]:
        """Every `RevisionAnchored` event of the record, in chain order (cached per head)."""
        key = (record_id, head_version if head_version is not None else -1)
        if head_version is not None and key in self._revisions:
            return self._revisions[key]
        logs = self._call(lambda: self._logs("RevisionAnchored", {"recordId": record_id}))
        events = sorted((self._anchor(log) for log in logs), key=lambda e: (e.block, e.log_index))
        if head_version is not None and events and events[-1].version == head_version:
            with self._lock:
                self._revisions[key] = events
        return events

    def revocation(self, record_id: bytes) -> RevokeEvent | None:
        """The record's `RecordRevoked` event, if any."""
        logs = self._call(lambda: self._logs("RecordRevoked", {"recordId": record_id}))
        if not logs:
            return None
        log = logs[-1]
        return RevokeEvent(
            record_id=record_id,
            signer=str(log["args"]["signer"]).lower(),
            reason_hash=_b(log["args"]["reasonHash"]),
            block=int(log["blockNumber"]),
        )

    def replacement(self, record_id: bytes) -> ReplaceEvent | None:
        """The record's `RecordReplaced` event, if any."""
        logs = self._call(lambda: self._logs("RecordReplaced", {"recordId": record_id}))
        if not logs:
            return None
        log = logs[-1]
        return ReplaceEvent(
            record_id=record_id,
            by_record_id=_b(log["args"]["byRecordId"]),
            block=int(log["blockNumber"]),
        )

    def office(self, office_id: bytes) -> OfficeState:
        """The office as the registry names it (cached; suspension re-read each time)."""
        o = self._call(lambda: self._contract.functions.office(office_id).call())
        return OfficeState(office_id=office_id, number=int(o[0]), suspended=bool(o[1]), name=o[2])

    def signer_authorised_at(self, office_id: bytes, signer: str, block: int) -> bool:
        """Whether `signer` could sign for the office at `block`."""
        from web3 import Web3

        fn = self._contract.functions.signerAuthorisedAt(
            office_id, Web3.to_checksum_address(signer), block
        )
        return bool(self._call(fn.call))

    def block_time(self, block: int) -> int:
        """Timestamp of a block (unix seconds), cached."""
        if block not in self._block_times:
            ts = self._call(lambda: int(self._w3.eth.get_block(block)["timestamp"]))
            with self._lock:
                self._block_times[block] = ts
        return self._block_times[block]

    def find_content(self, content_hash: bytes) -> list[AnchorEvent]:
        """Anchors with this contentHash: a paged scan of every `RevisionAnchored` log."""

        def scan() -> list[AnchorEvent]:
            latest = self._w3.eth.block_number
            found: list[AnchorEvent] = []
            ev = self._contract.events.RevisionAnchored
            for start in range(0, latest + 1, LOG_PAGE_BLOCKS):
                end = min(latest, start + LOG_PAGE_BLOCKS - 1)
                for log in ev.get_logs(from_block=start, to_block=end):
                    if _b(log["args"]["contentHash"]) == content_hash:
                        found.append(self._anchor(log))
            return found

        return self._call(scan)

    @staticmethod
    def _anchor(log: Any) -> AnchorEvent:
        a = log["args"]
        return AnchorEvent(
            record_id=_b(a["recordId"]),
            signer=str(a["signer"]).lower(),
            version=int(a["version"]),
            kind=int(a["kind"]),
            valid_until=int(a["validUntil"]),
            content_hash=_b(a["contentHash"]),
            metadata_hash=_b(a["metadataHash"]),
            block=int(log["blockNumber"]),
            log_index=int(log["logIndex"]),
        )


class RegistryPool:
    """One `ChainRegistry` per trust entry, created on first use and then reused."""

    def __init__(self, rpc_override: str | None = None) -> None:
        self._rpc_override = rpc_override
        self._pool: dict[tuple[int, str], ChainRegistry] = {}
        self._lock = threading.Lock()

    def __call__(self, entry: TrustEntry) -> ChainRegistry:
        key = (entry.chain_id, entry.registry)
        with self._lock:
            reg = self._pool.get(key)
            if reg is None:
                reg = ChainRegistry(entry, rpc_url=self._rpc_override)
                self._pool[key] = reg
            return reg
