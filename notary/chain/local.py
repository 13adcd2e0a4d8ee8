"""The embedded chain: an anvil node from the npm package, on loopback, state kept on disk.

`make run` and the tests use this. A consortium chain runs at zero gas price, so the node is
started with a zero base fee and gas price unless asked otherwise (the tests also run it with
a base fee and a block time, as a production node would have).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

ROOT = Path(__file__).resolve().parents[2]
ANVIL = ROOT / "node_modules" / "@foundry-rs" / "anvil-linux-amd64" / "bin" / "anvil"
DEFAULT_CHAIN_ID = 31337


class LocalChainError(RuntimeError):
    """The embedded chain could not be started or reached."""


def anvil_binary() -> Path:
    """Path of the anvil binary shipped in the npm package."""
    if ANVIL.exists():
        return ANVIL
    fallback = ROOT / "node_modules" / ".bin" / "anvil"
    if fallback.exists():
        return fallback
    raise LocalChainError("anvil is not installed: run `npm ci` (or `make run`) first")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rpc_call(url: str, method: str, params: list | None = None, timeout: float = 2.0) -> object:
    """One raw JSON-RPC call (no web3), used to probe a node."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []})
    req = urllib.request.Request(url, body.encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        answer = json.loads(resp.read())
    if "error" in answer:
        raise LocalChainError(f"{method}: {answer['error']}")
    return answer["result"]


def is_up(url: str) -> bool:
    """True when a node answers `eth_chainId` at `url`."""
    try:
        rpc_call(url, "eth_chainId", timeout=0.5)
        return True
    except (OSError, LocalChainError, ValueError):
        return False


def _open_log(path: Path) -> BinaryIO:
    """Open anvil's log for appending, created 0600 (it is in the data dir) whatever the umask."""
    return os.fdopen(os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600), "ab")


@dataclass
class LocalChain:
    """An anvil process bound to 127.0.0.1 with its state in `state_file` (if any).

    Use `start()` / `stop()` or as a context manager. `stop()` sends SIGTERM so anvil dumps its
    state; `kill()` sends SIGKILL (what a crash does) and loses at most `state_interval` s.
    """

    port: int = field(default_factory=free_port)
    state_file: Path | None = None
    chain_id: int = DEFAULT_CHAIN_ID
    block_time: float | None = None
    base_fee: int = 0
    gas_price: int = 0
    state_interval: int = 1
    log_file: Path | None = None
    extra_args: list[str] = field(default_factory=list)
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        """The anvil command line for this configuration."""
        cmd = [
            str(anvil_binary()),
            "--host", "127.0.0.1",
            "--port", str(self.port),
            "--chain-id", str(self.chain_id),
            "--block-base-fee-per-gas", str(self.base_fee),
            "--gas-price", str(self.gas_price),
            "--gas-limit", "1000000000",
            "--code-size-limit", "49152",
        ]  # fmt: skip
        if self.base_fee == 0:
            cmd.append("--disable-min-priority-fee")
        if self.block_time:
            cmd += ["--block-time", str(self.block_time)]
        if self.state_file is not None:
            self.state_file.parent.mkdir(parents=True, exist_ok=True)
            cmd += ["--state", str(self.state_file), "--state-interval", str(self.state_interval)]
        return cmd + self.extra_args

    def start(self, timeout: float = 30.0) -> LocalChain:
        """Start anvil and wait until it answers JSON-RPC."""
        if is_up(self.url):
            raise LocalChainError(f"something already answers at {self.url}")
        out = _open_log(self.log_file) if self.log_file else subprocess.DEVNULL
        self.process = subprocess.Popen(
            self.command(), stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise LocalChainError(f"anvil exited with {self.process.returncode}")
            if is_up(self.url):
                return self
            time.sleep(0.05)
        self.kill()
        raise LocalChainError(f"anvil did not answer at {self.url} within {timeout} s")

    def stop(self, timeout: float = 15.0) -> None:
        """Stop anvil gracefully so that it writes its state file."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        """SIGKILL anvil, as a crash would."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def __enter__(self) -> LocalChain:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
