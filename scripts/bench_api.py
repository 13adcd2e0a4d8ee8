#!/usr/bin/env python3
"""Benchmark the HTTP API: publish throughput and latency against a trivial endpoint.

Starts the service on its embedded defaults (SQLite and a blob dir in a temp folder beside
`.notary/`, one uvicorn worker on a free loopback port), creates an office and a publisher
key, then for a fixed time publishes 1 KB releases from N concurrent keep-alive connections
(scripts/loadgen.py); then, for the same time, hits `/healthz` (a trivial FastAPI endpoint
on the same server) as the baseline.

    .venv/bin/python scripts/bench_api.py --json bench/results/api.json [--seconds 10]
        [--database-url postgresql://…/empty_db --workers 2]   # the production shape

Writes exactly `publish_per_s`, `publish_p99_ms`, `baseline_per_s`; prints a table.
`--floor` also measures, in a separate uvicorn process, FastAPI's floor for this request
shape: an endpoint with the publish form's signature that does nothing (table only).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import random
import string
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Annotated, Any

import httpx
from fastapi import FastAPI, File, Form, Header, UploadFile

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import loadgen  # noqa: E402

from notary.chain.local import free_port  # noqa: E402

ADMIN_KEY = "bench-admin-key-0123456789abcdef"
METADATA = json.dumps(
    {
        "title": "Benchmark release",
        "category": "bench",
        "publication_date": "2026-01-01",
        "reviewer": "bench",
        "language": "en",
    }
)


def floor_app() -> Any:
    """The publish endpoint's form signature with nothing behind it (for `--floor`)."""
    app = FastAPI()

    @app.post("/api/v1/records", status_code=201)
    async def publish(
        file: Annotated[UploadFile, File()],
        metadata: Annotated[str, Form()],
        tier: Annotated[str | None, Form()] = None,
        mask: Annotated[bool, Form()] = False,
        pii_override_reason: Annotated[str | None, Form(max_length=2000)] = None,
        idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
    ) -> dict:
        return {"size": len(await file.read())}

    @app.get("/readyz")
    async def ready() -> dict:
        return {}

    return app


def start_server(
    data_dir: Path,
    port: int,
    *,
    db_url: str | None = None,
    workers: int = 1,
    app: str = "api.main:create_app",
    env: dict[str, str] | None = None,
    uvicorn_args: tuple[str, ...] = (),
) -> subprocess.Popen:
    """uvicorn running `app` on 127.0.0.1:`port` (SQLite unless `db_url`), once it is ready.

    `env` adds `NOTARY_…` settings; `uvicorn_args` adds uvicorn options. The other
    benchmarks that need the service start it here too.
    """
    env = {
        **os.environ,
        "NOTARY_DATA_DIR": str(data_dir),
        "NOTARY_ADMIN_KEY": ADMIN_KEY,
        "NOTARY_DATABASE_URL": db_url or f"sqlite:///{data_dir / 'notary.sqlite3'}",
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "scripts")]),
        **(env or {}),
    }
    cmd = [
        sys.executable, "-m", "uvicorn", "--factory", app,
        "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
        "--log-level", "warning", "--no-access-log", *uvicorn_args,
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"uvicorn exited with {proc.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise SystemExit("server did not become ready")


def make_publisher(base: str) -> str:
    """Create an office and return a publisher key."""
    admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
    oid = hashlib.sha256(b"bench office").hexdigest()
    r = httpx.post(
        f"{base}/api/v1/offices",
        json={"office_id": oid, "number": 1, "name": "Bench"},
        headers=admin,
    )
    r.raise_for_status()
    r = httpx.post(f"{base}/api/v1/offices/{oid}/keys", json={"role": "publisher"}, headers=admin)
    r.raise_for_status()
    return r.json()["key"]


def _load(port: int, clients: int, seconds: float, publish_key: str | None) -> list[float]:
    """Run `clients` connections for `seconds`; the latency (s) of every successful call."""
    host = f"127.0.0.1:{port}"
    rng = random.Random(7)
    letters = (string.ascii_letters + " ").encode()

    def publish(_: int) -> bytes:
        ctype, body = loadgen.multipart(
            {"metadata": METADATA},
            {"file": ("r.txt", bytes(rng.choices(letters, k=1024)), "text/plain")},
        )
        headers = {"Authorization": f"Bearer {publish_key}", "Content-Type": ctype}
        return loadgen.request_bytes("POST", "/api/v1/records", host, headers=headers, body=body)

    healthz = loadgen.request_bytes("GET", "/healthz", host)
    samples, _ = asyncio.run(
        loadgen.run(
            "127.0.0.1",
            port,
            clients=clients,
            seconds=seconds,
            make_request=publish if publish_key else (lambda _: healthz),
        )
    )
    want = 201 if publish_key else 200
    errors = sum(s.status != want for s in samples)
    if errors:
        print(f"warning: {errors} failed requests", file=sys.stderr)
    return [s.latency_s for s in samples if s.status == want]


def writer_counts(base: str) -> tuple[float, float]:
    """The publish writer's (commits, publishes) so far, from `/metrics`."""
    found = {}
    for line in httpx.get(f"{base}/metrics").text.splitlines():
        name, _, value = line.partition(" ")
        if name in ("notary_publish_commits_total", "notary_publish_jobs_total"):
            found[name] = float(value)
    return found["notary_publish_commits_total"], found["notary_publish_jobs_total"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, required=True, help="where to write the figures")
    parser.add_argument("--seconds", type=float, default=10.0, help="duration of each phase")
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients")
    parser.add_argument(
        "--database-url",
        help="an empty database instead of the embedded SQLite file (e.g. PostgreSQL)",
    )
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument(
        "--floor", action="store_true", help="also measure a do-nothing publish endpoint"
    )
    args = parser.parse_args()
    # On the project's disk, like the embedded default `.notary/`: /tmp may be a RAM disk.
    with tempfile.TemporaryDirectory(prefix=".bench-api-", dir=ROOT) as tmp:
        port = free_port()
        proc = start_server(Path(tmp), port, db_url=args.database_url, workers=args.workers)
        try:
            base = f"http://127.0.0.1:{port}"
            key = make_publisher(base)
            _load(port, args.clients, 1.0, key)  # warm-up
            commits0, jobs0 = writer_counts(base)
            pub = _load(port, args.clients, args.seconds, key)
            commits1, jobs1 = writer_counts(base)
            base_lat = _load(port, args.clients, args.seconds, None)
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
    floor = None
    if args.floor:
        with tempfile.TemporaryDirectory(prefix="bench-api-floor-") as tmp:
            port = free_port()
            proc = start_server(Path(tmp), port, app="bench_api:floor_app")
            try:
                floor = len(_load(port, args.clients, args.seconds, "unused")) / args.seconds
            finally:
                proc.terminate()
                proc.wait(10)
    result = {
        "publish_per_s": round(len(pub) / args.seconds, 1),
        "publish_p99_ms": round(loadgen.percentile(pub, 99) * 1000, 1),
        "baseline_per_s": round(len(base_lat) / args.seconds, 1),
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n")
    print(f"{'metric':<16}{'value':>10}")
    for name, value in result.items():
        print(f"{name:<16}{value:>10}")
    ratio = result["publish_per_s"] / result["baseline_per_s"] if result["baseline_per_s"] else 0
    print(f"publish/baseline ratio: {ratio:.2f} (target ≥ 0.25; publish target ≥ 500/s)")
    if floor is not None:
        print(f"do-nothing endpoint with the publish form (FastAPI floor): {floor:.0f}/s")
    if commits1 > commits0:  # per process: with several workers, only the one that answered
        batch = (jobs1 - jobs0) / (commits1 - commits0)
        print(f"publishes per commit (group commit, one process's sample): {batch:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
