"""`Registry` over JSON-RPC: reads a trusted registry with plain `eth_call` / `eth_getLogs`.

Only views and event logs are used; no key, no transaction, no database. Calls are encoded
and decoded with the registry ABI codec of `notary.chain.abi` (pure, eth_abi) and sent over
keep-alive HTTP connections (`verifier.rpc_http`); web3's contract layer costs several
extra round trips per call (chain-id validation) which a verify page under load cannot
afford.

The node is checked once per registry: it must serve the trust entry's chain id and have
code at the registry address. Blocks are immutable once read, so block timestamps are
cached; a record's events are cached per head version (events are append-only, and every
anchor moves the head).
"""

from __future__ import annotations

import functools
import threading
import time
from typing import Any

from notary.chain.paging import PageWindow
from verifier.logpages import read_logs
from verifier.rpc_http import RpcHttpError, RpcPool
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

LOG_PAGE_BLOCKS = 50_000
RPC_TIMEOUT_S = 5.0
CACHE_RECORDS = 4096
OFFICE_TTL_S = 10.0


@functools.cache
def registry_abi() -> Any:
    """The registry ABI codec, built from the committed artifact."""
    from notary.chain.abi import ContractAbi, load_artifact

    return ContractAbi(load_artifact()["abi"])


def _hex(data: bytes) -> str:
    return "0x" + data.hex()


def _topic(value: bytes) -> str:
    return "0x" + bytes(value).rjust(32, b"\x00").hex()


class ChainRegistry:
    """A `Registry` for one trust entry, reached through its RPC URL."""

    def __init__(self, entry: TrustEntry, *, rpc_url: str | None = None) -> None:
        urls = (rpc_url,) if rpc_url else entry.rpc_urls
        url = urls[0] if urls else None
        if not url:
            raise SourceUnavailable(f"no RPC URL for registry {entry.registry}")
        self.entry = entry
        self.url = url
        self.chain_id = entry.chain_id
        self.address = entry.registry
        self._abi = registry_abi()
        try:
            self._http = RpcPool(urls, timeout=RPC_TIMEOUT_S)
        except RpcHttpError as exc:
            raise SourceUnavailable(str(exc)) from None
        self._window = PageWindow(LOG_PAGE_BLOCKS)
        self._lock = threading.Lock()
        self._checked = False
        self._block_times: dict[int, int] = {}
        self._revisions: dict[tuple[bytes, int], list[AnchorEvent]] = {}
        self._authorised: dict[tuple[bytes, str, int], bool] = {}
        self._offices: dict[bytes, tuple[float, OfficeState]] = {}

    # --- JSON-RPC -------------------------------------------------------------------------

    def _rpc(self, method: str, params: list[Any]) -> Any:
        try:
            return self._http.call(method, params)
        except RpcHttpError as exc:  # the node cannot be read: the verdict is "unavailable"
            raise SourceUnavailable(f"{exc}") from exc

    def _ensure_checked(self) -> None:
        if self._checked:
            return
        got = int(self._rpc("eth_chainId", []), 16)
        if got != self.chain_id:
            raise SourceUnavailable(
                f"the RPC node serves chain {got}, the trust list says {self.chain_id}"
            )
        if self._rpc("eth_getCode", [self.address, "latest"]) in ("0x", "", None):
            raise SourceUnavailable(f"no contract at {self.address} on chain {got}")
        self._checked = True

    def _view(self, name: str, *args: Any) -> tuple[Any, ...]:
        self._ensure_checked()
        fn = self._abi.function(name)
        data = fn.encode(args)
        raw = self._rpc("eth_call", [{"to": self.address, "data": _hex(data)}, "latest"])
        try:
            return fn.decode(bytes.fromhex(str(raw)[2:]))
        except Exception as exc:  # a node answering garbage is as good as no node
            raise SourceUnavailable(f"{name}: undecodable answer: {exc}") from exc

    def _logs(
        self, event: str, topics: list[str | None], from_block: int = 0, to_block: Any = "latest"
    ) -> list[dict[str, Any]]:
        self._ensure_checked()
        ev = self._abi.event(event)
        flt = {"address": self.address, "topics": [_hex(ev.topic), *topics]}
        try:  # paged within the node's limit, from the deployment block, confirmed only
            logs = read_logs(
                self._http.call,
                self._window,
                flt,
                from_block=from_block,
                to_block=None if to_block == "latest" else int(to_block),
                deployment_block=self.entry.deployment_block,
                confirmations=self.entry.confirmations,
            )
        except RpcHttpError as exc:
            raise SourceUnavailable(f"{exc}") from exc
        out = []
        for log in logs:
            try:
                values = ev.decode(
                    [bytes.fromhex(t[2:]) for t in log["topics"][1:]],
                    bytes.fromhex(log["data"][2:]),
                )
            except Exception as exc:
                raise SourceUnavailable(f"malformed {event} log: {exc}") from exc
            values["_block"] = int(log["blockNumber"], 16)
            values["_index"] = int(log["logIndex"], 16)
            out.append(values)
        out.sort(key=lambda v: (v["_block"], v["_index"]))
        return out

    # --- Registry ---------------------------------------------------------------------

    def head(self, record_id: bytes) -> HeadState:
        """The record's head (version 0 when unknown)."""
        (h,) = self._view("head", record_id)
        try:
            status = RecordStatus(int(h[2]))
        except ValueError as exc:
            raise SourceUnavailable(f"unknown record status {h[2]}") from exc
        return HeadState(
            office_id=bytes(h[0]),
            version=int(h[1]),
            status=status,
            leaf_prefix=bytes(h[3]),
            anchored_block=int(h[4]),
            valid_until=int(h[5]),
            replaced_by=bytes(h[6]),
        )

    def revisions(self, record_id: bytes, *, head_version: int | None = None) -> list[AnchorEvent]:
        """Every `RevisionAnchored` event of the record, in chain order (cached per head)."""
        key = (record_id, head_version if head_version is not None else -1)
        cached = self._revisions.get(key)
        if cached is not None:
            return cached
        events = [self._anchor(v) for v in self._logs("RevisionAnchored", [_topic(record_id)])]
        if head_version is not None and events and events[-1].version == head_version:
            with self._lock:
                if len(self._revisions) >= CACHE_RECORDS:
                    self._revisions.clear()
                self._revisions[key] = events
        return events

    def revocation(self, record_id: bytes) -> RevokeEvent | None:
        """The record's `RecordRevoked` event, if any."""
        logs = self._logs("RecordRevoked", [_topic(record_id)])
        if not logs:
            return None
        v = logs[-1]
        return RevokeEvent(
            record_id=record_id,
            signer=str(v["signer"]).lower(),
            reason_hash=bytes(v["reasonHash"]),
            block=v["_block"],
        )

    def replacement(self, record_id: bytes) -> ReplaceEvent | None:
        """The record's `RecordReplaced` event, if any."""
        logs = self._logs("RecordReplaced", [_topic(record_id)])
        if not logs:
            return None
        v = logs[-1]
        return ReplaceEvent(
            record_id=record_id, by_record_id=bytes(v["byRecordId"]), block=v["_block"]
        )

    def office(self, office_id: bytes) -> OfficeState:
        """The office as the registry names it (names never change; the suspension flag is
        re-read after `OFFICE_TTL_S`)."""
        now = time.monotonic()
        hit = self._offices.get(office_id)
        if hit is not None and hit[0] > now:
            return hit[1]
        (o,) = self._view("office", office_id)
        office = OfficeState(office_id=office_id, number=int(o[0]), suspended=bool(o[1]), name=o[2])
        with self._lock:
            self._offices[office_id] = (now + OFFICE_TTL_S, office)
        return office

    def signer_authorised_at(self, office_id: bytes, signer: str, block: int) -> bool:
        """Whether `signer` could sign for the office at `block` (a fact about a past block:
        cached once true)."""
        key = (office_id, signer.lower(), block)
        if self._authorised.get(key):
            return True
        (ok,) = self._view("signerAuthorisedAt", office_id, signer, block)
        if ok:
            with self._lock:
                if len(self._authorised) >= CACHE_RECORDS:
                    self._authorised.clear()
                self._authorised[key] = True
        return bool(ok)

    def block_time(self, block: int) -> int:
        """Timestamp of a block (unix seconds), cached."""
        ts = self._block_times.get(block)
        if ts is None:
            blk = self._rpc("eth_getBlockByNumber", [hex(block), False])
            if not isinstance(blk, dict):
                raise SourceUnavailable(f"block {block} not found")
            ts = int(blk["timestamp"], 16)
            with self._lock:
                self._block_times[block] = ts
        return ts

    def find_content(self, content_hash: bytes) -> list[AnchorEvent]:
        """Anchors with this contentHash: a paged scan of every `RevisionAnchored` log
        (contentHash is not indexed)."""
        self._ensure_checked()
        latest = int(self._rpc("eth_blockNumber", []), 16)
        found: list[AnchorEvent] = []
        for start in range(0, latest + 1, LOG_PAGE_BLOCKS):
            end = min(latest, start + LOG_PAGE_BLOCKS - 1)
            for v in self._logs("RevisionAnchored", [], start, end):
                if bytes(v["contentHash"]) == content_hash:
                    found.append(self._anchor(v))
        return found

    @staticmethod
    def _anchor(v: dict[str, Any]) -> AnchorEvent:
        return AnchorEvent(
            record_id=bytes(v["recordId"]),
            signer=str(v["signer"]).lower(),
            version=int(v["version"]),
            kind=int(v["kind"]),
            valid_until=int(v["validUntil"]),
            content_hash=bytes(v["contentHash"]),
            metadata_hash=bytes(v["metadataHash"]),
            block=v["_block"],
            log_index=v["_index"],
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
