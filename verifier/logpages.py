"""The verifier's `eth_getLogs`: within the trust entry's bounds and the node's range limit.

Every log read of `verifier.chainsource` goes through `read_logs`, so the rules live in one
place:

- **Lower bound.** Nothing is older than the registry's deployment block (the trust entry's
  `deployment_block`), so no query starts before it.
- **Finality.** With `confirmations > 0` only blocks at or below `head - confirmations` are
  read: an anchor in a block that may still be reorged away is not acted on.
- **Node limits.** A Besu node refuses a range over `--rpc-max-logs-range` blocks; the
  range is then paged with the adaptive window of `notary.chain.paging` (shared with the
  service's reader). While no refusal has been seen, an open-ended read is one call up to
  "latest" (the verify page's common case costs no extra `eth_blockNumber`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from notary.chain.paging import PageWindow, SingleBlockRefused, paged
from verifier.rpc_http import RpcHttpError

Call = Callable[[str, list[Any]], Any]


def _refused(exc: Exception) -> bool:
    return isinstance(exc, RpcHttpError) and exc.is_range_refusal


def read_logs(
    call: Call,
    window: PageWindow,
    flt: dict[str, Any],
    *,
    from_block: int,
    to_block: int | None,
    deployment_block: int = 0,
    confirmations: int = 0,
    safe_block: int | None = None,
) -> list[dict[str, Any]]:
    """The raw logs matching `flt` (address, topics) in `[from_block, to_block]`, clipped to
    `[deployment_block, head - confirmations]` (`to_block` None: up to that bound).

    `call(method, params)` is the JSON-RPC call (raising `RpcHttpError`); a node that
    refuses even one block raises `RpcHttpError` too (the node cannot be read).
    `safe_block`: `head - confirmations` when the caller has just read it (saves a call).
    """
    start = max(int(from_block), int(deployment_block))
    open_ended = to_block is None
    if open_ended and confirmations == 0 and window.current() >= window.max_size:
        try:
            return list(
                call("eth_getLogs", [{**flt, "fromBlock": hex(start), "toBlock": "latest"}])
            )
        except RpcHttpError as exc:
            if not exc.is_range_refusal:
                raise
            window.shrink(window.max_size)  # page from now on (the limit is the node's)
    end = to_block
    if open_ended or confirmations:
        if safe_block is not None and confirmations:
            safe = safe_block
        else:
            safe = int(call("eth_blockNumber", []), 16) - confirmations
        end = safe if end is None else min(int(end), safe)
    assert end is not None

    def fetch(a: int, b: int) -> list[dict[str, Any]]:
        return list(call("eth_getLogs", [{**flt, "fromBlock": hex(a), "toBlock": hex(b)}]))

    out: list[dict[str, Any]] = []
    try:
        for _a, _b, page in paged(window, start, int(end), fetch, _refused):
            out.extend(page)
    except SingleBlockRefused as exc:
        raise RpcHttpError(str(exc)) from exc
    return out
