"""The registry client on a real anvil: connecting, deploying, sending with one nonce sequence,
resending, refusals and reverts; and a production-like node (base fee, block time)."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from eth_account import Account
from support.registry_revisions import REGISTRY, client_with, leaf_of, new_rev

from notary.chain.client import RegistryClient, deploy, deploy_registry, make_web3
from notary.chain.config import ChainConfig, GasPolicy
from notary.chain.errors import (
    GasPriceTooHigh,
    NodeUnavailable,
    NonceConsumed,
    RegistryNotFound,
    SignerNotAuthorised,
    TxRejected,
    TxTimeout,
    VersionOutOfOrder,
    WrongChain,
)
from notary.chain.events import OfficeRegistered
from notary.chain.local import LocalChain, free_port, rpc_call
from notary.errors import Conflict, NotFound, Unavailable

# ---------------------------------------------------------------------------------------------
# Connecting and deploying
# ---------------------------------------------------------------------------------------------


def test_connect_refuses_a_node_of_another_chain(chain_config: ChainConfig) -> None:
    with pytest.raises(WrongChain, match=r"serves chain 31337.*expects chain 1"):
        RegistryClient.connect(chain_config.replace(chain_id=1))


def test_connect_refuses_an_address_without_a_contract(chain_config: ChainConfig) -> None:
    empty = Account.create().address
    with pytest.raises(RegistryNotFound, match=empty) as info:
        RegistryClient.connect(chain_config.replace(registry=empty))
    assert isinstance(info.value, NotFound)
    with pytest.raises(RegistryNotFound, match="deploy"):
        RegistryClient.connect(chain_config.replace(registry=None))


def test_an_unreachable_node_is_unavailable() -> None:
    config = ChainConfig(rpc_url=f"http://127.0.0.1:{free_port()}", registry=REGISTRY)
    with pytest.raises(NodeUnavailable) as info:
        RegistryClient.connect(config)
    assert isinstance(info.value, Unavailable)


def test_deploy_gives_governance_a_working_registry(
    chain_config: ChainConfig, governance: Any
) -> None:
    address = deploy(make_web3(chain_config), governance, config=chain_config)
    client = RegistryClient.connect(chain_config.replace(registry=address))
    result = client.register_office(governance, os.urandom(32), "Audit office")
    assert result.events_of(OfficeRegistered)[0].number == 1


# ---------------------------------------------------------------------------------------------
# Sending: prepare / broadcast / wait, nonces, resending
# ---------------------------------------------------------------------------------------------


def test_prepare_signs_without_sending_and_broadcast_sends_that_hash(
    registry_client: RegistryClient, registry_office: Any
) -> None:
    client, signer = registry_client, registry_office.signer
    rev = new_rev(registry_office.record_id())
    signed = client.prepare_anchor(signer, rev)
    # The outbox records this before broadcasting; nothing is on the node yet.
    assert client.result_of(signed.tx_hash) is None
    assert client.web3.eth.get_transaction_count(signer.address, "pending") == signed.nonce
    assert client.find_revision_event(rev.record_id, 1) is None

    assert client.broadcast(signed) == signed.tx_hash
    result = client.wait(signed)
    assert result.tx_hash == signed.tx_hash
    assert client.broadcast(signed) == signed.tx_hash  # a second broadcast is harmless
    assert client.result_of(signed.tx_hash) == result
    assert type(signed).from_json(json.loads(json.dumps(signed.to_json()))) == signed


def test_after_a_crash_the_anchor_is_found_by_event_and_by_hash(
    registry_client: RegistryClient, registry_office: Any, chain_config: ChainConfig
) -> None:
    rev = new_rev(registry_office.record_id())
    signed = registry_client.prepare_anchor(registry_office.signer, rev)
    registry_client.broadcast(signed)  # ... and the process dies before storing the receipt

    restarted = RegistryClient.connect(chain_config)
    event = restarted.find_revision_event(rev.record_id, 1)
    assert event is not None and event.tx_hash == signed.tx_hash
    assert event.content_hash == rev.content_hash
    assert restarted.find_revision_event(rev.record_id, 2) is None
    result = restarted.result_of(signed.tx_hash)
    assert result is not None and result.events == (event,)


def test_a_revert_at_estimation_reserves_no_nonce(
    registry_client: RegistryClient, registry_office: Any
) -> None:
    client, signer = registry_client, registry_office.signer
    record_id = registry_office.record_id()
    with pytest.raises(VersionOutOfOrder):
        client.prepare_anchor(signer, new_rev(record_id, 2, os.urandom(32)))
    signed = client.prepare_anchor(signer, new_rev(record_id))
    assert signed.nonce == client.web3.eth.get_transaction_count(signer.address, "pending")
    client.send(signed)


def test_concurrent_writers_share_one_nonce_sequence(
    registry_client: RegistryClient, registry_office: Any
) -> None:
    client, signer = registry_client, registry_office.signer
    errors: list[BaseException] = []
    results: list[Any] = []
    lock = threading.Lock()

    def work() -> None:
        try:
            for _ in range(6):
                result = client.anchor(signer, new_rev(registry_office.record_id()))
                with lock:
                    results.append(result)
        except BaseException as exc:  # collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    nonces = sorted(client.web3.eth.get_transaction(r.tx_hash)["nonce"] for r in results)
    assert nonces == list(range(24))


@pytest.fixture
def manual_mining(chain_snapshot: LocalChain) -> Iterator[str]:
    """Automine off for the test (so transactions wait in the pool), restored afterwards."""
    url = chain_snapshot.url
    rpc_call(url, "evm_setAutomine", [False])
    try:
        yield url
    finally:
        rpc_call(url, "anvil_dropAllTransactions")
        rpc_call(url, "evm_setAutomine", [True])


def test_a_dropped_transaction_is_resent_with_the_same_nonce(
    chain_config: ChainConfig, registry_office: Any, manual_mining: str
) -> None:
    client = client_with(chain_config, resend_timeout=0.2, poll_interval=0.02)
    signed = client.prepare_anchor(registry_office.signer, new_rev(registry_office.record_id()))
    client.broadcast(signed)
    rpc_call(manual_mining, "anvil_dropTransaction", [signed.tx_hash])  # the node lost it
    assert rpc_call(manual_mining, "eth_getTransactionByHash", [signed.tx_hash]) is None

    seen_again = threading.Event()

    def miner() -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if rpc_call(manual_mining, "eth_getTransactionByHash", [signed.tx_hash]):
                seen_again.set()
                rpc_call(manual_mining, "evm_mine")
                return
            time.sleep(0.02)

    thread = threading.Thread(target=miner)
    thread.start()
    result = client.wait(signed)
    thread.join()
    assert seen_again.is_set()  # only the resend can have put it back in the pool
    assert result.tx_hash == signed.tx_hash
    assert client.web3.eth.get_transaction(signed.tx_hash)["nonce"] == signed.nonce


def test_another_transaction_taking_the_nonce_is_detected(
    chain_config: ChainConfig, registry_office: Any, manual_mining: str
) -> None:
    client = client_with(chain_config, resend_timeout=0.1, poll_interval=0.02)
    signer = registry_office.signer
    first = client.prepare_anchor(signer, new_rev(registry_office.record_id()))
    client.broadcast(first)
    rpc_call(manual_mining, "anvil_dropTransaction", [first.tx_hash])
    client.reset_nonce(signer)  # e.g. another process with the same key
    other = client.prepare_anchor(signer, new_rev(registry_office.record_id()))
    assert other.nonce == first.nonce and other.tx_hash != first.tx_hash
    client.broadcast(other)
    rpc_call(manual_mining, "evm_mine")

    with pytest.raises(NonceConsumed) as info:
        client.wait(first)
    assert isinstance(info.value, Conflict)
    assert (info.value.tx_hash, info.value.nonce) == (first.tx_hash, first.nonce)
    assert client.wait(other).tx_hash == other.tx_hash
    with pytest.raises(NonceConsumed):
        client.broadcast(first)  # e.g. an outbox rebroadcasting it after a restart


def test_a_transaction_the_node_refuses_is_rejected_and_frees_its_nonce(
    chain_config: ChainConfig, registry_office: Any
) -> None:
    # The office's fresh key holds no ether: fine at gas price 0, refused at 1 gwei.
    paying = client_with(chain_config, gas=GasPolicy("fixed", gas_price=10**9))
    signed = paying.prepare_anchor(registry_office.signer, new_rev(registry_office.record_id()))
    with pytest.raises(TxRejected, match=r"(?i)insufficient funds") as info:
        paying.broadcast(signed)
    assert isinstance(info.value, Unavailable)
    free = client_with(chain_config)
    retry = free.prepare_anchor(registry_office.signer, new_rev(registry_office.record_id()))
    assert retry.nonce == signed.nonce
    free.send(retry)


def test_no_receipt_in_time_is_a_timeout_naming_the_transaction(
    chain_config: ChainConfig, registry_office: Any, manual_mining: str
) -> None:
    client = client_with(chain_config, receipt_timeout=0.3, resend_timeout=0.1, poll_interval=0.02)
    signed = client.prepare_anchor(registry_office.signer, new_rev(registry_office.record_id()))
    client.broadcast(signed)
    with pytest.raises(TxTimeout) as info:
        client.wait(signed)
    assert isinstance(info.value, Unavailable)
    assert info.value.tx_hash == signed.tx_hash and signed.tx_hash in str(info.value)


def test_a_transaction_that_reverts_on_chain_raises_the_decoded_error(
    registry_client: RegistryClient, registry_office: Any, manual_mining: str
) -> None:
    client, signer = registry_client, registry_office.signer
    record_id = registry_office.record_id()
    # Two version-1 anchors race into one block: both pass estimation, the second reverts.
    first = client.prepare_anchor(signer, new_rev(record_id))
    second = client.prepare_anchor(signer, new_rev(record_id))
    client.broadcast(first)
    client.broadcast(second)
    rpc_call(manual_mining, "evm_mine")
    assert client.wait(first).events[0].version == 1
    with pytest.raises(VersionOutOfOrder) as info:
        client.wait(second)
    assert info.value.tx_hash == second.tx_hash
    assert (info.value.expected, info.value.got) == (2, 1)


def test_a_revoked_signer_is_refused_even_with_a_presigned_transaction(
    registry_client: RegistryClient, registry_office: Any, governance: Any
) -> None:
    client, signer = registry_client, registry_office.signer
    signed = client.prepare_anchor(signer, new_rev(registry_office.record_id()), gas=500_000)
    client.revoke_signer(governance, registry_office.office_id, signer.address)
    with pytest.raises(SignerNotAuthorised) as info:
        client.send(signed)
    assert info.value.tx_hash == signed.tx_hash


# ---------------------------------------------------------------------------------------------
# A production-like node: base fee, block time, confirmations
# ---------------------------------------------------------------------------------------------

BASE_FEE = 10**9


@pytest.fixture(scope="module")
def paid_chain() -> Iterator[LocalChain]:
    """A separate anvil with a 1 s block time and a 1 gwei base fee, like a public network."""
    chain = LocalChain(block_time=1, base_fee=BASE_FEE, gas_price=2 * BASE_FEE).start()
    yield chain
    chain.stop()


def test_a_node_with_base_fee_and_block_time_works_unchanged(
    paid_chain: LocalChain, dev_accounts: list[Any]
) -> None:
    governance, signer = dev_accounts[9], dev_accounts[8]
    # The default "node" gas policy; set-up without confirmations to keep the test short.
    setup = ChainConfig(rpc_url=paid_chain.url, poll_interval=0.1, receipt_timeout=30)
    deployment = deploy_registry(make_web3(setup), governance, config=setup)
    setup = setup.replace(registry=deployment.address, start_block=deployment.block_number)
    admin = RegistryClient.connect(setup)
    office_id = os.urandom(32)
    number = admin.register_office(governance, office_id, "Tax").events[0].number
    admin.grant_signer(governance, office_id, signer.address)

    client = RegistryClient.connect(setup.replace(confirmations=1))
    record_id = number.to_bytes(4, "big") + os.urandom(28)
    v1 = new_rev(record_id)
    r1 = client.anchor(signer, v1)
    tx = client.web3.eth.get_transaction(r1.tx_hash)
    base_fee = client.web3.eth.get_block(r1.block_number)["baseFeePerGas"]
    assert base_fee > 0 and tx["type"] == 2  # an EIP-1559 transaction paying the base fee
    assert tx["maxFeePerGas"] >= r1.effective_gas_price >= base_fee
    assert client.web3.eth.block_number >= r1.block_number + 1  # waited for a confirmation
    v2 = new_rev(record_id, 2, leaf_of(client, v1))
    r2 = client.anchor(signer, v2)
    assert r2.block_number > r1.block_number and client.head(record_id).version == 2
    assert client.latest_safe_block() == client.web3.eth.block_number - 1
    event = client.find_revision_event(record_id, 1)
    assert event is not None and event.tx_hash == r1.tx_hash

    fixed = RegistryClient.connect(setup.replace(gas=GasPolicy("fixed", gas_price=3 * BASE_FEE)))
    v3 = new_rev(record_id, 3, leaf_of(client, v2))
    r3 = fixed.anchor(signer, v3)
    assert fixed.web3.eth.get_transaction(r3.tx_hash)["gasPrice"] == 3 * BASE_FEE

    # Empty blocks lower the base fee (EIP-1559), so cap below the current one.
    cap = client.web3.eth.get_block("latest")["baseFeePerGas"] // 4
    capped = RegistryClient.connect(setup.replace(gas=GasPolicy("node", max_fee_per_gas=cap)))
    with pytest.raises(GasPriceTooHigh, match="exceeds the cap"):
        capped.anchor(signer, new_rev(record_id, 4, leaf_of(client, v3)))
