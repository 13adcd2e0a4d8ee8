"""The Besu-like proxy (`tests/support/besu_proxy.py`) in front of the session's anvil."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest
from support.besu_proxy import RANGE_ERROR, BesuProxy, results_error

from notary.chain.local import LocalChain, rpc_call


def _post(url: str, method: str, params: list) -> tuple[int, dict | None]:
    body = json.dumps({"jsonrpc": "2.0", "id": 7, "method": method, "params": params}).encode()
    request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, None


def _mine(url: str, blocks: int) -> None:
    rpc_call(url, "anvil_mine", [hex(blocks)])


def test_range_over_the_limit_is_refused_with_besus_error(chain_snapshot: LocalChain) -> None:
    _mine(chain_snapshot.url, 30)
    with BesuProxy(chain_snapshot.url, max_logs_range=10) as proxy:
        status, answer = _post(proxy.url, "eth_getLogs", [{"fromBlock": "0x1", "toBlock": "0xc"}])
        assert status == 200 and answer is not None
        assert answer["error"] == RANGE_ERROR and answer["id"] == 7
        # Besu compares toBlock - fromBlock with the limit: 10 is served, 11 is not
        _status, ok = _post(proxy.url, "eth_getLogs", [{"fromBlock": "0x1", "toBlock": "0xb"}])
        assert ok is not None and ok["result"] == []
        assert proxy.calls["eth_getLogs"] == 2 and proxy.refused == 1
        assert proxy.blocks_asked == 12 + 11


def test_tags_are_resolved_against_the_head(chain_snapshot: LocalChain) -> None:
    _mine(chain_snapshot.url, 30)
    head = int(str(rpc_call(chain_snapshot.url, "eth_blockNumber")), 16)
    with BesuProxy(chain_snapshot.url, max_logs_range=10) as proxy:
        for flt in ({"fromBlock": "earliest"}, {"fromBlock": "0x0", "toBlock": "latest"}, {}):
            _status, answer = _post(proxy.url, "eth_getLogs", [flt | {}])
            expected_refusal = flt != {}  # no bounds: latest..latest, one block
            assert answer is not None and ("error" in answer) == expected_refusal, flt
        near = {"fromBlock": hex(head - 5), "toBlock": "pending"}
        _status, answer = _post(proxy.url, "eth_getLogs", [near])
        assert answer is not None and answer["result"] == []


def test_result_cap_refuses_rather_than_truncates(verifier_registry) -> None:
    for i in range(4):
        verifier_registry.anchor(b"doc %d" % i)
    flt = {"address": verifier_registry.address, "fromBlock": "0x0", "toBlock": "latest"}
    with BesuProxy(verifier_registry.chain.url, max_logs_range=0, max_logs_results=3) as proxy:
        _status, answer = _post(proxy.url, "eth_getLogs", [flt])
        assert answer is not None and answer["error"] == results_error(3)
    with BesuProxy(verifier_registry.chain.url, max_logs_range=0, max_logs_results=100) as proxy:
        _status, answer = _post(proxy.url, "eth_getLogs", [flt])
        assert answer is not None and len(answer["result"]) >= 4


def test_failing_share_is_503_or_rpc_error_and_repeatable(anvil: LocalChain) -> None:
    def outcomes(seed: int) -> list[str]:
        with BesuProxy(anvil.url, fail_share=0.5, seed=seed) as proxy:
            seen = []
            for _ in range(20):
                status, answer = _post(proxy.url, "eth_chainId", [])
                seen.append("503" if status == 503 else "error" if "error" in answer else "ok")
            assert proxy.failed == seen.count("503") + seen.count("error")
            return seen

    first = outcomes(3)
    assert first == outcomes(3)
    assert {"503", "error", "ok"} <= set(first)


def test_only_named_methods_fail(anvil: LocalChain) -> None:
    with BesuProxy(anvil.url, fail_share=1.0, fail_methods={"eth_getLogs"}) as proxy:
        status, answer = _post(proxy.url, "eth_chainId", [])
        assert status == 200 and answer is not None and "result" in answer


def test_anvil_methods_pass_through(chain_snapshot: LocalChain) -> None:
    with BesuProxy(chain_snapshot.url) as proxy:
        before = int(str(rpc_call(proxy.url, "eth_blockNumber")), 16)
        rpc_call(proxy.url, "anvil_mine", ["0x3"])
        assert int(str(rpc_call(chain_snapshot.url, "eth_blockNumber")), 16) == before + 3


def test_stopped_proxy_refuses_connections(anvil: LocalChain) -> None:
    proxy = BesuProxy(anvil.url)
    assert rpc_call(proxy.url, "eth_chainId")
    proxy.stop()
    proxy.stop()  # idempotent
    with pytest.raises(OSError):
        rpc_call(proxy.url, "eth_chainId")


def test_bad_limits_are_refused(anvil: LocalChain) -> None:
    with pytest.raises(ValueError):
        BesuProxy(anvil.url, fail_share=1.5)
    with pytest.raises(ValueError):
        BesuProxy(anvil.url, max_logs_range=-1)
