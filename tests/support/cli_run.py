"""Run the `notary` CLI for real in a subprocess against a data dir and anvil."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from support.paths import ROOT

PASSWORD = "cli-test-password"


def run(data_dir: Path, anvil, *args: str, password: str = PASSWORD, check: int | None = 0):
    env = dict(os.environ)
    for var in list(env):
        if var.startswith("NOTARY_"):
            del env[var]
    env.update(
        NOTARY_DATA_DIR=str(data_dir),
        NOTARY_RPC_URL=anvil.url,
        NOTARY_GAS_POLICY="zero",
        NOTARY_KEYSTORE_PASSWORD=password,
        NOTARY_SCRYPT_N="1024",
    )
    proc = subprocess.run(
        [sys.executable, "-m", "notary.cli.main", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    if check is not None:
        assert proc.returncode == check, (proc.returncode, proc.stdout, proc.stderr)
    return proc
