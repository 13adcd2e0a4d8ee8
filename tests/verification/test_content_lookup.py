"""`verifier check FILE --index URL`: unstamped bytes found through a service's lookup route
without scanning the chain, and checked on chain; the scan without an index is bounded.

A real anvil behind the Besu-like proxy (range limit 100 blocks); the index is a real HTTP
server on loopback answering what a test makes it say (honest, or lying), read by the
verifier's own HTTP client (`verifier.content_lookup.http_index`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from support.besu_proxy import BesuProxy

from verifier.chainsource import ChainRegistry
from verifier.cli import main
from verifier.content_lookup import LOOKUP_PATH, http_index
from verifier.result import EXIT_CODES, Verdict
from verifier.trust import TrustList
from verifier.verify import verify_file

RANGE_LIMIT = 100


class IndexServer:
    """A lookup route on loopback: `answers[sha256 hex]` is the JSON body (else 404)."""

    def __init__(self) -> None:
        self.answers: dict[str, bytes] = {}
        self.asked: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                digest = self.path.removeprefix(LOOKUP_PATH)
                server.asked.append(digest)
                body = server.answers.get(digest)
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Type", "application/json")
                data = body if body is not None else b'{"detail": "no anchored revision"}'
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def says(self, data: bytes, anchors: list[dict]) -> None:
        self.answers[hashlib.sha256(data).hexdigest()] = json.dumps({"anchors": anchors}).encode()


@pytest.fixture
def proxy(verifier_registry) -> Iterator[BesuProxy]:
    with BesuProxy(verifier_registry.chain.url, max_logs_range=RANGE_LIMIT) as p:
        yield p


@pytest.fixture
def index() -> Iterator[IndexServer]:
    server = IndexServer()
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()


def mine(reg, blocks: int) -> None:
    reg.w3.provider.make_request("anvil_mine", [hex(blocks)])


def trust_of(reg, proxy: BesuProxy, **changes) -> TrustList:
    trust = TrustList.single(
        chain_id=reg.chain_id, registry=reg.address, name="test", rpc_url=proxy.url
    )
    return TrustList.of([dataclasses.replace(trust.entries[0], **changes)])


def anchor_of(reg, rid: bytes, version: int, block: int | None, **changes) -> dict:
    return {
        "chain_id": reg.chain_id,
        "registry": reg.address,
        "record_id": rid.hex(),
        "version": version,
        "block_number": block,
        **changes,
    }


def counted(reg, proxy: BesuProxy, data: bytes, url: str):
    """Verify `data` through the index at `url` (node checked first); result, calls, blocks."""
    trust = trust_of(reg, proxy)
    source = ChainRegistry(trust.entries[0])
    source._ensure_checked()
    proxy.reset_counters()
    result = verify_file(data, trust, connect=lambda _e: source, index=http_index(url))
    return result, sum(proxy.calls.values()), proxy.blocks_asked


def test_indexed_lookup_reads_the_same_whatever_the_history(verifier_registry, proxy, index):
    reg = verifier_registry
    rid, _, _ = reg.anchor(b"annual report")
    index.says(b"annual report", [anchor_of(reg, rid, 1, reg.w3.eth.block_number)])
    short = counted(reg, proxy, b"annual report", index.url)
    for i in range(3):  # other records and long runs of empty blocks
        reg.anchor(b"other " + bytes([i]))
        mine(reg, 400)
    assert reg.w3.eth.block_number > 10 * RANGE_LIMIT
    long = counted(reg, proxy, b"annual report", index.url)
    assert short[0].verdict is long[0].verdict is Verdict.AUTHENTIC_CURRENT, long[0].reason
    assert long[1] == short[1] <= 6, (short, long)
    assert long[2] == short[2] == 1, "only the block the index names is read"
    assert proxy.refused == 0
    unknown = counted(reg, proxy, b"never anchored", index.url)
    assert unknown[0].verdict is Verdict.UNKNOWN and unknown[1] == 0


def test_a_lying_index_is_never_green(verifier_registry, proxy, index) -> None:
    reg = verifier_registry
    rid, _, _ = reg.anchor(b"the real release")
    real_block = reg.w3.eth.block_number
    revoked, _, _ = reg.anchor(b"withdrawn release")
    reg.revoke(revoked, "published by mistake")
    lies = {
        b"forged bytes 1": [anchor_of(reg, rid, 1, real_block)],  # a record with other bytes
        b"forged bytes 2": [anchor_of(reg, rid, 5, real_block)],  # a version past the head
        b"forged bytes 3": [anchor_of(reg, rid, 1, real_block, registry="0x" + "ab" * 20)],
        b"forged bytes 4": [anchor_of(reg, rid, 1, real_block, chain_id=reg.chain_id + 1)],
        b"forged bytes 5": [anchor_of(reg, reg.new_record_id(), 1, real_block)],  # no record
    }
    for data, anchors in lies.items():
        index.says(data, anchors)
        result, _, blocks = counted(reg, proxy, data, index.url)
        assert result.verdict is Verdict.UNKNOWN, (data, result.verdict, result.reason)
        assert blocks <= 1
    # Bytes of a revoked record named by the index: the chain says revoked, not current.
    index.says(b"withdrawn release", [anchor_of(reg, revoked, 1, None)])
    assert counted(reg, proxy, b"withdrawn release", index.url)[0].verdict is Verdict.REVOKED
    # A garbled or oversized answer is "unavailable", never a verdict on the bytes.
    index.answers[hashlib.sha256(b"x").hexdigest()] = b'{"anchors": "everything is fine"}'
    garbled = counted(reg, proxy, b"x", index.url)[0]
    assert garbled.verdict is Verdict.UNAVAILABLE and "garbage" in garbled.reason
    index.answers[hashlib.sha256(b"y").hexdigest()] = b" " * (70 * 1024)
    assert counted(reg, proxy, b"y", index.url)[0].verdict is Verdict.UNAVAILABLE


def test_an_unreachable_index_is_unavailable(verifier_registry, proxy, index) -> None:
    reg = verifier_registry
    url = index.url
    index.httpd.shutdown()
    index.httpd.server_close()
    result, calls, _ = counted(reg, proxy, b"anything", url)
    assert result.verdict is Verdict.UNAVAILABLE and "cannot be reached" in result.reason
    assert calls == 0


def test_scan_without_index_is_refused_past_its_bound(verifier_registry, proxy) -> None:
    reg = verifier_registry
    reg.anchor(b"old release")
    mine(reg, 300)
    trust = trust_of(reg, proxy, deployment_block=reg.deployment_block)
    bounded = ChainRegistry(trust.entries[0], max_scan_blocks=200)
    proxy.reset_counters()
    refused = verify_file(b"old release", trust, connect=lambda _e: bounded)
    assert refused.verdict is Verdict.UNAVAILABLE
    assert "--index" in refused.reason and "200" in refused.reason
    assert proxy.calls["eth_getLogs"] == 0, "refused before any log is read"
    wide = ChainRegistry(trust.entries[0], max_scan_blocks=10_000)
    found = verify_file(b"old release", trust, connect=lambda _e: wide)
    assert found.verdict is Verdict.AUTHENTIC_CURRENT


def test_cli_index_and_scan_bound(verifier_registry, proxy, index, tmp_path, capsys) -> None:
    reg = verifier_registry
    rid, _, _ = reg.anchor(b"cli release")
    index.says(b"cli release", [anchor_of(reg, rid, 1, reg.w3.eth.block_number)])
    mine(reg, 300)
    path = tmp_path / "release.txt"
    path.write_bytes(b"cli release")
    base = ["check", str(path), "--rpc", proxy.url, "--registry", reg.address, "--name", "t"]
    assert main([*base, "--index", index.url, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["verdict"] == "authentic_current"
    code = main([*base, "--max-scan-blocks", "50", "--json"])
    assert code == EXIT_CODES[Verdict.UNAVAILABLE]
    assert "--index" in json.loads(capsys.readouterr().out)["reason"]
    assert main([*base, "--index", "ftp://example.gov"]) == 2
    assert "http(s) URL" in capsys.readouterr().err
    for bad in ("0", "zero"):
        with pytest.raises(SystemExit) as exc:
            main([*base, "--max-scan-blocks", bad])
        assert exc.value.code == 2
        assert "--max-scan-blocks" in capsys.readouterr().err
