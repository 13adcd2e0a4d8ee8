"""Shared fixtures: one real anvil node for the session, snapshots to keep tests independent.

Readers reach the chain as a consortium deployment does, through a Besu-like node
(`besu_node`: `tests/besu_proxy.py` in front of anvil, refusing `eth_getLogs` over
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
from besu_proxy import BesuProxy

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


class VerifierRegistry:
    """A freshly deployed NotaryRegistry with one office, driven with web3 and anvil's
    unlocked accounts (no worker, no API): enough to put every verdict on a real chain."""

    OFFICE_NAME = "示范市政务服务数据管理局"

    def __init__(self, chain: LocalChain, node_url: str | None = None) -> None:
        from web3 import Web3

        from notary.chain.abi import load_artifact

        self.chain = chain
        self.node_url = node_url or chain.url
        """What readers use: the Besu-like node in front of `chain` (writes go to anvil)."""
        self.w3 = Web3(Web3.HTTPProvider(chain.url))
        self.admin, self.signer = self.w3.eth.accounts[0], self.w3.eth.accounts[1]
        artifact = load_artifact()
        factory = self.w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
        deploy = factory.constructor(self.admin).transact({"from": self.admin, "gasPrice": 0})
        receipt = self._wait(deploy)
        self.address = receipt["contractAddress"]
        self.deployment_block = int(receipt["blockNumber"])
        self.contract = self.w3.eth.contract(address=self.address, abi=artifact["abi"])
        self.chain_id = chain.chain_id
        self.office_id = b"\x0f" * 32
        fns = self.contract.functions
        self._tx(fns.registerOffice(self.office_id, self.OFFICE_NAME), self.admin)
        self._tx(self.contract.functions.grantSigner(self.office_id, self.signer), self.admin)
        self.office_number = self.contract.functions.office(self.office_id).call()[0]
        self.leaves: dict[bytes, bytes] = {}
        self.versions: dict[bytes, int] = {}

    def _wait(self, tx_hash: bytes) -> dict:
        receipt = self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30)
        assert receipt["status"] == 1, receipt
        return receipt

    def _tx(self, fn, sender: str | None = None) -> dict:
        return self._wait(fn.transact({"from": sender or self.signer, "gasPrice": 0}))

    def new_record_id(self) -> bytes:
        from notary.formats.revision import new_record_id

        return new_record_id(self.office_number)

    def anchor(
        self,
        content: bytes,
        *,
        record_id: bytes | None = None,
        kind: int = 0,
        valid_until: int = 0,
        metadata_hash: bytes = b"\x11" * 32,
        content_hash: bytes | None = None,
    ) -> tuple[bytes, int, bytes]:
        """Anchor `content` as the next version of `record_id` (new record if None).
        Returns (record_id, version, leaf)."""
        import hashlib

        from notary.formats.revision import Kind, Revision, compute_leaf

        record_id = record_id or self.new_record_id()
        version = self.versions.get(record_id, 0) + 1
        rev = Revision(
            record_id=record_id,
            version=version,
            kind=Kind(kind),
            valid_until=valid_until,
            content_hash=content_hash or hashlib.sha256(content).digest(),
            metadata_hash=metadata_hash,
            prev_leaf=self.leaves.get(record_id, bytes(32)),
        )
        self._tx(self.contract.functions.anchor(rev.as_tuple()))
        leaf = compute_leaf(rev, chain_id=self.chain_id, registry=self.address)
        self.leaves[record_id], self.versions[record_id] = leaf, version
        return record_id, version, leaf

    def revoke(self, record_id: bytes, reason: str) -> bytes:
        from notary.formats.revision import reason_hash

        h = reason_hash(reason)
        self._tx(self.contract.functions.revoke(record_id, h))
        return h

    def replace(self, record_id: bytes, by_record_id: bytes) -> None:
        self._tx(self.contract.functions.replace(record_id, by_record_id))

    def trust(self, name: str = "示范区域公证链"):  # -> verifier.trust.TrustList
        from verifier.trust import TrustList

        return TrustList.single(
            chain_id=self.chain_id,
            registry=self.address,
            name=name,
            rpc_url=self.node_url,
            deployment_block=self.deployment_block,
        )


@pytest.fixture
def verifier_registry(chain_snapshot: LocalChain, besu_node: BesuProxy) -> VerifierRegistry:
    """A fresh registry with one office and one signer on the session's anvil, read through
    the Besu-like node."""
    return VerifierRegistry(chain_snapshot, besu_node.url)


# --- database and blob-store fixtures: see tests/db_fixtures.py ------
# db_url is parametrised over ["sqlite", "postgresql"]: a migrated, empty database per test.
from db_fixtures import (  # noqa: E402, F401 - fixtures are found by name in this module
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


class RegistryOffice:
    """An office registered on `registry_deployment` with one fresh signer key."""

    def __init__(self, client, governance, name: str = "Tax office") -> None:
        import os

        from eth_account import Account

        from notary.chain.events import OfficeRegistered

        self.office_id = os.urandom(32)
        self.name = name
        result = client.register_office(governance, self.office_id, name)
        self.number = result.events_of(OfficeRegistered)[0].number
        self.signer = Account.create()  # zero gas price: a key needs no funds
        client.grant_signer(governance, self.office_id, self.signer.address)

    def record_id(self) -> bytes:
        """A fresh record id of this office."""
        from notary.formats.revision import new_record_id

        return new_record_id(self.number)


@pytest.fixture
def registry_office(registry_client, governance) -> RegistryOffice:
    """A fresh office with one signer on the snapshot (undone after the test)."""
    return RegistryOffice(registry_client, governance)
