"""Shared fixtures: one real anvil node for the session, snapshots to keep tests independent."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from notary.localchain import LocalChain, rpc_call


@pytest.fixture(scope="session")
def anvil(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalChain]:
    """A real anvil node on 127.0.0.1 (zero gas price), shared by the whole session."""
    state = tmp_path_factory.mktemp("anvil") / "state.json"
    chain = LocalChain(state_file=state).start()
    yield chain
    chain.stop()


@pytest.fixture
def chain_snapshot(anvil: LocalChain) -> Iterator[LocalChain]:
    """The session's anvil, reverted after the test to the state it had before."""
    snap = rpc_call(anvil.url, "evm_snapshot")
    yield anvil
    rpc_call(anvil.url, "evm_revert", [snap])
