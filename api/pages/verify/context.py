"""What every verify page needs from the app: the trust list, the verdict cache, the
registry connector, and the slots and rate limits that keep anonymous work bounded.

Trust list, in order: `app.state.verify_trust`, the file named by `NOTARY_VERIFY_TRUST`,
`<data_dir>/trust.json`, else the node's own chain config (`notary.chain.config.ChainConfig`).
"""

from __future__ import annotations

import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
from fastapi import Request

from api.services.page_fields import bind_pages
from verifier.result import VerificationResult
from verifier.trust import TrustList, load_trust
from verifier.verify import verify_payload

RESULT_TTL_S = 2.0
"""How long a verdict for one code is reused (status changes show within this)."""
CACHE_ENTRIES = 2048


def page_trust(request: Request) -> TrustList:
    """The trust list the pages verify against (see the module docstring for the order)."""
    state = request.app.state
    trust = getattr(state, "verify_trust", None)
    if isinstance(trust, TrustList):
        return trust
    settings = getattr(state, "settings", None)
    data_dir = Path(getattr(settings, "data_dir", ".notary"))
    path = os.environ.get("NOTARY_VERIFY_TRUST") or (
        str(data_dir / "trust.json") if (data_dir / "trust.json").exists() else None
    )
    if path:
        trust = load_trust(path)
    else:
        from notary.chain.config import ChainConfig

        cfg = ChainConfig.load(data_dir)
        if not cfg.registry:
            trust = TrustList(())
        else:
            trust = TrustList.single(
                chain_id=cfg.chain_id, registry=cfg.registry, name="本地政务公证链",
                rpc_url=cfg.rpc_url, rpc_urls=cfg.rpc_urls,
                deployment_block=cfg.start_block, confirmations=cfg.confirmations,
            )  # fmt: skip
    state.verify_trust = trust
    return trust


class ResultCache:
    """A small TTL cache of verdicts per code, so a burst of scans costs one chain read."""

    def __init__(self, ttl: float = RESULT_TTL_S, size: int = CACHE_ENTRIES) -> None:
        self.ttl, self.size = ttl, size
        self._items: OrderedDict[str, tuple[float, VerificationResult]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str, compute: Callable[[], VerificationResult]) -> VerificationResult:
        """The cached verdict for `key`, else `compute()`'s (kept for `ttl` seconds)."""
        now = time.monotonic()
        with self._lock:
            hit = self._items.get(key)
            if hit and hit[0] > now:
                return hit[1]
        result = compute()
        with self._lock:
            self._items[key] = (now + self.ttl, result)
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return result


def _cache(request: Request) -> ResultCache:
    state = request.app.state
    cache = getattr(state, "verify_cache", None)
    if cache is None:
        default_ttl = float(os.environ.get("NOTARY_VERIFY_CACHE_TTL", RESULT_TTL_S))
        cache = ResultCache(getattr(state, "verify_ttl", default_ttl))
        state.verify_cache = cache
    return cache


def connector(request: Request) -> Any:
    """The registry connector (`app.state.verify_connect`, else the process-wide pool)."""
    return getattr(request.app.state, "verify_connect", None)


def verify_code(request: Request, code: str) -> VerificationResult:
    """The verdict for a code, from the cache or the chain."""
    trust, connect = page_trust(request), connector(request)
    blobs = getattr(getattr(request.app.state, "settings", None), "blobs", None)
    return _cache(request).get(
        code, lambda: bind_pages(verify_payload(code, trust, connect=connect), blobs)
    )


def expensive_slots(request: Request) -> anyio.CapacityLimiter:
    """The expensive anonymous work done at once (uploads, page images:
    `NOTARY_EXPENSIVE_CONCURRENCY`), apart from the verify pages' slots, so that however
    many such requests arrive, citizens opening `/v/` pages keep their own slots and the
    rest of the CPU."""
    state = request.app.state
    slots = getattr(state, "expensive_slots", None)
    if slots is None:
        settings = getattr(state, "settings", None)
        slots = anyio.CapacityLimiter(getattr(settings, "expensive_concurrency", 1))
        state.expensive_slots = slots
    return slots


def page_slots(request: Request) -> anyio.CapacityLimiter:
    """The verify pages worked on at once (`NOTARY_VERIFY_CONCURRENCY`); the rest wait their
    turn in arrival order. The work is mostly CPU under one GIL, so more threads only slice
    it thinner: every page in progress gets slower and the tail grows, with no more pages
    per second."""
    state = request.app.state
    slots = getattr(state, "verify_slots", None)
    if slots is None:
        from api.core.settings import Settings

        default = Settings.model_fields["verify_concurrency"].default
        slots = anyio.CapacityLimiter(
            getattr(getattr(state, "settings", None), "verify_concurrency", default)
        )
        state.verify_slots = slots
    return slots
