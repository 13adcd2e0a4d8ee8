"""Paging block ranges within what a node serves: the one loop behind every `eth_getLogs` read.

Nodes limit `eth_getLogs`: Besu by block range (`--rpc-max-logs-range`, 1,000 blocks when
Besu 22.10 introduced it, 5,000 since 23.1; JSON-RPC error -32005 "Requested range exceeds
maximum RPC range limit"), hosted nodes by result count ("query returned more than 10000
results", also -32005), others by response size, or they simply time out. `paged` starts
with the configured page size and, whenever the node refuses a range, halves it (or falls
back to the widest range the node did serve). After a run of successes it grows back
towards the configured size: half-way to the narrowest refused width while that is
remembered, doubling otherwise. So a long read settles just under the node's limit without
configuration, and recovers when a refusal was only a passing overload.

Pure: no transport. The service's reader (`notary.chain.logs`, web3) and the verifier
(`verifier.chainsource`, plain HTTP) each say how their transport shows a refusal
(`refusal_text` classifies a JSON-RPC error's code and message for both).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from typing import TypeVar

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
REFUSAL_CODES = frozenset({-32005})
"""JSON-RPC error codes meaning "limit exceeded" (Besu, Infura, Alchemy: -32005)."""

Page = TypeVar("Page")


class SingleBlockRefused(Exception):
    """The node refuses even a one-block range: paging cannot help."""

    def __init__(self, block: int, cause: BaseException) -> None:
        super().__init__(f"the node refuses eth_getLogs even for block {block}: {cause}")
        self.block = block
        self.cause = cause


def refusal_text(code: object, message: object) -> bool:
    """True when a JSON-RPC error (code, message) means "this range is too large"."""
    if code in REFUSAL_CODES:
        return True
    return isinstance(message, str) and bool(_REFUSAL.search(message))


class PageWindow:
    """The adaptive page width of one reader (thread-safe; shared by its reads)."""

    def __init__(self, max_size: int) -> None:
        if type(max_size) is not int or max_size < 1:
            raise ValueError(f"page size must be a positive integer; got {max_size!r}")
        self.max_size = max_size
        self.size = max_size
        self._streak = 0
        self._good = 0  # the widest range the node has served
        self._ceiling: int | None = None  # the narrowest range it refused (for a while)
        self._since_refusal = 0
        self._lock = threading.Lock()

    def current(self) -> int:
        """The width to ask for next."""
        with self._lock:
            return self.size

    def shrink(self, refused: int) -> None:
        """After a refusal of `refused` blocks: back to the largest width known to work
        (below it), else half the refused width."""
        with self._lock:
            self._ceiling = refused if self._ceiling is None else min(self._ceiling, refused)
            if self._good >= refused:
                self._good = 0  # the node got stricter: what worked before no longer does
            self.size = self._good if self._good else max(1, refused // 2)
            self._streak = 0
            self._since_refusal = 0

    def grow(self, served: int) -> None:
        """After a success: every `GROW_AFTER` successes, grow towards the configured size,
        by doubling, or half-way to the smallest refused width while one is remembered."""
        with self._lock:
            self._good = max(self._good, served)
            self._streak += 1
            self._since_refusal += 1
            if self._since_refusal >= FORGET_AFTER:
                self._ceiling = None  # a refusal long ago may have been a passing overload
            if self._streak < GROW_AFTER or self.size >= self.max_size:
                return
            self._streak = 0
            target = self.size * 2
            if self._ceiling is not None:
                target = min(target, (self.size + self._ceiling) // 2)
            self.size = max(self.size, min(target, self.max_size))


def paged(
    window: PageWindow,
    start: int,
    end: int,
    fetch: Callable[[int, int], Page],
    is_refusal: Callable[[Exception], bool],
) -> Iterator[tuple[int, int, Page]]:
    """`(from, to, fetch(from, to))` for consecutive ranges tiling `[start, end]` once.

    A range `fetch` fails with an exception `is_refusal` accepts is asked again in smaller
    pieces; a refusal of a single block raises `SingleBlockRefused`; any other exception
    propagates unchanged (the caller says what it means).
    """
    while start <= end:
        stop = min(end, start + window.current() - 1)
        try:
            page = fetch(start, stop)
        except Exception as exc:
            if not is_refusal(exc):
                raise
            if stop == start:
                raise SingleBlockRefused(start, exc) from exc
            window.shrink(stop - start + 1)
            continue
        window.grow(stop - start + 1)
        yield start, stop, page
        start = stop + 1
