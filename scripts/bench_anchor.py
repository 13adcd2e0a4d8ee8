"""Anchoring throughput: revisions/s from the database outbox to confirmed receipts.

    python scripts/bench_anchor.py [--n 5000] [--naive-n 300] --json PATH

A fresh embedded chain (anvil, zero gas) and, per mode, a fresh SQLite database holding N
pending revisions of 1 KB files. Each mode runs the real worker
(`notary.anchoring.worker`), so every figure includes recording each transaction before
broadcasting it and storing its receipt:

- naive:  one `anchor` transaction per revision, sequential, waiting for each receipt
          (measured on `--naive-n` revisions: it is the slow baseline);
- direct: one `anchor` per revision, up to 64 in flight (local nonces), then receipts
          (measured on `--direct-n` revisions; each still costs a gas estimate);
- many:   `anchorMany` chunks of 200 revisions, up to 16 transactions in flight;
- batch:  `anchorBatch` of a Merkle root over up to 5,000 leaves.

Writes `naive_per_s`, `direct_per_s`, `many_per_s`, `batch_per_s`, `n` and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from eth_account import Account
from rich.console import Console
from rich.table import Table

from notary.anchoring.seed import seed_revisions
from notary.anchoring.worker import Worker, WorkerSettings
from notary.chain.client import RegistryClient, deploy_registry, make_web3
from notary.chain.config import ChainConfig, GasPolicy
from notary.chain.events import OfficeRegistered
from notary.chain.local import LocalChain
from notary.db import repo
from notary.db.migrate import upgrade
from notary.db.session import make_engine, session_factory, unit_of_work

MODES = {
    "naive": {"mode": "direct", "max_jobs": 1},
    "direct": {"mode": "direct", "max_jobs": 64, "fetch_limit": 5000},
    "many": {"mode": "many", "many_size": 200, "max_jobs": 16, "fetch_limit": 5000},
    "batch": {"mode": "batch", "batch_size": 5000, "fetch_limit": 5000},
}


def run_mode(name: str, n: int, config: ChainConfig, office, signer, workdir: Path) -> float:
    """Seed `n` pending revisions in a fresh database and time the worker to the last receipt."""
    db_url = f"sqlite:///{workdir / f'{name}.sqlite3'}"
    upgrade(db_url)
    engine = make_engine(db_url)
    factory = session_factory(engine)
    with unit_of_work(factory) as s:
        row = repo.create_office(s, office_id=office[0], number=office[1], name="bench")
        seed_revisions(s, office=row, records=n)
    settings = WorkerSettings(db_url=db_url, chain=config, signers=(signer,), **MODES[name])
    worker = Worker(settings, engine=engine, client=RegistryClient.connect(config))
    worker.connect()
    start = time.perf_counter()
    done = 0
    while done < n:
        got = worker.run_once()
        if got == 0:
            raise RuntimeError(f"{name}: the worker stopped after {done} of {n}")
        done += got
    elapsed = time.perf_counter() - start
    engine.dispose()
    return n / elapsed


def main(argv: list[str] | None = None) -> int:
    """Run every mode and write the JSON figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=5000, help="revisions per mode")
    parser.add_argument("--naive-n", type=int, default=300, help="revisions for naive mode")
    parser.add_argument("--direct-n", type=int, default=1000, help="revisions for direct mode")
    parser.add_argument("--json", type=Path, required=True, help="where to write the figures")
    args = parser.parse_args(argv)

    Account.enable_unaudited_hdwallet_features()
    governance, signer = Account.create(), Account.create()  # zero gas: keys need no funds
    with tempfile.TemporaryDirectory() as tmp, LocalChain() as chain:
        config = ChainConfig(
            rpc_url=chain.url,
            chain_id=chain.chain_id,
            gas=GasPolicy(policy="zero"),
            poll_interval=0.005,
        )
        deployment = deploy_registry(make_web3(config), governance, config=config)
        config = config.replace(registry=deployment.address, start_block=deployment.block_number)
        client = RegistryClient.connect(config)
        office_id = os.urandom(32)
        reg = client.register_office(governance, office_id, "Bench office")
        number = reg.events_of(OfficeRegistered)[0].number
        client.grant_signer(governance, office_id, signer.address)
        rates: dict[str, float] = {}
        for name in MODES:
            sample = {"naive": args.naive_n, "direct": args.direct_n}.get(name, args.n)
            n = min(args.n, sample)
            rates[name] = run_mode(name, n, config, (office_id, number), signer, Path(tmp))
    out = {f"{name}_per_s": round(rate, 1) for name, rate in rates.items()} | {"n": args.n}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(out, indent=2) + "\n")
    table = Table(title=f"anchoring {args.n} revisions (naive/direct: sampled)")
    table.add_column("mode")
    table.add_column("revisions/s", justify="right")
    table.add_column("× naive", justify="right")
    for name, rate in rates.items():
        table.add_row(name, f"{rate:,.1f}", f"{rate / rates['naive']:,.1f}")
    Console().print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
