#!/usr/bin/env python3
"""What one verification reads, on a short chain and on a long one behind a Besu-like node.

One anvil behind the Besu-like proxy (`tests/support/besu_proxy.py`, `eth_getLogs` limited to
`--range-limit` blocks). One office anchors a fixed set of records: a current one, one with
three versions (its v3 current, its v1 superseded), a revoked one and a replaced one. Each
of their codes is verified `--repeat` times on the short chain; then at least
`--long-blocks` more blocks are added (other offices' anchors between runs of empty blocks,
`anvil_mine`) and the same codes are verified again. Every verification uses a fresh
verifier registry (no record, block or office cached) whose node check (`eth_chainId`,
`eth_getCode`, once per process) is done before counting; the proxy counts the calls and
the blocks each `eth_getLogs` asked for. An unstamped upload is checked through a content
index (what the service's database is): unknown bytes, and bytes the index knows.

    python scripts/bench_chain_scale.py [--json PATH] [--long-blocks 20000] [--repeat 15]

Keys: rpc_calls_short, rpc_calls_long (the most calls one verification made),
rpc_calls_mean_short, rpc_calls_mean_long, blocks_scanned_short, blocks_scanned_long (the
most blocks one verification's `eth_getLogs` covered), verify_p50_ms_short,
verify_p50_ms_long, unknown_upload_rpc_calls_long, known_upload_rpc_calls_long,
history_blocks_long, range_limit_blocks, unavailable_verdicts. Exit 1 when a verdict is not
the expected one or a target is missed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from support.besu_proxy import BesuProxy  # noqa: E402
from web3 import Web3  # noqa: E402

from notary.chain.abi import load_artifact  # noqa: E402
from notary.chain.local import LocalChain  # noqa: E402
from notary.formats.qr_payload import QrPayload, verify_url  # noqa: E402
from notary.formats.revision import Kind, Revision, compute_leaf, new_record_id  # noqa: E402
from verifier.chainsource import ChainRegistry  # noqa: E402
from verifier.result import Verdict  # noqa: E402
from verifier.trust import TrustList  # noqa: E402
from verifier.verify import ContentHit, verify_file, verify_payload  # noqa: E402


class Office:
    """One office on the bench registry: its number and signer, and what it anchored."""

    def __init__(self, bench: Bench, name: str, signer: str) -> None:
        self.bench, self.signer = bench, signer
        office_id = hashlib.sha256(name.encode()).digest()
        bench.send(bench.reg.functions.registerOffice(office_id, name))
        bench.send(bench.reg.functions.grantSigner(office_id, signer))
        self.number = bench.reg.functions.office(office_id).call()[0]

    def anchor(self, rid: bytes, version: int, prev: bytes, content: bytes) -> tuple[bytes, int]:
        """Anchor one revision; (its leaf, its block)."""
        rev = Revision(
            record_id=rid,
            version=version,
            kind=Kind.DISCLOSURE,
            valid_until=0,
            content_hash=hashlib.sha256(content).digest(),
            metadata_hash=bytes(32),
            prev_leaf=prev,
        )
        receipt = self.bench.send(self.bench.reg.functions.anchor(rev.as_tuple()), self.signer)
        leaf = compute_leaf(rev, chain_id=self.bench.chain_id, registry=self.bench.address)
        return leaf, int(receipt["blockNumber"])


class Bench:
    """The chain, the registry and the records whose codes are verified."""

    def __init__(self, chain: LocalChain) -> None:
        # anvil_mine of thousands of blocks takes a while on a loaded machine.
        self.w3 = Web3(Web3.HTTPProvider(chain.url, request_kwargs={"timeout": 900}))
        self.chain_id = chain.chain_id
        self.admin = self.w3.eth.accounts[0]
        art = load_artifact()
        factory = self.w3.eth.contract(abi=art["abi"], bytecode=art["bytecode"])
        receipt = self.send(factory.constructor(self.admin))
        self.address = receipt["contractAddress"]
        self.reg = self.w3.eth.contract(address=self.address, abi=art["abi"])

    def send(self, call: Any, sender: str | None = None) -> Any:
        tx = call.transact({"from": sender or self.admin, "gasPrice": 0})
        receipt = self.w3.eth.wait_for_transaction_receipt(tx)
        if receipt["status"] != 1:
            raise SystemExit(f"transaction failed: {tx.hex()}")
        return receipt

    def mine(self, blocks: int) -> None:
        self.w3.provider.make_request("anvil_mine", [hex(blocks)])

    def code(self, rid: bytes, version: int, leaf: bytes) -> str:
        payload = QrPayload.for_page(
            chain_id=self.chain_id,
            registry=self.address,
            record_id=rid,
            version=version,
            leaf=leaf,
            page=1,
            pages=1,
        )
        return verify_url("verify.example.gov", payload)


def build_records(bench: Bench, office: Office) -> tuple[list[tuple[str, str, Verdict]], dict]:
    """The verified set: (name, code, expected verdict), and a content index of it."""
    codes: list[tuple[str, str, Verdict]] = []
    index: dict[bytes, ContentHit] = {}

    def anchored(rid: bytes, v: int, prev: bytes, content: bytes) -> bytes:
        leaf, block = office.anchor(rid, v, prev, content)
        index[hashlib.sha256(content).digest()] = ContentHit(
            bench.chain_id, bench.address, rid, v, block
        )
        return leaf

    current = new_record_id(office.number)
    leaf = anchored(current, 1, bytes(32), b"current v1")
    codes.append(("current", bench.code(current, 1, leaf), Verdict.AUTHENTIC_CURRENT))
    bench.mine(40)

    revised = new_record_id(office.number)
    v1 = anchored(revised, 1, bytes(32), b"revised v1")
    bench.mine(60)
    v2 = anchored(revised, 2, v1, b"revised v2")
    bench.mine(30)
    v3 = anchored(revised, 3, v2, b"revised v3")
    codes.append(("revised_v3", bench.code(revised, 3, v3), Verdict.AUTHENTIC_CURRENT))
    codes.append(("revised_v1", bench.code(revised, 1, v1), Verdict.SUPERSEDED))
    bench.mine(20)

    revoked = new_record_id(office.number)
    leaf = anchored(revoked, 1, bytes(32), b"revoked v1")
    bench.mine(70)
    bench.send(
        bench.reg.functions.revoke(revoked, hashlib.sha256(b"error").digest()), office.signer
    )
    codes.append(("revoked", bench.code(revoked, 1, leaf), Verdict.REVOKED))

    replaced = new_record_id(office.number)
    leaf = anchored(replaced, 1, bytes(32), b"replaced v1")
    bench.mine(50)
    reason = hashlib.sha256(b"merged into the annual report").digest()
    bench.send(bench.reg.functions.replace(replaced, current, reason), office.signer)
    codes.append(("replaced", bench.code(replaced, 1, leaf), Verdict.SUPERSEDED))
    return codes, index


def grow(bench: Bench, others: list[Office], blocks: int) -> None:
    """Add at least `blocks` blocks: other offices' anchors between runs of empty blocks."""
    start = bench.w3.eth.block_number
    step = 2_000
    while bench.w3.eth.block_number - start < blocks:
        for office in others:
            rid = new_record_id(office.number)
            leaf, _ = office.anchor(rid, 1, bytes(32), rid)
            office.anchor(rid, 2, leaf, rid + b"/2")
        bench.mine(step)


def measure(
    entry: Any, proxy: BesuProxy, codes: list[tuple[str, str, Verdict]], repeat: int
) -> dict[str, Any]:
    """Verify every code `repeat` times with a fresh verifier; calls, blocks, times, verdicts."""
    trust = TrustList.of([entry])
    calls: list[int] = []
    blocks: list[int] = []
    times: list[float] = []
    wrong: list[str] = []
    unavailable = 0
    for _ in range(repeat):
        for name, code, expected in codes:
            reg = ChainRegistry(entry)
            reg._ensure_checked()  # the node check: once per process, not per verification
            proxy.reset_counters()
            started = time.perf_counter()
            result = verify_payload(code, trust, connect=lambda _e, r=reg: r)
            times.append((time.perf_counter() - started) * 1000)
            calls.append(sum(proxy.calls.values()))
            blocks.append(proxy.blocks_asked)
            unavailable += result.verdict is Verdict.UNAVAILABLE
            if result.verdict is not expected:
                wrong.append(f"{name}: {result.verdict.value} ({result.reason})")
    return {
        "calls_max": max(calls),
        "calls_mean": round(statistics.fmean(calls), 2),
        "blocks_max": max(blocks),
        "p50_ms": round(statistics.median(times), 2),
        "unavailable": unavailable,
        "wrong": sorted(set(wrong)),
    }


def upload_calls(entry: Any, proxy: BesuProxy, index: dict, data: bytes) -> tuple[int, Verdict]:
    """RPC calls of checking unstamped bytes through the content index."""
    reg = ChainRegistry(entry)
    reg._ensure_checked()
    proxy.reset_counters()
    result = verify_file(
        data,
        TrustList.of([entry]),
        connect=lambda _e: reg,
        index=lambda digest: [index[digest]] if digest in index else [],
    )
    return sum(proxy.calls.values()), result.verdict


def main() -> int:
    """Run the benchmark; exit 0 when every target is met."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--long-blocks", type=int, default=20_000)
    parser.add_argument("--range-limit", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()

    with LocalChain() as chain:
        bench = Bench(chain)
        office = Office(bench, "示范市政务服务数据管理局", bench.w3.eth.accounts[1])
        others = [Office(bench, f"其他机关 {i}", bench.w3.eth.accounts[2 + i]) for i in range(3)]
        codes, index = build_records(bench, office)
        with BesuProxy(chain.url, max_logs_range=args.range_limit) as proxy:
            entry = TrustList.single(
                chain_id=bench.chain_id, registry=bench.address, name="bench", rpc_url=proxy.url
            ).entries[0]
            short = measure(entry, proxy, codes, args.repeat)
            grow(bench, others, args.long_blocks)
            history = bench.w3.eth.block_number
            long = measure(entry, proxy, codes, args.repeat)
            unknown, unknown_verdict = upload_calls(entry, proxy, index, b"never anchored")
            known, known_verdict = upload_calls(entry, proxy, index, b"revised v3")
    figures = {
        "rpc_calls_short": short["calls_max"],
        "rpc_calls_long": long["calls_max"],
        "rpc_calls_mean_short": short["calls_mean"],
        "rpc_calls_mean_long": long["calls_mean"],
        "blocks_scanned_short": short["blocks_max"],
        "blocks_scanned_long": long["blocks_max"],
        "verify_p50_ms_short": short["p50_ms"],
        "verify_p50_ms_long": long["p50_ms"],
        "unknown_upload_rpc_calls_long": unknown,
        "known_upload_rpc_calls_long": known,
        "history_blocks_long": history,
        "range_limit_blocks": args.range_limit,
        "unavailable_verdicts": short["unavailable"] + long["unavailable"],
    }
    problems = [*short["wrong"], *long["wrong"]]
    if unknown_verdict is not Verdict.UNKNOWN:
        problems.append(f"unknown upload: {unknown_verdict.value}")
    if known_verdict is not Verdict.AUTHENTIC_CURRENT:
        problems.append(f"known upload: {known_verdict.value}")
    if figures["rpc_calls_long"] > min(8, figures["rpc_calls_short"]):
        problems.append("rpc_calls_long above rpc_calls_short or 8")
    if figures["verify_p50_ms_long"] > 1.2 * figures["verify_p50_ms_short"]:
        problems.append("verify_p50_ms_long above 1.2 x verify_p50_ms_short")
    if figures["unavailable_verdicts"]:
        problems.append("an unavailable verdict")
    print(json.dumps(figures, indent=2))
    for p in problems:
        print(f"MISSED: {p}", file=sys.stderr)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
