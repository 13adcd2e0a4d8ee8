#!/usr/bin/env python3
"""Content-hashing speed: our streamed SHA-256 against coreutils `sha256sum`, in one run.

Writes a temporary file of --size-mb MiB (default 1024, i.e. 1 GiB) under /tmp, reads it
once so the page cache is warm for both contestants, then times `notary.formats.hashing.sha256_file`
and `sha256sum FILE` three times each, alternating, and keeps each one's best. Both must
print the same digest. The temporary file is deleted afterwards, whatever happens.

Prints a table and writes a flat JSON object (MB = 2**20 bytes):

    ours_mb_s        notary.formats.hashing.sha256_file throughput, best of 3
    sha256sum_mb_s   `sha256sum` throughput on the same file, best of 3

Target (bench/targets.toml): ours_mb_s >= 0.8 * sha256sum_mb_s. Exit code: 0 when met, 1 when
missed, 2 on a usage or environment error (e.g. no `sha256sum`, not enough space in /tmp).

Usage: python scripts/bench_hash.py [--size-mb 1024] --json PATH
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from notary.formats.hashing import sha256_file  # noqa: E402

MB = 1 << 20
ROUNDS = 3
TARGET_RATIO = 0.8
WRITE_BLOCK = 16 * MB


def _parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Exit codes: 0 target met, 1 target missed, 2 usage or environment error.",
    )
    parser.add_argument(
        "--size-mb", type=int, default=1024, help="size of the test file in MiB (default 1024)"
    )
    parser.add_argument("--json", type=Path, required=True, help="where to write the figures")
    args = parser.parse_args()
    if args.size_mb < 1:
        parser.error("--size-mb must be at least 1")
    return args


def _write_file(path: Path, size: int) -> None:
    block = os.urandom(WRITE_BLOCK)
    with open(path, "wb") as f:
        left = size
        while left:
            n = min(left, WRITE_BLOCK)
            f.write(block[:n])
            left -= n


def _time_ours(path: Path) -> tuple[float, str]:
    start = time.perf_counter()
    digest = sha256_file(path).hex()
    return time.perf_counter() - start, digest


def _time_sha256sum(path: Path) -> tuple[float, str]:
    start = time.perf_counter()
    out = subprocess.run(["sha256sum", str(path)], capture_output=True, text=True, check=True)
    return time.perf_counter() - start, out.stdout.split()[0]


def main() -> int:
    """Run the benchmark; see the module docstring."""
    args = _parse_args()
    console = Console(stderr=True)
    if shutil.which("sha256sum") is None:
        console.print("[red]sha256sum (coreutils) is not installed[/red]")
        return 2
    size = args.size_mb * MB
    tmp_dir = Path("/tmp")
    if shutil.disk_usage(tmp_dir).free < size + 256 * MB:
        console.print(f"[red]not enough free space in {tmp_dir} for {args.size_mb} MiB[/red]")
        return 2
    fd, name = tempfile.mkstemp(prefix="bench_hash_", suffix=".bin", dir=tmp_dir)
    os.close(fd)
    path = Path(name)
    try:
        with console.status(f"writing {args.size_mb} MiB to {path} …"):
            _write_file(path, size)
        with console.status("warming the page cache …"):
            _time_ours(path)
            _time_sha256sum(path)
        best = {"ours": float("inf"), "sha256sum": float("inf")}
        digests = set()
        with console.status(f"timing, best of {ROUNDS} …"):
            for _ in range(ROUNDS):
                for name_, fn in (("ours", _time_ours), ("sha256sum", _time_sha256sum)):
                    seconds, digest = fn(path)
                    best[name_] = min(best[name_], seconds)
                    digests.add(digest)
    finally:
        path.unlink(missing_ok=True)
    if len(digests) != 1:
        console.print(f"[red]digests disagree: {sorted(digests)}[/red]")
        return 2

    figures = {
        "ours_mb_s": round(args.size_mb / best["ours"], 1),
        "sha256sum_mb_s": round(args.size_mb / best["sha256sum"], 1),
    }
    ratio = figures["ours_mb_s"] / figures["sha256sum_mb_s"]
    met = ratio >= TARGET_RATIO

    table = Table(title=f"SHA-256 of a {args.size_mb} MiB file (warm cache, best of {ROUNDS})")
    table.add_column("hasher")
    table.add_column("best time (s)", justify="right")
    table.add_column("MB/s", justify="right")
    table.add_row(
        "notary.formats.hashing.sha256_file", f"{best['ours']:.3f}", f"{figures['ours_mb_s']}"
    )
    table.add_row("sha256sum", f"{best['sha256sum']:.3f}", f"{figures['sha256sum_mb_s']}")
    Console().print(table)
    verdict = "[green]met[/green]" if met else "[red]missed[/red]"
    Console().print(
        f"ratio {ratio:.2f}× (target ≥ {TARGET_RATIO}×): {verdict}; digest {digests.pop()}"
    )

    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(figures) + "\n", encoding="utf-8")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
