"""One replay run: load (or start) the state, read pages of logs, apply, check, save.

Resumable: with a state file, a run continues from `last_block + 1` of the previous one,
and the state is saved after every page that took a while, so an interrupted run loses
at most a few seconds of work.
"""

from __future__ import annotations

import contextlib
import gc
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from notary.audit.logs import RawLogReader
from notary.audit.replay import Replayer, ReplaySummary
from notary.audit.state import ReplayState
from notary.chain.client import RegistryClient
from notary.errors import InvalidInput

SAVE_EVERY_S = 5.0
"""Save the state file at most this often during a long run (and always at the end)."""

PREFETCH_PAGES = 2
"""Pages fetched ahead in a background thread while the current one is applied."""

ProgressFn = Callable[[int, int, int], None]
"""`progress(done_blocks, total_blocks, logs_so_far)` after each page."""


def new_state(client: RegistryClient, from_block: int | None = None) -> ReplayState:
    """An empty state for `client`'s registry, starting at `from_block` (or the config's)."""
    start = client.config.start_block if from_block is None else from_block
    return ReplayState(
        chain_id=client.chain_id,
        registry=client.address.lower(),
        start_block=start,
        last_block=start - 1,
    )


def load_or_new(
    client: RegistryClient, state_path: str | os.PathLike[str] | None, from_block: int | None
) -> ReplayState:
    """The saved state for this registry if `state_path` exists, else a new one."""
    if state_path is not None and Path(state_path).exists():
        state = ReplayState.load(state_path)
        if state.chain_id != client.chain_id or state.registry != client.address.lower():
            raise InvalidInput(
                f"{state_path} is the state of registry {state.registry} on chain "
                f"{state.chain_id}, not {client.address} on chain {client.chain_id}"
            )
        return state
    return new_state(client, from_block)


def replay(
    client: RegistryClient,
    *,
    state: ReplayState | None = None,
    state_path: str | os.PathLike[str] | None = None,
    from_block: int | None = None,
    to_block: int | None = None,
    progress: ProgressFn | None = None,
    check_accumulator: bool = True,
) -> tuple[ReplayState, ReplaySummary]:
    """Replay the registry's events up to `to_block` (default: the latest safe block).

    Continues `state` (or the one saved at `state_path`) when given. `from_block` only
    applies to a new state. Returns the state and a summary of this run.
    """
    if state is None:
        state = load_or_new(client, state_path, from_block)
    reader = RawLogReader(client.web3, client.address, client.abi, client.config)
    end = reader.latest_safe_block() if to_block is None else to_block
    begin = state.last_block + 1
    replayer = Replayer(state, client.abi)
    before_revisions, before_violations = len(state.revisions), len(state.violations)
    with _without_cyclic_gc():
        logs = _run(state, replayer, reader, begin, end, state_path, progress)
    fresh = end >= begin or state.registry_accumulator_ok is None
    if fresh and check_accumulator and state.last_block >= state.start_block:
        replayer.check_accumulator(client.accumulator(block=state.last_block))
    if state_path is not None:
        state.save(state_path)
    return state, ReplaySummary(
        from_block=begin,
        to_block=max(end, state.last_block),
        logs=logs,
        revisions=len(state.revisions) - before_revisions,
        violations=len(state.violations) - before_violations,
        accumulator_ok=state.registry_accumulator_ok,
    )


@contextlib.contextmanager
def _without_cyclic_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector: the state grows by ~10 objects per revision and
    holds no cycles, yet each full collection walks all of it (a quarter of a 100,000-
    revision replay). Reference counting still frees everything else at once."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _run(
    state: ReplayState,
    replayer: Replayer,
    reader: RawLogReader,
    begin: int,
    end: int,
    state_path: str | os.PathLike[str] | None,
    progress: ProgressFn | None,
) -> int:
    """Apply every page; returns the number of logs read."""
    logs = 0
    last_save = time.monotonic()
    total = max(0, end - begin + 1)
    for page in reader.iter_pages(begin, end, prefetch=PREFETCH_PAGES):
        replayer.apply_page(page.logs, page.to_block)
        if page.logs:  # a state saved from here on is not yet checked against the registry
            state.registry_accumulator_ok = None
        logs += len(page.logs)
        if progress is not None:
            progress(page.to_block - begin + 1, total, logs)
        if state_path is not None and time.monotonic() - last_save > SAVE_EVERY_S:
            state.save(state_path)
            last_save = time.monotonic()
    return logs
