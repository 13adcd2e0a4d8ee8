#!/usr/bin/env python3
"""Gas of the registry against the Ethereum Attestation Service, measured in one run.

Starts a fresh anvil, deploys NotaryRegistry (from the committed artifact) and EAS
(SchemaRegistry + EAS from the npm package's compiled artifacts), and reads the gas used from
the receipts of the same kind of work on both. Prints a table with the targets and writes a
flat JSON object of integer gas figures:

    direct_new_record               anchor() of version 1 of a new record
    direct_new_version              anchor() of version 2 of that record
    many_per_revision_100           anchorMany() of 100 new records, gas / 100
    batch_per_leaf_1000             anchorBatch() of a root over 1000 leaves, gas / 1000
    revoke                          revoke() of a record
    eas_timestamp                   EAS.timestamp(bytes32)
    eas_multi_timestamp_per_item_100  EAS.multiTimestamp() of 100 items, gas / 100
    eas_attest                      EAS.attest() with a registered `bytes32 data` schema

Every figure is steady state: the registry's accumulator slot is already non-zero (one record
is anchored first), as it is on any chain in use. Exit code: 0 when every target is met,
1 when one is missed.

Usage: python scripts/bench_gas.py [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402
from web3 import Web3  # noqa: E402

from notary.chain.abi import load_artifact  # noqa: E402
from notary.chain.local import LocalChain  # noqa: E402

EAS_ARTIFACTS = ROOT / "node_modules" / "@ethereum-attestation-service" / "eas-contracts"
EAS_ARTIFACTS = EAS_ARTIFACTS / "artifacts" / "contracts"
ZERO32 = b"\x00" * 32
OFFICE_ID = Web3.keccak(text="bench-office")

# (metric, factor, reference metric): metric <= factor * reference; reference None = absolute.
TARGETS: list[tuple[str, float, str | None]] = [
    ("direct_new_record", 1.3, "eas_timestamp"),
    ("many_per_revision_100", 1.3, "eas_multi_timestamp_per_item_100"),
    ("batch_per_leaf_1000", 100, None),
    ("direct_new_record", 0.35, "eas_attest"),
]
KEYS = [
    "direct_new_record",
    "direct_new_version",
    "many_per_revision_100",
    "batch_per_leaf_1000",
    "revoke",
    "eas_timestamp",
    "eas_multi_timestamp_per_item_100",
    "eas_attest",
]


def _eas_artifact(name: str) -> dict[str, Any]:
    return json.loads((EAS_ARTIFACTS / f"{name}.sol" / f"{name}.json").read_text())


def _send(w3: Web3, call: Any, sender: str) -> dict[str, Any]:
    """Send a contract call and return its receipt; raise if it reverted."""
    base_fee = w3.eth.get_block("latest")["baseFeePerGas"]  # zero on a consortium chain
    tx = call.transact({"from": sender, "maxFeePerGas": 2 * base_fee, "maxPriorityFeePerGas": 0})
    receipt = w3.eth.wait_for_transaction_receipt(tx)
    if receipt["status"] != 1:
        raise RuntimeError(f"transaction {tx.hex()} reverted")
    return receipt


def _deploy(w3: Web3, abi: list, bytecode: str, sender: str, *args: Any) -> Any:
    receipt = _send(w3, w3.eth.contract(abi=abi, bytecode=bytecode).constructor(*args), sender)
    return w3.eth.contract(address=receipt["contractAddress"], abi=abi)


def _record_id(number: int) -> bytes:
    """A record id as docs/formats.md says: office number (4 bytes) + 28 random bytes."""
    return number.to_bytes(4, "big") + os.urandom(28)


def _revision(record_id: bytes, version: int = 1, prev_leaf: bytes = ZERO32) -> tuple:
    """A disclosure revision with random content and metadata hashes."""
    return (record_id, version, 0, 0, os.urandom(32), os.urandom(32), prev_leaf)


def _merkle_root(leaves: list[bytes]) -> bytes:
    """RFC 6962-shaped root with sorted, 0x01-prefixed inner nodes (docs/formats.md)."""

    def node(a: bytes, b: bytes) -> bytes:
        lo, hi = sorted((a, b))
        return Web3.keccak(b"\x01" + lo + hi)

    def mth(nodes: list[bytes]) -> bytes:
        if len(nodes) == 1:
            return nodes[0]
        k = 1 << ((len(nodes) - 1).bit_length() - 1)  # largest power of two < n
        return node(mth(nodes[:k]), mth(nodes[k:]))

    return mth([Web3.keccak(b"\x00" + leaf) for leaf in leaves])


def measure(url: str) -> dict[str, int]:
    """Deploy both contracts on the node at `url` and return the gas figures."""
    w3 = Web3(Web3.HTTPProvider(url))
    admin, signer, attester = w3.eth.accounts[:3]

    art = load_artifact()
    registry = _deploy(w3, art["abi"], art["bytecode"], admin, admin)
    number = registry.functions.registerOffice(OFFICE_ID, "Bench office").call({"from": admin})
    _send(w3, registry.functions.registerOffice(OFFICE_ID, "Bench office"), admin)
    _send(w3, registry.functions.grantSigner(OFFICE_ID, signer), admin)
    fn = registry.functions
    # Steady state: the accumulator slot is non-zero from the first anchor on.
    _send(w3, fn.anchor(_revision(_record_id(number))), signer)

    gas: dict[str, int] = {}
    record = _record_id(number)
    first = _revision(record)
    leaf = fn.computeLeaf(first).call()
    gas["direct_new_record"] = _send(w3, fn.anchor(first), signer)["gasUsed"]
    second = _revision(record, 2, leaf)
    gas["direct_new_version"] = _send(w3, fn.anchor(second), signer)["gasUsed"]

    many = [_revision(_record_id(number)) for _ in range(100)]
    gas["many_per_revision_100"] = round(_send(w3, fn.anchorMany(many), signer)["gasUsed"] / 100)

    root = _merkle_root([os.urandom(32) for _ in range(1000)])
    receipt = _send(w3, fn.anchorBatch(root, 1000), signer)
    gas["batch_per_leaf_1000"] = round(receipt["gasUsed"] / 1000)

    gas["revoke"] = _send(w3, fn.revoke(many[0][0], os.urandom(32)), signer)["gasUsed"]

    schemas = _eas_artifact("SchemaRegistry")
    eas_art = _eas_artifact("EAS")
    schema_registry = _deploy(w3, schemas["abi"], schemas["bytecode"], admin)
    eas = _deploy(w3, eas_art["abi"], eas_art["bytecode"], admin, schema_registry.address)
    resolver = "0x0000000000000000000000000000000000000000"
    register = schema_registry.functions.register("bytes32 data", resolver, True)
    schema_uid = register.call({"from": admin})
    _send(w3, register, admin)
    # Warm the same way as ours: one attestation and one timestamp first.
    ef = eas.functions
    _send(w3, ef.timestamp(os.urandom(32)), attester)

    gas["eas_timestamp"] = _send(w3, ef.timestamp(os.urandom(32)), attester)["gasUsed"]
    items = [os.urandom(32) for _ in range(100)]
    receipt = _send(w3, ef.multiTimestamp(items), attester)
    gas["eas_multi_timestamp_per_item_100"] = round(receipt["gasUsed"] / 100)

    def request() -> tuple:
        data = (admin, 0, True, ZERO32, os.urandom(32), 0)
        return (schema_uid, data)

    _send(w3, ef.attest(request()), attester)
    gas["eas_attest"] = _send(w3, ef.attest(request()), attester)["gasUsed"]
    return {key: int(gas[key]) for key in KEYS}


def check_targets(gas: dict[str, int]) -> list[tuple[str, int, float, bool]]:
    """Each target as (description, value, limit, met)."""
    rows = []
    for metric, factor, ref in TARGETS:
        limit = factor * gas[ref] if ref else float(factor)
        desc = f"{metric} <= {factor} x {ref}" if ref else f"{metric} <= {factor}"
        rows.append((desc, gas[metric], limit, gas[metric] <= limit))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, metavar="PATH", help="write the figures here")
    args = parser.parse_args(argv)

    with LocalChain() as chain:
        gas = measure(chain.url)

    console = Console()
    figures = Table(title="Gas used (from receipts, one fresh anvil)")
    figures.add_column("metric")
    figures.add_column("gas", justify="right")
    for key in KEYS:
        figures.add_row(key, f"{gas[key]:,}")
    console.print(figures)

    targets = Table(title="Targets")
    for col, justify in (("target", "left"), ("value", "right"), ("limit", "right"), ("", "left")):
        targets.add_column(col, justify=justify)
    results = check_targets(gas)
    for desc, value, limit, met in results:
        verdict = "[green]pass[/green]" if met else "[red]FAIL[/red]"
        targets.add_row(desc, f"{value:,}", f"{limit:,.0f}", verdict)
    console.print(targets)

    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(gas, indent=2) + "\n")
    return 0 if all(met for *_, met in results) else 1


if __name__ == "__main__":
    sys.exit(main())
