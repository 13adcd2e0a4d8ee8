"""Reading events against a node with a range limit: paging, shrinking, removed logs,
confirmations."""

from __future__ import annotations

import itertools
import json
import threading
import time
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from support.registry_revisions import client_with, new_rev

from notary.chain.client import RegistryClient
from notary.chain.errors import (
    LogRangeRefused,
)
from notary.chain.local import LocalChain, rpc_call
from notary.chain.logs import is_range_refusal
from notary.errors import Unavailable

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
        hashes.append(client.anchor(office.signer, new_rev(office.record_id())).tx_hash)
        rpc_call(client.config.rpc_url, "anvil_mine", [hex(gap)])
    return hashes


def test_logs_shrink_the_range_when_the_node_refuses_and_grow_back(
    registry_client: RegistryClient, registry_office: Any, proxy: RpcProxy
) -> None:
    start = registry_client.config.start_block
    hashes = _spread_anchors(registry_client, registry_office, 6, 40)
    head = registry_client.web3.eth.block_number
    proxy.max_range = 50  # like Besu with --rpc-max-logs-range=50
    reader = client_with(registry_client.config, rpc_url=proxy.url, log_page_size=400)

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
    reader = client_with(registry_client.config, rpc_url=proxy.url, rpc_timeout=1.0)
    assert [e.tx_hash for e in reader.iter_logs(start, event_names=["RevisionAnchored"])] == hashes
    assert any(outcome == "stalled" for *_, outcome in proxy.requests)
    assert reader.logs.page_size <= 40


def test_a_node_refusing_even_one_block_is_unavailable(
    registry_client: RegistryClient, proxy: RpcProxy
) -> None:
    proxy.max_range = 0
    reader = client_with(registry_client.config, rpc_url=proxy.url)
    with pytest.raises(LogRangeRefused) as info:
        list(reader.iter_logs(0))
    assert isinstance(info.value, Unavailable)


def test_logs_flagged_removed_are_dropped(
    registry_client: RegistryClient, registry_office: Any, proxy: RpcProxy
) -> None:
    start = registry_client.config.start_block
    kept, dropped = _spread_anchors(registry_client, registry_office, 2, 1)
    proxy.removed_txs.add(dropped)
    reader = client_with(registry_client.config, rpc_url=proxy.url)
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
    safe_reader = client_with(registry_client.config, confirmations=2)
    rev = new_rev(registry_office.record_id())
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
    safe_reader = client_with(registry_client.config, confirmations=2)
    rev = new_rev(registry_office.record_id())
    result = registry_client.anchor(registry_office.signer, rev)
    rpc_call(registry_client.config.rpc_url, "anvil_mine", ["0x2"])
    event = safe_reader.find_revision_event(rev.record_id, 1)
    assert event is not None and event.block_number == result.block_number
