#!/usr/bin/env python3
"""Benchmark the citizen's verify page: 50 concurrent clients on `/v/<payload>`.

Starts its own anvil and a real uvicorn server (`api.main:create_app`, embedded defaults),
anchors `--records` records, then has `--clients` concurrent HTTP clients open their verify
URLs for `--seconds`. The verdict cache is off by default (`--cache-ttl 0`), so every request
reads the chain: the cold path, as when many citizens scan different codes.

Prints a table and writes JSON with exactly `verify_p50_ms`, `verify_p99_ms` and
`verify_per_s`. The two latencies are server time, as the target is stated: the page's
`Server-Timing: verify` (from the moment the server starts on it to the response). The
table also shows the time pages waited for a slot (`Server-Timing: wait`, see
`NOTARY_VERIFY_CONCURRENCY`) and the latency as the client saw it: with 50 clients that
send again the moment they get an answer, that is about 50 / pages per second.

    .venv/bin/python scripts/bench_verify.py --json bench/results/verify.json
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import loadgen  # noqa: E402

from notary.chain.abi import load_artifact  # noqa: E402
from notary.chain.local import LocalChain, free_port  # noqa: E402
from notary.formats.qr_payload import QrPayload, verify_url  # noqa: E402
from notary.formats.revision import Kind, Revision, compute_leaf, new_record_id  # noqa: E402
from verifier.trust import TrustList  # noqa: E402


def anchor_records(chain: LocalChain, count: int) -> tuple[str, list[QrPayload]]:
    """Deploy a registry, register one office and anchor `count` records (v1, some v2)."""
    from web3 import Web3

    w3 = Web3(Web3.HTTPProvider(chain.url))
    admin, signer = w3.eth.accounts[0], w3.eth.accounts[1]
    art = load_artifact()
    tx = {"from": admin, "gasPrice": 0}
    factory = w3.eth.contract(abi=art["abi"], bytecode=art["bytecode"])
    address = w3.eth.wait_for_transaction_receipt(factory.constructor(admin).transact(tx))[
        "contractAddress"
    ]
    reg = w3.eth.contract(address=address, abi=art["abi"])
    office = hashlib.sha256(b"bench office").digest()
    w3.eth.wait_for_transaction_receipt(
        reg.functions.registerOffice(office, "示范市政务服务数据管理局").transact(tx)
    )
    w3.eth.wait_for_transaction_receipt(reg.functions.grantSigner(office, signer).transact(tx))
    number = reg.functions.office(office).call()[0]
    payloads = []
    hashes = []
    for i in range(count):
        rid = new_record_id(number)
        prev = bytes(32)
        versions = 2 if i % 3 == 0 else 1  # a third are superseded pages
        for v in range(1, versions + 1):
            rev = Revision(
                record_id=rid,
                version=v,
                kind=Kind.DISCLOSURE,
                valid_until=0,
                content_hash=hashlib.sha256(f"{i}/{v}".encode()).digest(),
                metadata_hash=bytes(32),
                prev_leaf=prev,
            )
            hashes.append(reg.functions.anchor(rev.as_tuple()).transact({**tx, "from": signer}))
            leaf = compute_leaf(rev, chain_id=chain.chain_id, registry=address)
            if v == 1:
                payloads.append(
                    QrPayload.for_page(
                        chain_id=chain.chain_id,
                        registry=address,
                        record_id=rid,
                        version=1,
                        leaf=leaf,
                        page=1,
                        pages=4,
                    )
                )
            prev = leaf
            w3.eth.wait_for_transaction_receipt(hashes[-1])
    return address, payloads


def start_server(
    data_dir: Path, trust_file: Path, port: int, ttl: float, workers: int
) -> subprocess.Popen:
    env = dict(
        os.environ,
        NOTARY_DATA_DIR=str(data_dir),
        NOTARY_VERIFY_TRUST=str(trust_file),
        NOTARY_VERIFY_CACHE_TTL=str(ttl),
    )
    cmd = [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        "api.main:create_app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-access-log",
        "--workers",
        str(workers),
    ]
    return subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True)


def run_clients(port: int, urls: list[str], clients: int, seconds: float):
    """Each client opens the verify URLs in turn; every response, and the elapsed time."""
    host = f"127.0.0.1:{port}"
    requests = [loadgen.request_bytes("GET", url, host) for url in urls]
    # Warm up connections and the page's imports.
    asyncio.run(
        loadgen.run("127.0.0.1", port, clients=2, seconds=0.5, make_request=lambda i: requests[0])
    )
    return asyncio.run(
        loadgen.run(
            "127.0.0.1",
            port,
            clients=clients,
            seconds=seconds,
            make_request=lambda i: requests[i % len(requests)],
            keep_headers=("server-timing",),
        )
    )


def server_ms(header: str, metric: str) -> float:
    """The `dur` of one metric of a Server-Timing header, in ms (NaN if absent)."""
    for part in header.split(","):
        name, _, params = part.strip().partition(";")
        if name == metric and params.startswith("dur="):
            return float(params[4:])
    return float("nan")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", metavar="PATH", help="write the figures here")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--records", type=int, default=120)
    parser.add_argument("--cache-ttl", type=float, default=0.0, help="verdict cache TTL (s)")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp, LocalChain() as chain:
        address, payloads = anchor_records(chain, args.records)
        trust_file = Path(tmp) / "trust.json"
        trust_file.write_text(
            TrustList.single(
                chain_id=chain.chain_id, registry=address, name="bench", rpc_url=chain.url
            ).to_json()
        )
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = start_server(Path(tmp) / "data", trust_file, port, args.cache_ttl, args.workers)
        try:
            import httpx

            for _ in range(200):
                try:
                    httpx.get(base + "/verify", timeout=1)
                    break
                except httpx.HTTPError:
                    time.sleep(0.1)
            host = f"127.0.0.1:{port}"
            urls = [verify_url(host, p, scheme="http")[len(base) :] for p in payloads]
            samples, elapsed = run_clients(port, urls, args.clients, args.seconds)
        finally:
            server.terminate()
            server.wait(10)

    lat = [x.latency_s * 1e3 for x in samples]
    srv = [server_ms(x.headers.get("server-timing", ""), "verify") for x in samples]
    wait = [server_ms(x.headers.get("server-timing", ""), "wait") for x in samples]
    statuses: dict[int, int] = {}
    for x in samples:
        statuses[x.status] = statuses.get(x.status, 0) + 1
    figures = {
        "verify_p50_ms": round(loadgen.percentile(srv, 50), 2),
        "verify_p99_ms": round(loadgen.percentile(srv, 99), 2),
        "verify_per_s": round(len(lat) / elapsed, 1),
    }
    from rich.console import Console
    from rich.table import Table

    table = Table(
        title=f"verify page: {args.clients} clients, {args.seconds:.0f} s, "
        f"{len(payloads)} codes, cache TTL {args.cache_ttl} s, "
        f"{args.workers} worker(s)"
    )
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row("requests", str(len(lat)))
    table.add_row("statuses", json.dumps(statuses))
    table.add_row("client p50 ms", f"{loadgen.percentile(lat, 50):.2f}")
    table.add_row("client p99 ms", f"{loadgen.percentile(lat, 99):.2f}")
    table.add_row("slot wait p50 ms (Server-Timing wait)", f"{loadgen.percentile(wait, 50):.2f}")
    table.add_row("slot wait p99 ms (Server-Timing wait)", f"{loadgen.percentile(wait, 99):.2f}")
    table.add_row("server p50 ms (Server-Timing verify)", f"{loadgen.percentile(srv, 50):.2f}")
    table.add_row("server p99 ms (Server-Timing verify)", f"{loadgen.percentile(srv, 99):.2f}")
    table.add_row("pages / s", f"{figures['verify_per_s']:.1f}")
    Console().print(table)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
