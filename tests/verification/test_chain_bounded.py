"""Bounded verification: what a verification reads does not grow with the chain's length.

A real anvil behind the Besu-like proxy (`tests/support/besu_proxy.py`) that refuses `eth_getLogs`
over more than 100 blocks. Records are anchored, then hundreds of empty blocks and other
records are added; each verification is counted at the proxy (calls, blocks asked). The
long-chain figures are in `scripts/bench_chain_scale.py`; here the rules are proved.
"""

from __future__ import annotations

import hashlib

import pytest
from eth_utils import keccak
from support.besu_proxy import BesuProxy

from notary.chain.abi import ContractAbi, load_artifact
from notary.chain.events import RecordReplaced, RevisionAnchored, decode_log
from notary.chain.legacy_abi import FORMAT_1_EVENTS
from notary.formats.qr_payload import QrPayload, verify_url
from verifier.chainsource import ChainRegistry
from verifier.result import Verdict
from verifier.trust import TrustList
from verifier.verify import ContentHit, verify_file, verify_payload

RANGE_LIMIT = 100


def code_for(reg, record_id: bytes, version: int, leaf: bytes) -> str:
    payload = QrPayload.for_page(
        chain_id=reg.chain_id, registry=reg.address, record_id=record_id, version=version, leaf=leaf
    )
    return verify_url("verify.example.gov", payload)


@pytest.fixture
def proxy(verifier_registry):
    with BesuProxy(verifier_registry.chain.url, max_logs_range=RANGE_LIMIT) as p:
        yield p


def mine(reg, blocks: int) -> None:
    reg.w3.provider.make_request("anvil_mine", [hex(blocks)])


def counted(reg, proxy: BesuProxy, code: str):
    """Verify `code` with a fresh verifier registry (node checked first); result, calls, blocks."""
    trust = TrustList.single(
        chain_id=reg.chain_id, registry=reg.address, name="test", rpc_url=proxy.url
    )
    source = ChainRegistry(trust.entries[0])
    source._ensure_checked()
    proxy.reset_counters()
    result = verify_payload(code, trust, connect=lambda _e: source)
    return result, sum(proxy.calls.values()), proxy.blocks_asked


def test_reads_stay_the_same_when_the_chain_grows(verifier_registry, proxy) -> None:
    reg = verifier_registry
    rid, _, v1 = reg.anchor(b"v1")
    mine(reg, 250)
    _, _, v2 = reg.anchor(b"v2", record_id=rid)
    codes = {"current": code_for(reg, rid, 2, v2), "old": code_for(reg, rid, 1, v1)}
    short = {k: counted(reg, proxy, c) for k, c in codes.items()}
    for _ in range(3):  # other records, and long runs of empty blocks
        reg.anchor(b"other " + bytes([_]))
        mine(reg, 400)
    long = {k: counted(reg, proxy, c) for k, c in codes.items()}
    assert reg.w3.eth.block_number > 10 * RANGE_LIMIT
    assert short["current"][0].verdict is Verdict.AUTHENTIC_CURRENT
    assert short["old"][0].verdict is Verdict.SUPERSEDED
    for key in codes:
        assert long[key][0].verdict is short[key][0].verdict, long[key][0].reason
        assert long[key][1] == short[key][1] <= 8, (key, short[key][1], long[key][1])
        assert long[key][2] == short[key][2] <= 2, "only the anchors' own blocks are read"
    assert proxy.refused == 0


def test_revoked_record_reads_its_revocation_block_then_its_anchor(verifier_registry, proxy):
    reg = verifier_registry
    rid, _, leaf = reg.anchor(b"to revoke")
    mine(reg, 300)
    reason = reg.revoke(rid, "published by mistake")
    mine(reg, 300)
    result, calls, blocks = counted(reg, proxy, code_for(reg, rid, 1, leaf))
    assert result.verdict is Verdict.REVOKED
    assert result.revoked_reason_hash == "0x" + reason.hex()
    assert result.revoked_at is not None
    assert blocks == 2 and calls <= 8
    assert proxy.refused == 0


def test_replaced_record_shows_the_supersede_reason_hash(verifier_registry, proxy) -> None:
    reg = verifier_registry
    old, _, leaf = reg.anchor(b"old")
    new, _, _ = reg.anchor(b"new")
    mine(reg, 200)
    reason = reg.replace(old, new, "merged into the annual report")
    result, calls, blocks = counted(reg, proxy, code_for(reg, old, 1, leaf))
    assert result.verdict is Verdict.SUPERSEDED
    assert result.replaced_by == "0x" + new.hex()
    assert result.replaced_reason_hash == "0x" + reason.hex()
    assert blocks == 2 and calls <= 8


def test_replacement_without_reason_anchors_zero(verifier_registry, proxy) -> None:
    reg = verifier_registry
    old, _, leaf = reg.anchor(b"old plain")
    new, _, _ = reg.anchor(b"new plain")
    assert reg.replace(old, new) == bytes(32)
    result, _, _ = counted(reg, proxy, code_for(reg, old, 1, leaf))
    assert result.verdict is Verdict.SUPERSEDED
    assert result.replaced_reason_hash is None


def test_versions_in_one_block_are_read_in_one_call(verifier_registry, proxy) -> None:
    reg = verifier_registry
    rid, _, v1 = reg.anchor(b"a")
    reg.w3.provider.make_request("evm_setAutomine", [False])
    try:
        txs = []
        for content in (b"b", b"c"):
            # Anchor without waiting: both versions land in the next block.
            from notary.formats.revision import Kind, Revision, compute_leaf

            version = reg.versions[rid] + 1
            rev = Revision(
                record_id=rid,
                version=version,
                kind=Kind.DISCLOSURE,
                valid_until=0,
                content_hash=hashlib.sha256(content).digest(),
                metadata_hash=b"\x11" * 32,
                prev_leaf=reg.leaves[rid],
            )
            txs.append(
                reg.contract.functions.anchor(rev.as_tuple()).transact(
                    {"from": reg.signer, "gasPrice": 0, "gas": 300_000}
                )
            )
            reg.leaves[rid] = compute_leaf(rev, chain_id=reg.chain_id, registry=reg.address)
            reg.versions[rid] = version
        mine(reg, 1)
    finally:
        reg.w3.provider.make_request("evm_setAutomine", [True])
    for tx in txs:
        reg._wait(tx)
    mine(reg, 150)
    result, _, blocks = counted(reg, proxy, code_for(reg, rid, 1, v1))
    assert result.verdict is Verdict.SUPERSEDED
    assert [r.version for r in result.timeline] == [1, 2, 3]
    assert blocks == 2, "v3 and v2 share a block: one read for both, one for v1"


def test_unstamped_upload_through_the_index_reads_one_block(verifier_registry, proxy) -> None:
    reg = verifier_registry
    rid, _, _ = reg.anchor(b"annual report")
    block = reg.w3.eth.block_number
    mine(reg, 500)
    trust = TrustList.single(
        chain_id=reg.chain_id, registry=reg.address, name="t", rpc_url=proxy.url
    )
    source = ChainRegistry(trust.entries[0])
    source._ensure_checked()
    digest = hashlib.sha256(b"annual report").digest()

    def index(wanted: bytes, hint: int | None = block):
        return [ContentHit(reg.chain_id, reg.address, rid, 1, hint)] if wanted == digest else []

    proxy.reset_counters()
    unknown = verify_file(b"never anchored", trust, connect=lambda _e: source, index=index)
    assert unknown.verdict is Verdict.UNKNOWN
    assert sum(proxy.calls.values()) == 0, "unknown bytes cost no chain read"
    found = verify_file(b"annual report", trust, connect=lambda _e: source, index=index)
    assert found.verdict is Verdict.AUTHENTIC_CURRENT
    assert proxy.blocks_asked <= 2 and proxy.refused == 0
    # A wrong block hint is not believed: the record is read back from its head instead.
    fresh = ChainRegistry(trust.entries[0])
    wrong = verify_file(
        b"annual report",
        trust,
        connect=lambda _e: fresh,
        index=lambda d: index(d, hint=block + 7),
    )
    assert wrong.verdict is Verdict.AUTHENTIC_CURRENT


def _legacy_log(abi: ContractAbi, name: str, topics: list[bytes], data: bytes) -> dict:
    item = next(e for e in FORMAT_1_EVENTS if e["name"] == name)
    sig = f"{name}({','.join(i['type'] for i in item['inputs'])})"
    return {
        "topics": [keccak(text=sig), *topics],
        "data": data,
        "blockNumber": 5,
        "blockHash": b"\x01" * 32,
        "transactionHash": b"\x02" * 32,
        "logIndex": 0,
    }


def test_format_1_logs_still_decode() -> None:
    abi = ContractAbi(load_artifact()["abi"])
    rid, by = b"\x00\x00\x00\x01" + b"\x07" * 28, b"\x00\x00\x00\x01" + b"\x08" * 28
    signer = bytes(12) + b"\x09" * 20
    words = [signer, (1).to_bytes(32, "big"), bytes(32), bytes(32), b"\x0a" * 32, b"\x0b" * 32]
    anchored = decode_log(abi, _legacy_log(abi, "RevisionAnchored", [rid], b"".join(words)))
    assert isinstance(anchored, RevisionAnchored)
    assert anchored.prev_head is None and anchored.content_hash == b"\x0a" * 32
    replaced = decode_log(abi, _legacy_log(abi, "RecordReplaced", [rid, by], signer))
    assert isinstance(replaced, RecordReplaced)
    assert replaced.by_record_id == by and replaced.reason_hash == bytes(32)
    assert len(abi.topics("RevisionAnchored")) == 2
    assert abi.topics("RevisionAnchored")[0] == abi.event("RevisionAnchored").topic
