"""Reading registry events with `eth_getLogs`, page by page, within what the node allows.

Nodes limit `eth_getLogs`: Besu by block range (1,000 by default, "Exceeds maximum RPC
range limit"), others by result count or response size, or they simply time out. The reader
starts with the configured page size and, whenever the node refuses a range, halves it (or
falls back to the widest range the node did serve). After a run of successes it grows back
towards the configured size: half-way to the narrowest refused width while that is
remembered, doubling otherwise. So a long replay settles just under the node's limit
without configuration, and recovers when a refusal was only a passing overload.

With `confirmations > 0` only blocks up to `head - confirmations` are read, and logs flagged
`removed` (dropped by a reorg) are skipped.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import requests
from web3 import Web3
from web3.exceptions import Web3RPCError

from notary.chain.abi import ContractAbi
from notary.chain.config import ChainConfig
from notary.chain.errors import LogRangeRefused, NodeError
from notary.chain.events import RegistryEvent, decode_log
from notary.chain.tx import node_errors, rpc_error_message
from notary.errors import InvalidInput

GROW_AFTER = 4
"""Consecutive successful pages before the page size grows again."""
FORGET_AFTER = 16
"""Successful pages after which a refused width no longer caps the growth."""

# How nodes say "ask for less": Besu, geth, erigon, Infura, Alchemy and friends.
_REFUSAL = re.compile(
    r"exceeds? (the )?(max|limit)|range limit|block range|range (is )?too|too (large|wide|big|many)"
    r"|more than \d+|response size|size exceeded|limit exceeded|narrow|timed? ?out|timeout",
    re.I,
)
_REFUSAL_CODES = {-32005}


def is_range_refusal(exc: BaseException) -> bool:
    """True when `exc` means the node refused an `eth_getLogs` range as too large."""
    if isinstance(exc, requests.Timeout):
        return True
    if isinstance(exc, requests.HTTPError):
        status = exc.response.status_code if exc.response is not None else 0
        return status in (408, 413, 502, 503, 504)
    if isinstance(exc, Web3RPCError):
        response = exc.rpc_response if isinstance(exc.rpc_response, dict) else {}
        error = response.get("error") if isinstance(response.get("error"), dict) else {}
        if error.get("code") in _REFUSAL_CODES:
            return True
        return bool(_REFUSAL.search(rpc_error_message(exc)))
    return False


class LogReader:
    """Paginated, decoding `eth_getLogs` over one registry address."""

    def __init__(self, web3: Web3, address: str, abi: ContractAbi, config: ChainConfig) -> None:
        self.web3 = web3
        self.address = address
        self.abi = abi
        self.config = config
        self.page_size = config.log_page_size
        self._streak = 0
        self._good = 0  # the widest range the node has served
        self._ceiling: int | None = None  # the narrowest range it refused (for a while)
        self._since_refusal = 0
        self._lock = threading.Lock()

    def latest_safe_block(self) -> int:
        """The newest block with `confirmations` blocks on top (-1 if there is none yet)."""
        with node_errors("eth_blockNumber"):
            head = int(self.web3.eth.block_number)
        return head - self.config.confirmations

    def topic_filter(
        self, event_names: Iterable[str] | None, extra: Sequence[bytes | None] = ()
    ) -> list[Any]:
        """The `topics` filter for these events (all of the ABI's when None)."""
        if event_names is None:
            first: Any = None
        else:
            names = list(event_names)
            if not names:
                raise InvalidInput("event_names is empty: name at least one event, or pass None")
            # Every format of each event, so an older registry's logs are found too.
            first = ["0x" + t.hex() for n in names for t in self.abi.topics(n)]
        rest = ["0x" + t.hex() if t is not None else None for t in extra]
        return [first, *rest]

    def iter_logs(
        self,
        from_block: int,
        to_block: int | None = None,
        *,
        event_names: Iterable[str] | None = None,
        topics: Sequence[bytes | None] = (),
        confirmed: bool = True,
    ) -> Iterator[RegistryEvent]:
        """Every registry event in `[from_block, to_block]`, in chain order.

        `to_block` defaults to, and is capped at, `latest_safe_block()` (the head when
        `confirmed` is false). `event_names` keeps only those events; `topics` adds filters
        on the indexed arguments after topic 0.
        """
        if type(from_block) is not int or from_block < 0:
            raise InvalidInput(f"from_block must be a non-negative integer; got {from_block!r}")
        safe = self.latest_safe_block()
        if not confirmed:
            safe += self.config.confirmations
        end = safe if to_block is None else min(int(to_block), safe)
        topic_filter = self.topic_filter(event_names, topics)
        pages = self.paged(from_block, end, lambda a, b: self._get_logs(a, b, topic_filter))
        for _start, _stop, raw in pages:
            for log in raw:
                if log.get("removed"):
                    continue
                event = decode_log(self.abi, log)
                if event is not None:
                    yield event

    def paged(
        self, start: int, end: int, fetch: Callable[[int, int], list[dict[str, Any]]]
    ) -> Iterator[tuple[int, int, list[dict[str, Any]]]]:
        """`(from, to, fetch(from, to))` for consecutive ranges covering `[start, end]`.

        The one paging loop over `eth_getLogs`: a range the node refuses as too large is
        asked again in smaller pieces (`_shrink`), and successes grow the page back
        (`_grow`); any other error is a `NodeError`, and a refusal of a single block a
        `LogRangeRefused`.
        """
        while start <= end:
            with self._lock:
                size = self.page_size
            stop = min(end, start + size - 1)
            try:
                raw = fetch(start, stop)
            except (Web3RPCError, requests.RequestException) as exc:
                if not is_range_refusal(exc):
                    raise NodeError(f"eth_getLogs failed: {rpc_error_message(exc)}") from exc
                if stop == start:
                    raise LogRangeRefused(
                        f"the node refuses eth_getLogs even for block {start}: "
                        f"{rpc_error_message(exc)}"
                    ) from exc
                self._shrink(stop - start + 1)
                continue
            self._grow(stop - start + 1)
            yield start, stop, raw
            start = stop + 1

    def _get_logs(self, start: int, stop: int, topic_filter: list[Any]) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"address": self.address, "fromBlock": start, "toBlock": stop}
        if any(t is not None for t in topic_filter):
            params["topics"] = topic_filter
        # Timeouts are a refusal here (too much work for the node), not a dead node.
        try:
            logs = self.web3.eth.get_logs(params)  # type: ignore[arg-type]
        except requests.ConnectionError:
            with node_errors("eth_getLogs"):
                raise
        return sorted(
            (dict(log) for log in logs),
            key=lambda log: (int(log["blockNumber"]), int(log["logIndex"])),
        )

    def _shrink(self, refused: int) -> None:
        """After a refusal of `refused` blocks: back to the largest width known to work
        (below it), else half the refused width."""
        with self._lock:
            self._ceiling = refused if self._ceiling is None else min(self._ceiling, refused)
            if self._good >= refused:
                self._good = 0  # the node got stricter: what worked before no longer does
            self.page_size = self._good if self._good else max(1, refused // 2)
            self._streak = 0
            self._since_refusal = 0

    def _grow(self, served: int) -> None:
        """After a success: every `GROW_AFTER` successes, grow towards the configured size,
        by doubling, or half-way to the smallest refused width while one is remembered."""
        with self._lock:
            self._good = max(self._good, served)
            self._streak += 1
            self._since_refusal += 1
            if self._since_refusal >= FORGET_AFTER:
                self._ceiling = None  # a refusal long ago may have been a passing overload
            if self._streak < GROW_AFTER or self.page_size >= self.config.log_page_size:
                return
            self._streak = 0
            target = self.page_size * 2
            if self._ceiling is not None:
                target = min(target, (self.page_size + self._ceiling) // 2)
            self.page_size = max(self.page_size, min(target, self.config.log_page_size))
