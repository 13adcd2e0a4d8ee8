"""The chain client's machinery on real anvil nodes: configuration, connection checks,
nonces, resending, receipts and confirmations, fees, and paginated event reading.

Where a node behaviour cannot be had from anvil itself (Besu's `eth_getLogs` range limit, a
node that times out on large ranges, logs flagged `removed`), a tiny HTTP JSON-RPC proxy in
front of the real anvil adds it: the chain behind it is real, only the limit is imposed.
"""

from __future__ import annotations

import itertools
import json
import os
import threading
import time
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account

from notary.chain.client import RegistryClient, deploy, deploy_registry, make_web3
from notary.chain.config import CONFIG_FILE_NAME, ChainConfig, ConfigError, GasPolicy
from notary.chain.errors import (
    GasPriceTooHigh,
    LogRangeRefused,
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
from notary.chain.logs import is_range_refusal
from notary.errors import Conflict, InvalidInput, NotFound, Unavailable
from notary.formats.revision import Kind, Revision, compute_leaf

ZERO = bytes(32)
REGISTRY = "0x5FbDB2315678afecb367f032d93F642f64180aa3"


def _rev(record_id: bytes, version: int = 1, prev_leaf: bytes = ZERO) -> Revision:
    return Revision(
        record_id, version, Kind.DISCLOSURE, 0, os.urandom(32), os.urandom(32), prev_leaf
    )


def _leaf(client: RegistryClient, rev: Revision) -> bytes:
    return compute_leaf(rev, chain_id=client.chain_id, registry=client.address)


# ---------------------------------------------------------------------------------------------
# Configuration
# ---------------------------------------------------------------------------------------------


def test_default_config_is_the_embedded_chain() -> None:
    config = ChainConfig()
    assert (config.rpc_url, config.chain_id, config.registry) == (
        "http://127.0.0.1:8545",
        31337,
        None,
    )
    assert (config.confirmations, config.log_page_size, config.gas.policy) == (0, 1000, "node")


def test_config_file_then_environment(tmp_path: Path) -> None:
    ChainConfig(registry=REGISTRY.lower(), confirmations=2).save(tmp_path)
    assert json.loads((tmp_path / CONFIG_FILE_NAME).read_text())["registry"] == REGISTRY
    env = {
        "NOTARY_RPC_URL": "https://besu.example.gov:8545",
        "NOTARY_CHAIN_ID": "0x539",
        "NOTARY_GAS_POLICY": "fixed",
        "NOTARY_GAS_PRICE": "1000000000",
        "NOTARY_LOG_PAGE_SIZE": "500",
        "NOTARY_RESEND_TIMEOUT": "2.5",
    }
    config = ChainConfig.load(tmp_path, env)
    assert config.registry == REGISTRY and config.confirmations == 2  # from the file
    assert config.rpc_url == "https://besu.example.gov:8545" and config.chain_id == 1337
    assert config.gas == GasPolicy(policy="fixed", gas_price=10**9)
    assert (config.log_page_size, config.resend_timeout) == (500, 2.5)
    assert ChainConfig.from_mapping(config.to_json()) == config
    assert ChainConfig.load(tmp_path / "absent", {}) == ChainConfig()


@pytest.mark.parametrize(
    "data",
    [
        {"rpc_url": "ftp://node"},
        {"chain_id": 0},
        {"chain_id": "31337"},
        {"registry": "0x1234"},
        {"registry": "0x5fbDB2315678afecb367f032d93F642f64180aa3"},  # bad checksum
        {"confirmations": -1},
        {"log_page_size": 0},
        {"receipt_timeout": 0},
        {"gas": {"policy": "free"}},
        {"gas": {"policy": "fixed"}},
        {"gas": {"margin": 0.5}},
        {"gas": {"tip": 1}},
        {"rcp_url": "http://typo"},
    ],
)
def test_bad_settings_are_refused(data: dict[str, Any]) -> None:
    with pytest.raises(ConfigError) as info:
        ChainConfig.from_mapping(data)
    assert isinstance(info.value, InvalidInput)


def test_bad_environment_and_files_name_their_source(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="NOTARY_CHAIN_ID"):
        ChainConfig.from_env({"NOTARY_CHAIN_ID": "mainnet"})
    (tmp_path / CONFIG_FILE_NAME).write_text("{not json")
    with pytest.raises(ConfigError, match=CONFIG_FILE_NAME):
        ChainConfig.load(tmp_path, {})


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
    rev = _rev(registry_office.record_id())
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
    rev = _rev(registry_office.record_id())
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
        client.prepare_anchor(signer, _rev(record_id, 2, os.urandom(32)))
    signed = client.prepare_anchor(signer, _rev(record_id))
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
                result = client.anchor(signer, _rev(registry_office.record_id()))
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


def _client_with(config: ChainConfig, **changes: Any) -> RegistryClient:
    return RegistryClient.connect(config.replace(**changes))


def test_a_dropped_transaction_is_resent_with_the_same_nonce(
    chain_config: ChainConfig, registry_office: Any, manual_mining: str
) -> None:
    client = _client_with(chain_config, resend_timeout=0.2, poll_interval=0.02)
    signed = client.prepare_anchor(registry_office.signer, _rev(registry_office.record_id()))
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
    client = _client_with(chain_config, resend_timeout=0.1, poll_interval=0.02)
    signer = registry_office.signer
    first = client.prepare_anchor(signer, _rev(registry_office.record_id()))
    client.broadcast(first)
    rpc_call(manual_mining, "anvil_dropTransaction", [first.tx_hash])
    client.reset_nonce(signer)  # e.g. another process with the same key
    other = client.prepare_anchor(signer, _rev(registry_office.record_id()))
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
    paying = _client_with(chain_config, gas=GasPolicy("fixed", gas_price=10**9))
    signed = paying.prepare_anchor(registry_office.signer, _rev(registry_office.record_id()))
    with pytest.raises(TxRejected, match=r"(?i)insufficient funds") as info:
        paying.broadcast(signed)
    assert isinstance(info.value, Unavailable)
    free = _client_with(chain_config)
    retry = free.prepare_anchor(registry_office.signer, _rev(registry_office.record_id()))
    assert retry.nonce == signed.nonce
    free.send(retry)


def test_no_receipt_in_time_is_a_timeout_naming_the_transaction(
    chain_config: ChainConfig, registry_office: Any, manual_mining: str
) -> None:
    client = _client_with(chain_config, receipt_timeout=0.3, resend_timeout=0.1, poll_interval=0.02)
    signed = client.prepare_anchor(registry_office.signer, _rev(registry_office.record_id()))
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
    first = client.prepare_anchor(signer, _rev(record_id))
    second = client.prepare_anchor(signer, _rev(record_id))
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
    signed = client.prepare_anchor(signer, _rev(registry_office.record_id()), gas=500_000)
    client.revoke_signer(governance, registry_office.office_id, signer.address)
    with pytest.raises(SignerNotAuthorised) as info:
        client.send(signed)
    assert info.value.tx_hash == signed.tx_hash


# ---------------------------------------------------------------------------------------------
# Reading events: pagination against a node with a range limit
# ---------------------------------------------------------------------------------------------


class RpcProxy:
    """A small JSON-RPC proxy in front of a real node that imposes node limits on eth_getLogs.

    `max_range`: ranges wider than this get Besu's "Exceeds maximum RPC range limit" error.
    `slow_range`: ranges wider than this stall for `stall` seconds (a node timing out).
    `removed_txs`: logs of these transactions come back flagged `removed: true`.
    """

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.max_range: int | None = None
        self.slow_range: int | None = None
        self.stall = 0.0
        self.removed_txs: set[str] = set()
        self.requests: list[tuple[int, int, str]] = []  # (from, to, outcome) per eth_getLogs
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                answer = proxy.handle(json.loads(body), body)
                data = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def handle(self, request: dict[str, Any], body: bytes) -> dict[str, Any]:
        if request.get("method") == "eth_getLogs":
            params = request["params"][0]
            lo, hi = int(params["fromBlock"], 16), int(params["toBlock"], 16)
            width = hi - lo + 1
            if self.max_range is not None and width > self.max_range:
                self.requests.append((lo, hi, "refused"))
                error = {"code": -32005, "message": "Exceeds maximum RPC range limit"}
                return {"jsonrpc": "2.0", "id": request["id"], "error": error}
            if self.slow_range is not None and width > self.slow_range:
                self.requests.append((lo, hi, "stalled"))
                time.sleep(self.stall)
            else:
                self.requests.append((lo, hi, "ok"))
        req = urllib.request.Request(self.upstream, body, {"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            answer = json.loads(resp.read())
        if request.get("method") == "eth_getLogs" and isinstance(answer.get("result"), list):
            for log in answer["result"]:
                if log["transactionHash"] in self.removed_txs:
                    log["removed"] = True
        return answer

    def __enter__(self) -> RpcProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def proxy(chain_snapshot: LocalChain) -> Iterator[RpcProxy]:
    with RpcProxy(chain_snapshot.url) as p:
        yield p


def _spread_anchors(client: RegistryClient, office: Any, n: int, gap: int) -> list[str]:
    """Anchor `n` revisions with `gap` empty blocks between them; returns the tx hashes."""
    hashes = []
    for _ in range(n):
        hashes.append(client.anchor(office.signer, _rev(office.record_id())).tx_hash)
        rpc_call(client.config.rpc_url, "anvil_mine", [hex(gap)])
    return hashes


def test_logs_shrink_the_range_when_the_node_refuses_and_grow_back(
    registry_client: RegistryClient, registry_office: Any, proxy: RpcProxy
) -> None:
    start = registry_client.config.start_block
    hashes = _spread_anchors(registry_client, registry_office, 6, 40)
    head = registry_client.web3.eth.block_number
    proxy.max_range = 50  # like Besu with --rpc-max-logs-range=50
    reader = _client_with(registry_client.config, rpc_url=proxy.url, log_page_size=400)

    events = list(reader.iter_logs(start, event_names=["RevisionAnchored"]))
    assert [e.tx_hash for e in events] == hashes
    refused = [r for r in proxy.requests if r[2] == "refused"]
    served = [(lo, hi) for lo, hi, outcome in proxy.requests if outcome == "ok"]
    assert refused[0] == (start, head, "refused")  # first the whole range (< one page)
    assert all(hi - lo + 1 <= 50 for lo, hi in served)
    # The served pages tile the range exactly once: nothing skipped, nothing read twice.
    assert served[0][0] == start and served[-1][1] == head
    assert all(b[0] == a[1] + 1 for a, b in itertools.pairwise(served))
    assert reader.logs.page_size <= 50
    assert len(refused) <= 8  # it settles under the limit instead of hitting it every page

    proxy.max_range = None  # the limit is lifted: the page grows back to the configured size
    proxy.requests.clear()
    for _ in range(10):
        assert len(list(reader.iter_logs(start, event_names=["RevisionAnchored"]))) == 6
        if reader.logs.page_size > 50:
            break
    widths = [hi - lo + 1 for lo, hi, _ in proxy.requests]
    assert widths[0] <= 50 < max(widths) <= 400


def test_a_node_that_times_out_on_large_ranges_gets_smaller_ones(
    registry_client: RegistryClient, registry_office: Any, proxy: RpcProxy
) -> None:
    start = registry_client.config.start_block
    hashes = _spread_anchors(registry_client, registry_office, 3, 30)
    proxy.slow_range, proxy.stall = 40, 2.5
    reader = _client_with(registry_client.config, rpc_url=proxy.url, rpc_timeout=1.0)
    assert [e.tx_hash for e in reader.iter_logs(start, event_names=["RevisionAnchored"])] == hashes
    assert any(outcome == "stalled" for *_, outcome in proxy.requests)
    assert reader.logs.page_size <= 40


def test_a_node_refusing_even_one_block_is_unavailable(
    registry_client: RegistryClient, proxy: RpcProxy
) -> None:
    proxy.max_range = 0
    reader = _client_with(registry_client.config, rpc_url=proxy.url)
    with pytest.raises(LogRangeRefused) as info:
        list(reader.iter_logs(0))
    assert isinstance(info.value, Unavailable)


def test_logs_flagged_removed_are_dropped(
    registry_client: RegistryClient, registry_office: Any, proxy: RpcProxy
) -> None:
    start = registry_client.config.start_block
    kept, dropped = _spread_anchors(registry_client, registry_office, 2, 1)
    proxy.removed_txs.add(dropped)
    reader = _client_with(registry_client.config, rpc_url=proxy.url)
    assert [e.tx_hash for e in reader.iter_logs(start, event_names=["RevisionAnchored"])] == [kept]


def test_range_refusals_are_recognised_from_common_node_messages() -> None:
    from web3.exceptions import Web3RPCError

    def err(code: int, message: str) -> Web3RPCError:
        response = {"jsonrpc": "2.0", "id": 1, "error": {"code": code, "message": message}}
        return Web3RPCError(message, rpc_response=response)  # type: ignore[arg-type]

    for message in (
        "Exceeds maximum RPC range limit",
        "query returned more than 10000 results",
        "block range is too wide (maximum 1024)",
        "range 1000000 exceeds limit of 10000",
        "Log response size exceeded.",
        "query timeout exceeded",
    ):
        assert is_range_refusal(err(-32000, message)), message
    assert is_range_refusal(err(-32005, "limit exceeded"))
    assert not is_range_refusal(err(-32602, "invalid argument 0: hex string has odd length"))


def test_confirmations_hide_unsafe_blocks_and_a_reorg_never_shows(
    registry_client: RegistryClient, registry_office: Any
) -> None:
    url = registry_client.config.rpc_url
    safe_reader = _client_with(registry_client.config, confirmations=2)
    rev = _rev(registry_office.record_id())
    anchored = registry_client.anchor(registry_office.signer, rev)
    assert safe_reader.latest_safe_block() == anchored.block_number - 2
    assert safe_reader.find_revision_event(rev.record_id, 1) is None
    assert safe_reader.find_revision_event(rev.record_id, 1, include_unconfirmed=True)
    assert registry_client.find_revision_event(rev.record_id, 1) is not None

    rpc_call(url, "anvil_reorg", [1, []])  # the anchoring block is replaced by an empty one
    assert registry_client.find_revision_event(rev.record_id, 1) is None
    rpc_call(url, "anvil_mine", ["0x2"])
    assert safe_reader.find_revision_event(rev.record_id, 1) is None
    assert registry_client.head(rev.record_id).version == 0


def test_events_become_visible_once_confirmed(
    registry_client: RegistryClient, registry_office: Any
) -> None:
    safe_reader = _client_with(registry_client.config, confirmations=2)
    rev = _rev(registry_office.record_id())
    result = registry_client.anchor(registry_office.signer, rev)
    rpc_call(registry_client.config.rpc_url, "anvil_mine", ["0x2"])
    event = safe_reader.find_revision_event(rev.record_id, 1)
    assert event is not None and event.block_number == result.block_number


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
    v1 = _rev(record_id)
    r1 = client.anchor(signer, v1)
    tx = client.web3.eth.get_transaction(r1.tx_hash)
    base_fee = client.web3.eth.get_block(r1.block_number)["baseFeePerGas"]
    assert base_fee > 0 and tx["type"] == 2  # an EIP-1559 transaction paying the base fee
    assert tx["maxFeePerGas"] >= r1.effective_gas_price >= base_fee
    assert client.web3.eth.block_number >= r1.block_number + 1  # waited for a confirmation
    v2 = _rev(record_id, 2, _leaf(client, v1))
    r2 = client.anchor(signer, v2)
    assert r2.block_number > r1.block_number and client.head(record_id).version == 2
    assert client.latest_safe_block() == client.web3.eth.block_number - 1
    event = client.find_revision_event(record_id, 1)
    assert event is not None and event.tx_hash == r1.tx_hash

    fixed = RegistryClient.connect(setup.replace(gas=GasPolicy("fixed", gas_price=3 * BASE_FEE)))
    v3 = _rev(record_id, 3, _leaf(client, v2))
    r3 = fixed.anchor(signer, v3)
    assert fixed.web3.eth.get_transaction(r3.tx_hash)["gasPrice"] == 3 * BASE_FEE

    # Empty blocks lower the base fee (EIP-1559), so cap below the current one.
    cap = client.web3.eth.get_block("latest")["baseFeePerGas"] // 4
    capped = RegistryClient.connect(setup.replace(gas=GasPolicy("node", max_fee_per_gas=cap)))
    with pytest.raises(GasPriceTooHigh, match="exceeds the cap"):
        capped.anchor(signer, _rev(record_id, 4, _leaf(client, v3)))
