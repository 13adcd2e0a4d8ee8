"""Compile the registry contract and keep its committed artifact in step with the sources.

The artifact `notary/chain/artifact/NotaryRegistry.json` (ABI, creation bytecode, compiler
settings) is committed so that the verifier, the API and the tests can deploy and read the
registry without a compiler. `python -m notary.chain.build --write` regenerates it; `--check`
exits 1 when it no longer matches what the sources compile to (CI runs the same comparison as
a test).

Compilation goes through py-solc-x with the project's solc-js wrapper (`scripts/solc`) and the
same settings as `foundry.toml`, so forge and Python build the same contract.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from notary.chain.abi import ARTIFACT, CONTRACT_NAME, ArtifactError, load_artifact

ROOT = Path(__file__).resolve().parents[2]
SOLC = ROOT / "scripts" / "solc"
SOURCE = "contracts/src/NotaryRegistry.sol"

# Mirrors foundry.toml: optimizer on, 10000 runs, evm prague, OpenZeppelin from node_modules.
SETTINGS: dict[str, Any] = {
    "optimizer": {"enabled": True, "runs": 10000},
    "evmVersion": "prague",
    "remappings": ["@openzeppelin/contracts/=node_modules/@openzeppelin/contracts/"],
    "outputSelection": {SOURCE: {CONTRACT_NAME: ["abi", "evm.bytecode.object"]}},
}


def compile_artifact() -> dict[str, Any]:
    """Compile the sources now and return the artifact they produce."""
    import solcx  # imported here: reading the committed artifact must not need it

    source = ROOT / SOURCE
    input_json = {
        "language": "Solidity",
        "sources": {SOURCE: {"content": source.read_text(encoding="utf-8")}},
        "settings": SETTINGS,
    }
    try:
        output = solcx.compile_standard(
            input_json,
            solc_binary=str(SOLC),
            base_path=str(ROOT),
            allow_paths=[str(ROOT / "contracts"), str(ROOT / "node_modules")],
        )
    except solcx.exceptions.SolcError as exc:
        raise ArtifactError(f"compilation failed:\n{exc}") from exc
    contract = output["contracts"][SOURCE][CONTRACT_NAME]
    return {
        "contractName": CONTRACT_NAME,
        "abi": contract["abi"],
        "bytecode": "0x" + contract["evm"]["bytecode"]["object"],
        "compiler": {
            "version": _compiler_version(),
            "optimizer": SETTINGS["optimizer"],
            "evmVersion": SETTINGS["evmVersion"],
        },
    }


def _compiler_version() -> str:
    """The long version string of the solc-js behind the wrapper (e.g. 0.8.30+commit.…)."""
    import subprocess

    out = subprocess.run([str(SOLC), "--version"], capture_output=True, text=True, check=True)
    line = next(ln for ln in out.stdout.splitlines() if ln.startswith("Version:"))
    return line.split(":", 1)[1].strip().removesuffix(".Linux.g++")


def render(artifact: dict[str, Any]) -> str:
    """The artifact as committed: stable key order, two-space indent, trailing newline."""
    return json.dumps(artifact, indent=2) + "\n"


def stale_fields(committed: dict[str, Any], fresh: dict[str, Any]) -> list[str]:
    """Names of the top-level fields that differ between two artifacts."""
    keys = sorted(committed.keys() | fresh.keys())
    return [k for k in keys if committed.get(k) != fresh.get(k)]


def main(argv: list[str] | None = None) -> int:
    """CLI: `--write` regenerates the artifact, `--check` exits 1 if it is stale.

    Exit codes: 0 up to date (or written), 1 stale or missing, 2 compilation failed.
    """
    parser = argparse.ArgumentParser(
        prog="python -m notary.chain.build",
        description="Compile NotaryRegistry and keep notary/chain/artifact/ in step.",
    )
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true", help="rewrite the committed artifact")
    mode.add_argument("--check", action="store_true", help="exit 1 if the artifact is stale")
    args = parser.parse_args(argv)

    try:
        fresh = compile_artifact()
    except ArtifactError as exc:
        print(exc, file=sys.stderr)
        return 2
    if args.write:
        ARTIFACT.parent.mkdir(parents=True, exist_ok=True)
        ARTIFACT.write_text(render(fresh), encoding="utf-8")
        print(f"wrote {ARTIFACT.relative_to(ROOT)}")
        return 0
    try:
        committed = load_artifact(ARTIFACT)
    except ArtifactError as exc:
        print(exc, file=sys.stderr)
        return 1
    differ = stale_fields(committed, fresh)
    if differ:
        print(
            f"{ARTIFACT.relative_to(ROOT)} is stale ({', '.join(differ)} differ): "
            "run `python -m notary.chain.build --write`",
            file=sys.stderr,
        )
        return 1
    print(f"{ARTIFACT.relative_to(ROOT)} is up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
