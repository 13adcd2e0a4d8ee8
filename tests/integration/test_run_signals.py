"""`make run` stops everything it started on SIGTERM and SIGINT, not only on Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support import paths

from notary.chain.local import free_port
from notary.local.setup import embedded_chain_pid, stop_embedded_chain

ROOT = paths.ROOT


def _start(data_dir: Path) -> subprocess.Popen[str]:
    """`scripts/run_local.py` serving (no --once) until it prints that it is running."""
    env = {**os.environ, "NOTARY_SCRYPT_N": "1024"}
    env.pop("NOTARY_KEYSTORE_PASSWORD", None)
    proc = subprocess.Popen(
        [sys.executable, "scripts/run_local.py", "--data", str(data_dir),
         "--port", str(free_port()), "--no-sample"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 240
    assert proc.stdout is not None
    for line in proc.stdout:
        if "is running" in line:
            return proc
        assert time.monotonic() < deadline, "make run did not start"
    raise AssertionError(f"make run ended before serving (exit {proc.wait()})")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_stops_the_service_and_the_chain_it_started(tmp_path: Path, signum) -> None:
    data = tmp_path / "data"
    proc = _start(data)
    try:
        chain = embedded_chain_pid(data)
        assert chain is not None
        proc.send_signal(signum)
        out, _ = proc.communicate(timeout=60)
        assert "Stopped the embedded chain" in out
        assert embedded_chain_pid(data) is None
        assert (
            not Path(f"/proc/{chain}").exists()
            or b"anvil" not in Path(f"/proc/{chain}/cmdline").read_bytes()
        )
    finally:
        proc.kill()
        stop_embedded_chain(data)
