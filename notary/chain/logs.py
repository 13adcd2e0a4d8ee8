"""Reading registry events with `eth_getLogs`, page by page, within what the node allows.

The paging itself (shrink on a refusal, grow back after successes) is `notary.chain.paging`,
shared with the verifier; this module says how web3 and `requests` show a refusal: a
-32005 or a "range too large" message, an HTTP 408/413/502/503/504, or a timeout.

With `confirmations > 0` only blocks up to `head - confirmations` are read, and logs flagged
`removed` (dropped by a reorg) are skipped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import requests
from web3 import Web3
from web3.exceptions import Web3RPCError

from notary.chain.abi import ContractAbi
from notary.chain.config import ChainConfig
from notary.chain.errors import LogRangeRefused, NodeError
from notary.chain.events import RegistryEvent, decode_log
from notary.chain.paging import PageWindow, SingleBlockRefused, paged, refusal_text
from notary.chain.tx import node_errors, rpc_error_message
from notary.errors import InvalidInput


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
        return refusal_text(error.get("code"), rpc_error_message(exc))
    return False


class LogReader:
    """Paginated, decoding `eth_getLogs` over one registry address."""

    def __init__(self, web3: Web3, address: str, abi: ContractAbi, config: ChainConfig) -> None:
        self.web3 = web3
        self.address = address
        self.abi = abi
        self.config = config
        self.window = PageWindow(config.log_page_size)

    @property
    def page_size(self) -> int:
        """The width the next `eth_getLogs` asks for (adapts to the node's limit)."""
        return self.window.current()

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

        `notary.chain.paging.paged` with web3's errors: a range the node refuses as too
        large is asked again in smaller pieces; any other error is a `NodeError`, and a
        refusal of a single block a `LogRangeRefused`.
        """
        pages = paged(self.window, start, end, fetch, is_range_refusal)
        try:
            yield from pages
        except SingleBlockRefused as exc:
            raise LogRangeRefused(
                f"the node refuses eth_getLogs even for block {exc.block}: "
                f"{rpc_error_message(exc.cause)}"
            ) from exc.cause
        except (Web3RPCError, requests.RequestException) as exc:
            raise NodeError(f"eth_getLogs failed: {rpc_error_message(exc)}") from exc

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
