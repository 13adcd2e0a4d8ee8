"""The committed registry artifact (notary/chain/artifact/NotaryRegistry.json) matches the sources.

The verifier and the API deploy and read the registry from the committed ABI and bytecode,
without a compiler; these tests fail as soon as a change to the Solidity sources (or to the
compiler settings) is not followed by `python -m notary.chain.build --write`.
"""

from __future__ import annotations

import builtins
import json
import tomllib
from pathlib import Path
from typing import Any

import pytest

from notary.chain import build as contract_build
from notary.chain.abi import load_artifact
from notary.chain.build import ROOT, compile_artifact, render


@pytest.fixture(scope="module")
def fresh() -> dict[str, Any]:
    """What the sources compile to right now (py-solc-x through the solc-js wrapper)."""
    return compile_artifact()


def test_committed_artifact_has_exactly_the_documented_fields() -> None:
    artifact = load_artifact()
    assert set(artifact) == {"contractName", "abi", "bytecode", "compiler"}
    assert artifact["contractName"] == "NotaryRegistry"
    assert artifact["bytecode"].startswith("0x") and len(artifact["bytecode"]) > 2


def test_committed_abi_matches_what_the_sources_compile_to(fresh: dict[str, Any]) -> None:
    assert load_artifact()["abi"] == fresh["abi"], "stale ABI: run `make abi`"


def test_committed_bytecode_matches_what_the_sources_compile_to(fresh: dict[str, Any]) -> None:
    assert load_artifact()["bytecode"] == fresh["bytecode"], "stale bytecode: run `make abi`"


def test_committed_file_is_rendered_canonically(fresh: dict[str, Any]) -> None:
    assert contract_build.ARTIFACT.read_text(encoding="utf-8") == render(fresh)


def test_compiler_settings_match_foundry_toml() -> None:
    profile = tomllib.loads((ROOT / "foundry.toml").read_text())["profile"]["default"]
    settings = contract_build.SETTINGS
    assert settings["optimizer"] == {
        "enabled": profile["optimizer"],
        "runs": profile["optimizer_runs"],
    }
    assert settings["evmVersion"] == profile["evm_version"]
    assert settings["remappings"] == profile["remappings"]


def test_abi_exposes_every_interface_function() -> None:
    names = {e["name"] for e in load_artifact()["abi"] if e["type"] == "function"}
    expected = {
        "registerOffice", "suspendOffice", "reinstateOffice", "grantSigner", "revokeSigner",
        "anchor", "anchorMany", "anchorBatch", "revoke", "replace", "anchorAccessLog",
        "head", "isCurrent", "computeLeaf", "office", "officeIdOf", "signerAuthorisedAt",
        "signerPeriods", "accumulator", "batch", "verifyBatchLeaf", "GOVERNOR_ROLE",
    }  # fmt: skip
    assert expected <= names


def test_check_exits_1_when_the_committed_artifact_is_stale(
    fresh: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stale = dict(fresh, bytecode=fresh["bytecode"][:-2] + "00")
    path = tmp_path / "NotaryRegistry.json"
    path.write_text(render(stale))
    monkeypatch.setattr(contract_build, "ARTIFACT", path)
    monkeypatch.setattr(contract_build, "ROOT", tmp_path)
    monkeypatch.setattr(contract_build, "compile_artifact", lambda: fresh)
    assert contract_build.main(["--check"]) == 1
    assert contract_build.main(["--write"]) == 0
    assert json.loads(path.read_text()) == fresh
    assert contract_build.main(["--check"]) == 0


def test_load_artifact_needs_no_compiler(monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def no_solcx(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "solcx" or name.startswith("solcx."):
            raise ImportError("no compiler here")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_solcx)
    assert load_artifact()["abi"]
