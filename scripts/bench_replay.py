#!/usr/bin/env python3
"""Benchmark the auditor's replay: fetch raw logs vs the full replay with every check.

Starts its own anvil, deploys a registry, and anchors `--n` revisions quickly with
`anchorMany` (`--chunk` per transaction; about a third are version 2 of an earlier record,
so previous-leaf links are exercised), plus one revocation per chunk. Then, in the same run:

- `getlogs_only_s`: paginated raw `eth_getLogs` over the whole range (JSON parsed, nothing
  decoded), the floor any replay pays;
- `replay_s`: `notary.audit.runner.replay` from scratch: decode, recompute every leaf, fold
  the accumulator, check every rule, compare with the registry's `accumulator()`.

Prints a table and writes JSON with exactly `getlogs_only_s`, `replay_s` and `n`.
Targets: `replay_s ≤ 30` for 100,000 revisions, `getlogs_only_s / replay_s ≥ 0.5`.

    .venv/bin/python scripts/bench_replay.py --n 100000 --json bench/results/replay.json
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from eth_account import Account  # noqa: E402

from notary.audit.logs import RawLogReader  # noqa: E402
from notary.audit.runner import replay  # noqa: E402
from notary.chain.client import RegistryClient, deploy_registry, make_web3  # noqa: E402
from notary.chain.config import ChainConfig, GasPolicy  # noqa: E402
from notary.chain.local import LocalChain  # noqa: E402
from notary.formats.revision import Kind, Revision, compute_leaf, new_record_id  # noqa: E402

GAS_PER_REVISION = 80_000


def build_chain(chain: LocalChain, n: int, chunk: int, page_size: int) -> RegistryClient:
    """Deploy, register an office and anchor `n` revisions in `anchorMany` chunks."""
    config = ChainConfig(
        rpc_url=chain.url,
        chain_id=chain.chain_id,
        gas=GasPolicy("zero"),
        rpc_timeout=120.0,
        receipt_timeout=600.0,
        resend_timeout=300.0,
        log_page_size=page_size,
    )
    web3 = make_web3(config)
    governance, signer = Account.create(), Account.create()
    deployment = deploy_registry(web3, governance, config=config)
    config = config.replace(registry=deployment.address, start_block=deployment.block_number)
    client = RegistryClient.connect(config, web3=web3)
    office_id = hashlib.sha256(b"bench office").digest()
    client.register_office(governance, office_id, "示范市政务服务数据管理局")
    client.grant_signer(governance, office_id, signer.address)
    number = client.office(office_id).number
    leaves: dict[bytes, bytes] = {}
    singles: list[bytes] = []  # records still at version 1
    pending = []
    done = 0
    started = time.perf_counter()
    while done < n:
        size = min(chunk, n - done)
        revs = []
        for i in range(size):
            if singles and i % 3 == 0:
                rid, version = singles.pop(), 2
            else:
                rid, version = new_record_id(number), 1
            content = hashlib.sha256(b"%d" % (done + i)).digest()
            rev = Revision(
                rid, version, Kind.DISCLOSURE, 0, content, content, leaves.get(rid, bytes(32))
            )
            leaves[rid] = compute_leaf(rev, chain_id=client.chain_id, registry=client.address)
            revs.append(rev)
        singles.extend(r.record_id for r in revs if r.version == 1)
        signed = client.prepare_anchor_many(signer, revs, gas=GAS_PER_REVISION * size + 200_000)
        client.broadcast(signed)
        pending.append(signed)
        done += size
        print(f"\r  anchoring: {done}/{n} sent", end="", file=sys.stderr, flush=True)
    for signed in pending:
        client.wait(signed)
    revoked = singles[: max(1, n // chunk)]
    for rid in revoked[:20]:
        client.revoke(signer, rid, hashlib.sha256(b"bench").digest())
    took = time.perf_counter() - started
    print(f"\r  chain built: {n} revisions in {took:.1f} s", file=sys.stderr)
    return client


def getlogs_only(client: RegistryClient) -> tuple[float, int]:
    """Raw paginated eth_getLogs over the registry's whole range: (seconds, logs)."""
    reader = RawLogReader(client.web3, client.address, client.abi, client.config)
    end = reader.latest_safe_block()
    started = time.perf_counter()
    count = sum(len(page.logs) for page in reader.iter_pages(client.config.start_block, end))
    return time.perf_counter() - started, count


def full_replay(client: RegistryClient) -> tuple[float, int, bool]:
    """The full replay from scratch: (seconds, revisions, accumulator ok)."""
    started = time.perf_counter()
    state, summary = replay(client)
    elapsed = time.perf_counter() - started
    if state.violations:
        raise SystemExit(f"replay found violations on an honest chain: {state.violations[:3]}")
    return elapsed, len(state.revisions), bool(summary.accumulator_ok)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="revisions to anchor")
    parser.add_argument("--chunk", type=int, default=400, help="revisions per anchorMany")
    parser.add_argument("--page-size", type=int, default=25, help="blocks per eth_getLogs")
    parser.add_argument("--json", type=Path, required=True, help="where to write the results")
    args = parser.parse_args()
    with LocalChain() as chain:
        client = build_chain(chain, args.n, args.chunk, args.page_size)
        fetch_s, logs = getlogs_only(client)
        replay_s, revisions, acc_ok = full_replay(client)
    if revisions != args.n or not acc_ok:
        raise SystemExit(f"replay rebuilt {revisions} revisions (accumulator ok: {acc_ok})")
    result = {"getlogs_only_s": round(fetch_s, 3), "replay_s": round(replay_s, 3), "n": args.n}
    print(f"{'metric':<22}{'value':>12}")
    print(f"{'n (revisions)':<22}{args.n:>12}")
    print(f"{'logs fetched':<22}{logs:>12}")
    print(f"{'getlogs_only_s':<22}{fetch_s:>12.2f}")
    print(f"{'replay_s':<22}{replay_s:>12.2f}")
    print(f"{'fetch share':<22}{fetch_s / replay_s:>12.2f}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
