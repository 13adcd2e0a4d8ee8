"""Shared fixtures: one real anvil node for the session, snapshots to keep tests independent.

Readers reach the chain as a consortium deployment does, through a Besu-like node
(`besu_node`: `tests/support/besu_proxy.py` in front of anvil, refusing `eth_getLogs` over
`BESU_MAX_LOGS_RANGE` blocks, far below a suite's history): `chain_config` and
`VerifierRegistry.trust()` hand out its URL, so the verifier, verify-page, worker, audit and
checkpoint suites all page their log reads. `anvil.url` stays the raw node, for fixtures
that drive `anvil_*` / `evm_*` (the proxy passes those through too). `NOTARY_TEST_BESU_RANGE`
changes the limit (0: no limit).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from support.besu_proxy import BesuProxy
from support.chain_helpers import RegistryOffice, VerifierRegistry

from notary.chain.local import LocalChain, rpc_call

BESU_MAX_LOGS_RANGE = int(os.environ.get("NOTARY_TEST_BESU_RANGE", "50"))
"""The test node's `--rpc-max-logs-range` (Besu's default is 5,000; histories here are longer
than 50 blocks, so every long read has to page)."""


@pytest.fixture(scope="session")
def anvil(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalChain]:
    """A real anvil node on 127.0.0.1 (zero gas price), shared by the whole session."""
    state = tmp_path_factory.mktemp("anvil") / "state.json"
    chain = LocalChain(state_file=state).start()
    yield chain
    chain.stop()


@pytest.fixture(scope="session")
def besu_node(anvil: LocalChain) -> Iterator[BesuProxy]:
    """The session's anvil behind a Besu-like node (range limit `BESU_MAX_LOGS_RANGE`)."""
    with BesuProxy(anvil.url, max_logs_range=BESU_MAX_LOGS_RANGE) as node:
        yield node


@pytest.fixture
def chain_snapshot(anvil: LocalChain) -> Iterator[LocalChain]:
    """The session's anvil, reverted after the test to the state it had before."""
    snap = rpc_call(anvil.url, "evm_snapshot")
    yield anvil
    rpc_call(anvil.url, "evm_revert", [snap])


# --- verifier fixtures: a fresh registry anchored through unlocked anvil accounts --


@pytest.fixture
def verifier_registry(chain_snapshot: LocalChain, besu_node: BesuProxy) -> VerifierRegistry:
    """A fresh registry with one office and one signer on the session's anvil, read through
    the Besu-like node."""
    return VerifierRegistry(chain_snapshot, besu_node.url)


# --- database and blob-store fixtures: see tests/support/db_fixtures.py ------
# db_url is parametrised over ["sqlite", "postgresql"]: a migrated, empty database per test.
from support.db_fixtures import (  # noqa: E402, F401 - fixtures are found by name in this module
    blob_store,
    db_engine,
    db_session,
    db_session_factory,
    db_url,
    empty_db_url,
    pg_database,
    sqlite_template,
)

# --- chain client fixtures: the registry driven through notary.chain.client ---

ANVIL_MNEMONIC = "test test test test test test test test test test test junk"


@pytest.fixture(scope="session")
def dev_accounts():
    """anvil's ten default accounts (funded on every anvil), as local signing accounts."""
    from eth_account import Account

    Account.enable_unaudited_hdwallet_features()
    path = "m/44'/60'/0'/0/{}"
    return [Account.from_mnemonic(ANVIL_MNEMONIC, account_path=path.format(i)) for i in range(10)]


@pytest.fixture(scope="session")
def governance(dev_accounts):
    """The governance key: admin and governor of `registry_deployment` (anvil account 9).

    Account 9 so that tests driving anvil's unlocked accounts 0 and 1 through
    `eth_sendTransaction` never share a nonce sequence with it.
    """
    return dev_accounts[9]


@pytest.fixture(scope="session")
def registry_deployment(anvil: LocalChain, governance):
    """One registry deployed on the session's anvil (`notary.chain.client`), before any snapshot."""
    from notary.chain.client import deploy_registry, make_web3
    from notary.chain.config import ChainConfig

    config = ChainConfig(rpc_url=anvil.url, chain_id=anvil.chain_id, gas=_zero_gas())
    return deploy_registry(make_web3(config), governance, config=config)


def _zero_gas():
    from notary.chain.config import GasPolicy

    return GasPolicy(policy="zero")


@pytest.fixture
def chain_config(chain_snapshot: LocalChain, registry_deployment, besu_node: BesuProxy):
    """A `ChainConfig` for `registry_deployment` (zero gas, no confirmations, short timeouts),
    through the Besu-like node."""
    from notary.chain.config import ChainConfig

    return ChainConfig(
        rpc_url=besu_node.url,
        chain_id=chain_snapshot.chain_id,
        registry=registry_deployment.address,
        start_block=registry_deployment.block_number,
        gas=_zero_gas(),
        receipt_timeout=30.0,
        resend_timeout=5.0,
    )


@pytest.fixture
def registry_client(chain_config):
    """A fresh `RegistryClient` (fresh nonces) on a snapshot of the session's anvil."""
    from notary.chain.client import RegistryClient

    return RegistryClient.connect(chain_config)


@pytest.fixture
def registry_office(registry_client, governance) -> RegistryOffice:
    """A fresh office with one signer on the snapshot (undone after the test)."""
    return RegistryOffice(registry_client, governance)


# --- shared service fixtures: an API client, and the whole stack (API, worker, anvil) ---
from support.api_client import api  # noqa: E402, F401 - found by name
from support.publish_stack import stack  # noqa: E402, F401 - found by name
from support.verify_site import browser, site  # noqa: E402, F401 - found by name


@pytest.fixture
def outbox(db_url, chain_config, registry_client, registry_office):  # noqa: F811
    """(db_url, session factory, office row): the office registered on chain and in the DB."""
    from support.worker_runs import outbox_for

    yield from outbox_for(db_url, registry_office)
