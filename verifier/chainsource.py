"""`Registry` over JSON-RPC: reads a trusted registry with plain `eth_call` / `eth_getLogs`.

Only views and event logs are used; no key, no transaction, no database. Calls are encoded
and decoded with the registry ABI codec of `notary.chain.abi` (pure, eth_abi) and sent over
keep-alive HTTP connections (`verifier.rpc_http`); web3's contract layer costs several
extra round trips per call (chain-id validation) which a verify page under load cannot
afford.

The node is checked once per registry: it must serve the trust entry's chain id and have
code at the registry address. Blocks are immutable once read, so block timestamps are
cached, and so are a record's events in a block. A record's history is read back from its
head block by block (docs/verifier.md, "What a verification reads"), so a verification's
reads do not grow with the chain's length.
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
MAX_SCAN_BLOCKS = 100_000
"""The longest history `find_content` scans (blocks from the deployment block to the
confirmed head); past it `verifier check FILE` asks for `--index URL` instead."""


class ScanTooLong(SourceUnavailable):
    """A content scan would read more blocks than the verifier's bound allows."""


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

    def __init__(
        self,
        entry: TrustEntry,
        *,
        rpc_url: str | None = None,
        max_scan_blocks: int = MAX_SCAN_BLOCKS,
    ) -> None:
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
        self._blocks: dict[tuple[bytes, int], list[dict[str, Any]]] = {}
        self._record_topics = tuple(
            t
            for name in ("RevisionAnchored", "RecordRevoked", "RecordReplaced")
            for t in self._abi.topics(name)
        )
        self._authorised: dict[tuple[bytes, str, int], bool] = {}
        self._offices: dict[bytes, tuple[float, OfficeState]] = {}
        self._safe: int | None = None
        self.max_scan_blocks = max_scan_blocks

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

    def _safe_block(self, *, fresh: bool = False) -> int | None:
        """`latest - confirmations`; None without confirmations, where every read is at
        "latest" and costs no `eth_blockNumber`. `head` asks afresh (it starts every
        verification); the reads after it reuse that block, so a verification's views and
        logs describe one confirmed block. It only moves forward (threads share it)."""
        if not self.entry.confirmations:
            return None
        if fresh or self._safe is None:
            safe = max(0, int(self._rpc("eth_blockNumber", []), 16) - self.entry.confirmations)
            with self._lock:
                self._safe = max(safe, self._safe or 0)
        return self._safe

    def _view(self, name: str, *args: Any, fresh: bool = False) -> tuple[Any, ...]:
        """A registry view, at the confirmed block when the trust entry asks for
        confirmations (a head that ran ahead of the confirmed logs would name blocks the
        verifier may not read yet)."""
        self._ensure_checked()
        fn = self._abi.function(name)
        data = fn.encode(args)
        safe = self._safe_block(fresh=fresh)
        at = "latest" if safe is None else hex(safe)
        raw = self._rpc("eth_call", [{"to": self.address, "data": _hex(data)}, at])
        try:
            return fn.decode(bytes.fromhex(str(raw)[2:]))
        except Exception as exc:  # a node answering garbage is as good as no node
            raise SourceUnavailable(f"{name}: undecodable answer: {exc}") from exc

    def _read_logs(
        self, flt: dict[str, Any], from_block: int, to_block: int | str
    ) -> list[dict[str, Any]]:
        """Raw logs matching `flt`, paged within the node's limit, from the deployment block,
        confirmed only (`verifier.logpages.read_logs`); a node failure is `SourceUnavailable`."""
        try:
            return read_logs(
                self._http.call,
                self._window,
                flt,
                from_block=from_block,
                to_block=None if to_block == "latest" else int(to_block),
                deployment_block=self.entry.deployment_block,
                confirmations=self.entry.confirmations,
                safe_block=self._safe_block(),
            )
        except RpcHttpError as exc:
            raise SourceUnavailable(f"{exc}") from exc

    def _logs(
        self, event: str, topics: list[str | None], from_block: int = 0, to_block: Any = "latest"
    ) -> list[dict[str, Any]]:
        self._ensure_checked()
        ev = self._abi.event(event)
        flt = {"address": self.address, "topics": [_hex(ev.topic), *topics]}
        logs = self._read_logs(flt, from_block, to_block)
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
        (h,) = self._view("head", record_id, fresh=True)
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

    def _record_logs(
        self, record_id: bytes | None, from_block: int, to_block: int | str
    ) -> list[dict[str, Any]]:
        """The record's events (anchors, revocation, replacement; every format) in a range,
        decoded, in chain order; every record's anchors when `record_id` is None. One
        `eth_getLogs`: topic 0 is the list of the events' topics in every format."""
        self._ensure_checked()
        if record_id is None:
            topics: list[Any] = [[_hex(t) for t in self._abi.topics("RevisionAnchored")]]
        else:
            topics = [[_hex(t) for t in self._record_topics], _topic(record_id)]
        logs = self._read_logs({"address": self.address, "topics": topics}, from_block, to_block)
        out = []
        for log in logs or []:
            try:
                ev = self._abi.events[bytes.fromhex(log["topics"][0][2:])]
                values = ev.decode(
                    [bytes.fromhex(t[2:]) for t in log["topics"][1:]],
                    bytes.fromhex(log["data"][2:]),
                )
                values["_event"] = ev.name
                values["_block"] = int(log["blockNumber"], 16)
                values["_index"] = int(log["logIndex"], 16)
                stamp = log.get("blockTimestamp")
                values["_time"] = int(stamp, 16) if isinstance(stamp, str) else None
            except Exception as exc:  # a node answering garbage is as good as no node
                raise SourceUnavailable(f"malformed record log: {exc}") from exc
            if values["_time"] is not None:
                with self._lock:
                    self._block_times.setdefault(values["_block"], values["_time"])
            out.append(values)
        out.sort(key=lambda v: (v["_block"], v["_index"]))
        return out

    def _record_block(self, record_id: bytes, block: int) -> list[dict[str, Any]]:
        """The record's events in one block (blocks are immutable once read: cached).

        With confirmations, a block above `latest - confirmations` is not read yet (its
        events may still be reorged away) and nothing about it is cached."""
        key = (record_id, block)
        hit = self._blocks.get(key)
        if hit is None:
            safe = self._safe_block()
            if safe is not None and block > safe:
                return []
            hit = self._record_logs(record_id, block, block)
            with self._lock:
                if len(self._blocks) >= CACHE_RECORDS:
                    self._blocks.clear()
                self._blocks[key] = hit
        return hit

    def revisions(
        self, record_id: bytes, *, head: HeadState, from_version: int = 1
    ) -> list[AnchorEvent]:
        """Versions `from_version` … `head.version` of the record, in version order.

        Read back from the head: the head names the block of the latest change; each event
        there carries the head word it replaced, whose block is the previous anchor's. One
        `eth_getLogs` of one block per block walked (versions anchored in one block come in
        one answer), so the cost is the number of versions read, never the chain's length.
        A format-1 registry's events carry no `prevHead`: its record is read in one scan of
        the whole history, as before.
        """
        from_version = max(1, from_version)
        if head.version == 0 or from_version > head.version:
            return []
        block = head.anchored_block
        if head.status in (RecordStatus.REVOKED, RecordStatus.REPLACED):
            closing = self.closing(record_id, head=head)
            if closing is None or closing.prev_head is None:
                return self._scanned_revisions(record_id, from_version)
            block = int.from_bytes(closing.prev_head[28:], "big")
        found: dict[int, AnchorEvent] = {}
        want = head.version
        while want >= from_version:
            for v in self._record_block(record_id, block):
                if v["_event"] == "RevisionAnchored":
                    ev = self._anchor(v)
                    found.setdefault(ev.version, ev)
            ev = found.get(want)
            if ev is None:
                raise SourceUnavailable(
                    f"the registry's events lack version {want} of the record at block {block}"
                )
            if ev.prev_head is None:  # a format-1 registry
                return self._scanned_revisions(record_id, from_version)
            while want in found and want >= from_version:
                ev = found[want]
                want -= 1
                prev = ev.prev_block or 0
                if want < from_version:
                    break
                if prev != block:
                    if prev >= block:  # the chain only goes back: anything else is garbage
                        raise SourceUnavailable(f"version {ev.version}'s link points forward")
                    block = prev
                    break
        return [found[v] for v in range(from_version, head.version + 1)]

    def anchor_in_block(self, record_id: bytes, version: int, block: int) -> AnchorEvent | None:
        """The anchor of `version` of the record if it is in `block` (one block read)."""
        for v in self._record_block(record_id, block):
            if v["_event"] == "RevisionAnchored" and int(v["version"]) == version:
                return self._anchor(v)
        return None

    def _scanned_revisions(self, record_id: bytes, from_version: int) -> list[AnchorEvent]:
        """A format-1 registry's record: every anchor event in one scan, filtered."""
        events = [
            self._anchor(v)
            for v in self._record_logs(record_id, 0, "latest")
            if v["_event"] == "RevisionAnchored"
        ]
        return [e for e in events if e.version >= from_version]

    def closing(self, record_id: bytes, *, head: HeadState) -> RevokeEvent | ReplaceEvent | None:
        """The revocation or replacement of a closed record: in the block its head names
        (one `eth_getLogs`); a format-1 registry's is found by a scan."""
        if head.status not in (RecordStatus.REVOKED, RecordStatus.REPLACED):
            return None
        name = "RecordRevoked" if head.status is RecordStatus.REVOKED else "RecordReplaced"
        at = self._record_block(record_id, head.anchored_block)
        logs = [v for v in at if v["_event"] == name]
        if not logs or logs[-1].get("prevHead") is None:
            logs = [v for v in self._record_logs(record_id, 0, "latest") if v["_event"] == name]
        if not logs:
            return None
        v = logs[-1]
        prev = bytes(v["prevHead"]) if v.get("prevHead") is not None else None
        if name == "RecordRevoked":
            return RevokeEvent(
                record_id=record_id,
                signer=str(v["signer"]).lower(),
                reason_hash=bytes(v["reasonHash"]),
                block=v["_block"],
                prev_head=prev,
                block_time=v["_time"],
            )
        return ReplaceEvent(
            record_id=record_id,
            by_record_id=bytes(v["byRecordId"]),
            block=v["_block"],
            reason_hash=bytes(v.get("reasonHash") or bytes(32)),
            prev_head=prev,
            block_time=v["_time"],
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
        (contentHash is not indexed). Linear in the chain: only `verifier check FILE`
        without a content index uses it; the service asks its database instead. A history
        longer than `max_scan_blocks` is refused (`ScanTooLong`) before any log is read."""
        self._ensure_checked()
        safe = self._safe_block(fresh=True)
        head = safe if safe is not None else int(self._rpc("eth_blockNumber", []), 16)
        span = head - self.entry.deployment_block + 1
        if span > self.max_scan_blocks:
            raise ScanTooLong(
                f"finding bytes without an index means reading all {span} blocks of registry "
                f"{self.address}, more than the limit of {self.max_scan_blocks}: give the "
                "publishing service's URL with --index URL (or raise --max-scan-blocks)"
            )
        return [
            self._anchor(v)
            for v in self._record_logs(None, 0, "latest")
            if bytes(v["contentHash"]) == content_hash
        ]

    @staticmethod
    def _anchor(v: dict[str, Any]) -> AnchorEvent:
        prev = v.get("prevHead")
        return AnchorEvent(
            prev_head=bytes(prev) if prev is not None else None,
            block_time=v.get("_time"),
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

    def __init__(
        self, rpc_override: str | None = None, *, max_scan_blocks: int = MAX_SCAN_BLOCKS
    ) -> None:
        self._rpc_override = rpc_override
        self._max_scan_blocks = max_scan_blocks
        self._pool: dict[tuple[int, str], ChainRegistry] = {}
        self._lock = threading.Lock()

    def __call__(self, entry: TrustEntry) -> ChainRegistry:
        key = (entry.chain_id, entry.registry)
        with self._lock:
            reg = self._pool.get(key)
            if reg is None:
                reg = ChainRegistry(
                    entry, rpc_url=self._rpc_override, max_scan_blocks=self._max_scan_blocks
                )
                self._pool[key] = reg
            return reg
