"""Hostile input at the command lines (`notary`, `verifier`) and at the process itself: a clear
error, a non-zero exit without a traceback, and nothing changed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from support.hostile_corpus import (
    PASSWORD,
    PDF_TRUNCATED,
    PNG_BOMB,
    RANDOM,
    ROOT,
    UNKNOWN_ID,
    State,
    assert_unchanged,
)

from notary.chain.local import LocalChain, rpc_call

# --- the CLIs -----------------------------------------------------------------------------


def cli(data_dir: Path, anvil: LocalChain, *args: str, module: str = "notary.cli.main"):
    """Run a CLI in a subprocess with a clean NOTARY_* environment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NOTARY_")}
    env.update(
        NOTARY_DATA_DIR=str(data_dir),
        NOTARY_RPC_URL=anvil.url,
        NOTARY_GAS_POLICY="zero",
        NOTARY_KEYSTORE_PASSWORD=PASSWORD,
        NOTARY_SCRYPT_N="1024",
    )
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


@pytest.fixture(scope="module")
def cli_data_dir(anvil: LocalChain, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An initialised notary data dir (registry, demo office, keys, database)."""
    path = tmp_path_factory.mktemp("hostile-cli")
    proc = cli(path, anvil, "init", "--json")
    assert proc.returncode == 0, proc.stderr
    return path


def cli_state(data_dir: Path, anvil: LocalChain) -> State:
    """Row counts of the CLI's SQLite database, its blobs and the chain height."""
    import sqlite3

    with sqlite3.connect(data_dir / "notary.sqlite3") as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        counts = {
            t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0]
            for t in tables
            if t != "alembic_version"
        }
    root = data_dir / "blobs"
    blobs = frozenset(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
    return State(counts, blobs, int(rpc_call(anvil.url, "eth_blockNumber"), 16))


def cli_cases(tmp: Path) -> dict[str, tuple[str, ...]]:
    """The notary CLI corpus (files made under `tmp`)."""
    (tmp / "dir").mkdir(exist_ok=True)
    (tmp / "broken.pdf").write_bytes(PDF_TRUNCATED)
    (tmp / "ok.txt").write_text("fine")
    pub = ("--title", "t", "--category", "c")
    return {
        "publish-missing-file": ("publish", str(tmp / "nope.pdf"), *pub),
        "publish-directory": ("publish", str(tmp / "dir"), *pub),
        "publish-bad-date": ("publish", str(tmp / "ok.txt"), *pub, "--published-on", "2026-13-45"),
        "publish-control-title": (
            "publish", str(tmp / "ok.txt"), "--title", "a\x1bb", "--category", "c",
        ),
        "history-unknown": ("history", UNKNOWN_ID, "--json"),
        "history-malformed": ("history", "' OR 1=1 --", "--json"),
        "status-malformed": ("status", "zz" * 32),
        "revoke-unknown": ("revoke", UNKNOWN_ID, "--reason", "hostile"),
        "revise-malformed": ("revise", "../../etc/passwd", str(tmp / "ok.txt")),
        "json-before-command": ("--json", "history", UNKNOWN_ID),
        "json-with-value": ("history", UNKNOWN_ID, "--json=yes"),
        "unknown-command": ("frobnicate", "--json"),
        "audit-replay-bad-registry": (
            "audit", "replay", "--registry", "0xnot", "--out", str(tmp / "audit"),
        ),
        "audit-diff-missing-state": ("audit", "diff", "--state", str(tmp / "nope.json")),
        "checkpoint-verify-garbage": (
            "checkpoint", "verify", str(tmp / "broken.pdf"), "--rpc", "http://127.0.0.1:1",
        ),
    }  # fmt: skip


def verifier_cases(tmp: Path, anvil: LocalChain, registry: str) -> dict[str, tuple[str, ...]]:
    """The verifier CLI corpus: garbage files, images and payloads."""
    (tmp / "garbage.bin").write_bytes(RANDOM)
    (tmp / "bomb.png").write_bytes(PNG_BOMB)
    (tmp / "garbage.png").write_bytes(b"\x89PNG\r\n\x1a\n" + RANDOM)
    (tmp / "empty.bin").write_bytes(b"")
    (tmp / "trust.json").write_text("{not json")
    trust = ("--rpc", anvil.url, "--registry", registry)
    return {
        "verifier-check-garbage": (*trust, "check", str(tmp / "garbage.bin")),
        "verifier-check-empty": (*trust, "check", str(tmp / "empty.bin")),
        "verifier-check-missing": (*trust, "check", str(tmp / "nope.bin")),
        "verifier-check-directory": (*trust, "check", str(tmp)),
        "verifier-scan-bomb": (*trust, "scan", str(tmp / "bomb.png")),
        "verifier-scan-garbage": (*trust, "scan", str(tmp / "garbage.png")),
        "verifier-url-garbage": (*trust, "url", "https://x/v/%00garbage"),
        "verifier-bad-trust-file": ("--trust", str(tmp / "trust.json"), "url", "garbage"),
        "verifier-bad-registry": ("--rpc", anvil.url, "--registry", "0xnot", "url", "garbage"),
    }


def test_cli_hostile_input_is_refused_and_changes_nothing(
    cli_data_dir: Path, anvil: LocalChain, registry_deployment: Any, tmp_path: Path
) -> None:
    """Every case exits non-zero without a traceback; afterwards nothing has changed.

    One test runs the whole CLI corpus (each start of a CLI costs seconds of imports); a
    failure names every case that misbehaved.
    """
    runs = [(name, "notary.cli.main", args) for name, args in cli_cases(tmp_path).items()]
    runs += [
        (name, "verifier.cli", args)
        for name, args in verifier_cases(tmp_path, anvil, registry_deployment.address).items()
    ]
    before = cli_state(cli_data_dir, anvil)
    problems = []
    for name, module, args in runs:
        proc = cli(cli_data_dir, anvil, *args, module=module)
        if (
            proc.returncode == 0
            or "Traceback" in proc.stderr
            or (not proc.stderr.strip() and not proc.stdout.strip())
        ):
            problems.append(f"{name}: exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    assert not problems, "\n\n".join(problems)
    assert_unchanged(before, cli_state(cli_data_dir, anvil))


# --- the process itself ---------------------------------------------------------------------


def test_deeply_nested_json_is_refused_not_a_crash(tmp_path: Path) -> None:
    """py_ecc (under eth-account) raises the recursion limit to 100,000 when imported; JSON
    nested deeper than the C stack then killed the whole process (a segfault) instead of
    raising RecursionError. web3 is imported first here, the order that `notary` alone cannot
    prevent. Run in a process of its own, so a regression cannot take the test run with it."""
    code = f"""
import sys, web3
from fastapi.testclient import TestClient
sys.path.insert(0, "tests")
from support.api_client import make_settings
from api.main import create_app
assert sys.getrecursionlimit() < 10_000, sys.getrecursionlimit()
from pathlib import Path
settings = make_settings("sqlite:///{tmp_path / "n.sqlite3"}", Path("{tmp_path}"))
with TestClient(create_app(settings)) as client:
    r = client.post(
        "/api/v1/records/00000001{"ab" * 28}/revoke",
        content=b"[" * 200_000,
        headers={{"Content-Type": "application/json"}},
    )
    print(r.status_code)
"""
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, (done.returncode, done.stderr[-2000:])
    assert done.stdout.strip().startswith("4"), done.stdout
