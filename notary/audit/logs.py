"""Raw `eth_getLogs` pages for the audit replay: no web3 formatting, no per-log ABI decoding.

Replay speed is dominated by fetching; the web3 result formatters and a per-log eth_abi
decode would cost more than the fetch itself at 100,000 logs. `RawLogReader` keeps the
adaptive page size of `notary.chain.logs.LogReader` (shrinks on a refusal, grows back)
but asks the provider directly and hands back the JSON-RPC log objects as they came.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from web3.exceptions import Web3RPCError

from notary.chain.errors import NodeError
from notary.chain.logs import LogReader


@dataclass(frozen=True, slots=True)
class LogPage:
    """The raw logs of blocks `[from_block, to_block]`, in chain order."""

    from_block: int
    to_block: int
    logs: list[dict[str, Any]]


class RawLogReader(LogReader):
    """`LogReader` that yields pages of undecoded logs (dicts with hex strings)."""

    def iter_pages(self, from_block: int, to_block: int, *, prefetch: int = 0) -> Iterator[LogPage]:
        """Every page of raw registry logs in `[from_block, to_block]` (both inclusive).

        With `prefetch > 0` a background thread fetches up to that many pages ahead, so
        the node works on the next page while the caller processes this one.
        """
        if prefetch > 0:
            yield from _prefetched(self._pages(from_block, to_block), prefetch)
        else:
            yield from self._pages(from_block, to_block)

    def _pages(self, from_block: int, to_block: int) -> Iterator[LogPage]:
        for start, stop, raw in self.paged(from_block, to_block, self._raw_logs):
            yield LogPage(start, stop, _in_chain_order(raw, str(self.address), start, stop))

    def _raw_logs(self, start: int, stop: int) -> list[dict[str, Any]]:
        params = {"address": self.address, "fromBlock": hex(start), "toBlock": hex(stop)}
        response = self.web3.provider.make_request("eth_getLogs", [params])  # type: ignore[arg-type]
        error = response.get("error")
        if error:
            raise Web3RPCError(str(error.get("message", error)), rpc_response=response)
        # JSON-RPC returns logs in chain order (block, log index); reorged ones are dropped.
        return [log for log in response.get("result") or () if not log.get("removed")]


def _in_chain_order(
    logs: list[dict[str, Any]], address: str, start: int, stop: int
) -> list[dict[str, Any]]:
    """The node's logs sorted by (block, log index), each checked to be the registry's and
    in the blocks asked for. A node that answers otherwise is broken or hostile: replaying
    its answer would pin another contract's events, or a misordering, on the registry."""
    want = address.lower()
    keyed = []
    for log in logs:
        if str(log.get("address", "")).lower() != want:
            raise NodeError(
                f"the node returned a log of another contract ({str(log.get('address'))[:42]})"
                " for the registry's eth_getLogs"
            )
        try:
            block, index = int(log["blockNumber"], 16), int(log["logIndex"], 16)
        except (KeyError, TypeError, ValueError):
            raise NodeError("the node returned a log without a block number or index") from None
        if not start <= block <= stop:
            raise NodeError(f"the node returned a log of block {block}, outside {start}-{stop}")
        keyed.append(((block, index), log))
    keyed.sort(key=lambda item: item[0])
    return [log for _, log in keyed]


_DONE = object()


def _prefetched(pages: Iterator[LogPage], depth: int) -> Iterator[LogPage]:
    """Run `pages` in a daemon thread, `depth` pages ahead; errors re-raise here."""
    slots: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                slots.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for page in pages:
                if not put(page):
                    return
            put(_DONE)
        except BaseException as exc:  # handed to the consumer, raised there
            put(exc)

    thread = threading.Thread(target=produce, name="getlogs-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            item = slots.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        thread.join(timeout=5)
