"""`make run` on its embedded defaults, twice: the second start reuses chain, registry, keys."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from support import paths

from notary.chain.client import RegistryClient
from notary.chain.config import ChainConfig
from notary.chain.local import free_port
from notary.errors import Unavailable
from notary.local.setup import (
    _anvil_port,
    embedded_chain_pid,
    ensure_chain,
    save_local,
    shown_db_url,
    stop_embedded_chain,
)

ROOT = paths.ROOT


def _run(data_dir: Path, port: int) -> str:
    env = {**os.environ, "NOTARY_SCRYPT_N": "1024"}
    env.pop("NOTARY_KEYSTORE_PASSWORD", None)
    done = subprocess.run(
        [sys.executable, "scripts/run_local.py", "--data", str(data_dir), "--port", str(port),
         "--once"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=240,
        umask=0o022,  # a usual login shell's: the modes must not depend on a strict one
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


def _loose_modes(data_dir: Path) -> list[str]:
    """Everything under the data dir (itself included) that is not owner-only: folders
    0700, files 0600, blobs 0400."""
    wrong = []
    for path in [data_dir, *data_dir.rglob("*")]:
        mode = stat.S_IMODE(path.lstat().st_mode)
        is_blob = "blobs" in path.relative_to(data_dir).parts[:1] and len(path.name) == 64
        want = 0o700 if path.is_dir() else 0o400 if is_blob else 0o600
        if mode != want:
            wrong.append(f"{path.relative_to(data_dir)}: {mode:o}, not {want:o}")
    return wrong


def _field(out: str, name: str) -> str:
    line = next(line for line in out.splitlines() if line.strip().startswith(name))
    return line.split(":", 1)[1].split()[0]


def test_make_run_twice_reuses_chain_registry_and_keys(tmp_path: Path) -> None:
    data = tmp_path / "data"
    try:
        first = _run(data, free_port())
        registry = _field(first, "registry")
        key = _field(first, "demo office key")
        record = _field(first, "sample release")
        assert "(anchored by the worker)" in first
        assert (data / "keys" / "password").stat().st_mode & 0o077 == 0
        # Database, its -wal/-shm, keys, settings, the chain's state and log, every blob.
        assert (data / "notary.sqlite3").exists() and any((data / "blobs").rglob("*"))
        assert _loose_modes(data) == []
        # Stopping `make run` stops the chain it started; the state stays on disk.
        assert "Stopped the embedded chain" in first
        assert embedded_chain_pid(data) is None
        assert (data / "anvil" / "state.json").stat().st_size > 0

        second = _run(data, free_port())  # starts the chain again from its state
        assert _field(second, "registry") == registry
        assert _field(second, "demo office key") == key
        assert _field(second, "sample release") == record
        assert "published on the first run" in second
        assert _loose_modes(data) == []
        assert embedded_chain_pid(data) is None

        # The sample is on the restored chain: the registry's head for it is version 1.
        client = RegistryClient.connect(ensure_chain(data))
        assert client.head(bytes.fromhex(record)).version == 1
    finally:
        stop_embedded_chain(data)


def test_make_run_leaves_a_chain_it_found_running(tmp_path: Path) -> None:
    data = tmp_path / "data"
    try:
        _run(data, free_port())
        ensure_chain(data)  # started by someone else (here: this test) before `make run`
        pid = embedded_chain_pid(data)
        assert pid is not None
        out = _run(data, free_port())
        assert "Stopped the embedded chain" not in out
        assert embedded_chain_pid(data) == pid
    finally:
        stop_embedded_chain(data)


@pytest.mark.parametrize(
    "meta",
    [None, b"", b"not json", b"[]", b'{"pid": "abc"}', b'{"pid": null}', b'{"pid": 99999999}'],
)
def test_a_missing_or_garbled_chain_record_stops_nothing(
    tmp_path: Path, meta: bytes | None
) -> None:
    if meta is not None:
        (tmp_path / "anvil").mkdir()
        (tmp_path / "anvil" / "anvil.json").write_bytes(meta)
    assert embedded_chain_pid(tmp_path) is None
    assert stop_embedded_chain(tmp_path) is False
    assert _anvil_port(tmp_path / "anvil" / "anvil.json") is None  # a new port is chosen


def test_a_pid_now_held_by_another_process_is_not_taken_for_the_chain(tmp_path: Path) -> None:
    # The recorded pid belongs to this test process (python), not to anvil: never signalled.
    (tmp_path / "anvil").mkdir()
    (tmp_path / "anvil" / "anvil.json").write_text(json.dumps({"pid": os.getpid()}))
    assert embedded_chain_pid(tmp_path) is None
    assert stop_embedded_chain(tmp_path) is False


def test_a_configured_node_that_is_down_is_not_swapped_for_a_local_chain(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Falling back to a new embedded anvil redeployed the registry at the same address on an
    # empty chain, and every anchored record then looked unknown.
    monkeypatch.delenv("NOTARY_RPC_URL", raising=False)
    dead = f"http://127.0.0.1:{free_port()}"
    ChainConfig.load(tmp_path).replace(rpc_url=dead).save(tmp_path)
    before = (tmp_path / "chain.json").read_bytes()
    with pytest.raises(Unavailable, match=r"chain\.json"):
        ensure_chain(tmp_path)
    assert (tmp_path / "chain.json").read_bytes() == before
    assert not (tmp_path / "anvil").exists()


def test_the_database_password_is_neither_world_readable_nor_printed(tmp_path: Path) -> None:
    url = "postgresql+psycopg://notary:S3cretPW@db.internal:5432/notary"
    save_local(tmp_path, {"db_url": url})
    assert (tmp_path / "notary.json").stat().st_mode & 0o077 == 0
    assert "S3cretPW" not in shown_db_url(url) and "db.internal" in shown_db_url(url)
