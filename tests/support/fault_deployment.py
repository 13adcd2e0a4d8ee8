"""The fault suite's deployment (its own anvil, PostgreSQL database, API and worker processes),
its client traffic and the end checks that chain and database agree."""

from __future__ import annotations

import collections
import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

from notary.audit import replay, run_diff
from notary.chain.client import RegistryClient
from notary.chain.config import ChainConfig
from notary.chain.local import LocalChain, free_port
from notary.db.models import Blob, Revision
from notary.db.session import make_engine, session_factory, unit_of_work
from notary.db.types import AnchorState
from notary.storage.blobstore import TEMP_DIR, BlobStore
from support import paths
from support.chain_helpers import RegistryOffice
from support.publish_stack import MD

ROOT = paths.ROOT
CHAIN_OUTAGE_S = float(os.environ.get("NOTARY_FAULT_CHAIN_OUTAGE_S", "5"))
TRAFFIC_S = 10.0
"""How long the clients publish in each test (the chain outage test adds the outage)."""
CLIENTS = 3
RATE = 3.0
"""Requests per second per client thread (a client waits for its answer first)."""
MAX_REQUESTS = 120
"""Upper bound of logical requests per test (retries not counted)."""
REQUEST_DEADLINE_S = 60.0
"""How long one client keeps retrying one request."""
ANCHOR_DEADLINE_S = 90.0
ADMIN_KEY = "faults-admin-key-0123456789abcdef"
PASSWORD = "fault-test"
LETTERS = str.maketrans("0123456789", "ghijklmnop")
"""Random tokens without digit runs (the PII guard would see phone or card numbers)."""


# ---------------------------------------------------------------------------------------------
# Processes
# ---------------------------------------------------------------------------------------------


class Proc:
    """One service process (own process group, log file), killable with SIGKILL."""

    def __init__(self, name: str, cmd: list[str], env: dict[str, str], log: Path) -> None:
        self.name, self.cmd, self.env, self.log = name, cmd, env, log
        self.process: subprocess.Popen | None = None
        self.kills = 0

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> Proc:
        with open(self.log, "ab") as out:
            out.write(f"\n--- start {time.strftime('%H:%M:%S')}\n".encode())
            self.process = subprocess.Popen(
                self.cmd, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        return self

    def kill(self) -> None:
        """SIGKILL, as a crash or the OOM killer would."""
        if self.alive:
            assert self.process is not None
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
            self.kills += 1

    def stop(self) -> None:
        if self.alive:
            assert self.process is not None
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()

    def tail(self, lines: int = 40) -> str:
        if not self.log.exists():
            return ""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


class Api(Proc):
    """`uvicorn --factory api.main:create_app` on its own port."""

    def __init__(self, name: str, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        cmd = [
            sys.executable, "-m", "uvicorn", "--factory", "api.main:create_app",
            "--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning",
        ]  # fmt: skip
        super().__init__(name, cmd, env, log)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> Api:
        super().start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.alive, f"{self.name} exited:\n{self.tail()}"
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.url + "/readyz", timeout=1).status_code == 200:
                    return self
            time.sleep(0.1)
        raise AssertionError(f"{self.name} not ready within {timeout} s:\n{self.tail()}")


def _mount(*args: str) -> bool:
    return subprocess.run(["mount", *args], capture_output=True).returncode == 0


class BlobDisk:
    """The API's blob directory, and a real way to make it unwritable for a while.

    As root (which ignores permission bits) the directory lives on a tmpfs of its own that
    is remounted read-only; otherwise every directory of the store is chmod 0555.
    """

    def __init__(self, tmp: Path) -> None:
        self.mount: Path | None = None
        if os.geteuid() == 0:
            mnt = tmp / "blobfs"
            mnt.mkdir()
            if _mount("-t", "tmpfs", "-o", "size=64m", "tmpfs", str(mnt)):
                self.mount = mnt
        self.root = (self.mount or tmp) / "blobs"
        self.root.mkdir()

    @property
    def unavailable_reason(self) -> str | None:
        """Why this machine cannot make the directory unwritable (None: it can)."""
        if os.geteuid() == 0 and self.mount is None:
            return "running as root without mount(8): no real way to make the blob dir read-only"
        return None

    def _remount(self, mode: str) -> None:
        assert self.mount is not None
        deadline = time.monotonic() + 5
        while not _mount("-o", f"remount,{mode}", str(self.mount)):  # EBUSY while a write is open
            assert time.monotonic() < deadline, f"could not remount {self.mount} {mode}"
            time.sleep(0.02)

    def _dirs(self) -> list[Path]:
        return [self.root, *(p for p in self.root.rglob("*") if p.is_dir())]

    def read_only(self) -> None:
        if self.mount is not None:
            self._remount("ro")
        else:
            for d in self._dirs():
                d.chmod(0o555)

    def writable(self) -> None:
        if self.mount is not None:
            self._remount("rw")
        else:
            for d in self._dirs():
                d.chmod(0o755)

    def temp_files(self) -> set[str]:
        tmp = self.root / TEMP_DIR
        return {p.name for p in tmp.iterdir()} if tmp.is_dir() else set()

    def close(self) -> None:
        if self.mount is not None:
            subprocess.run(["umount", "-l", str(self.mount)], check=False)


# ---------------------------------------------------------------------------------------------
# The deployment: anvil, registry and office, PostgreSQL, API, worker
# ---------------------------------------------------------------------------------------------


@dataclass
class Deployment:
    """Everything one module run uses; the tests kill and restart its parts."""

    tmp: Path
    chain: LocalChain
    config: ChainConfig
    client: RegistryClient
    office: RegistryOffice
    db_name: str
    db_url: str
    disk: BlobDisk
    api_env: dict[str, str]
    worker: Proc
    api: Api
    publisher: dict[str, str] = field(default_factory=dict)

    # -- service -----------------------------------------------------------------------

    def restart_chain(self) -> None:
        self.chain = LocalChain(
            port=self.chain.port, state_file=self.chain.state_file, log_file=self.chain.log_file
        ).start()

    def new_api(self, name: str) -> Api:
        return Api(name, self.api_env, self.tmp / f"{name}.log")

    def ensure_running(self) -> None:
        """Put back whatever a failed test left broken."""
        if not self.chain.process or self.chain.process.poll() is not None:
            self.restart_chain()
        self.disk.writable()
        if not self.api.alive:
            self.api.start()
        if not self.worker.alive:
            self.worker.start()

    def logs(self) -> str:
        return "\n".join(f"== {p.name}\n{p.tail()}" for p in (self.api, self.worker))

    # -- database ----------------------------------------------------------------------

    def query(self, sql: str, **params: Any) -> list[Any]:
        engine = create_engine(self.db_url, poolclass=NullPool)
        try:
            with engine.begin() as conn:
                return list(conn.execute(text(sql), params))
        finally:
            engine.dispose()

    def revisions(self) -> dict[tuple[str, int], str]:
        """(record id, version) → anchor state of every revision in the database."""
        rows = self.query("SELECT record_id, version, anchor_state FROM revisions")
        return {(r.record_id, r.version): str(r.anchor_state) for r in rows}

    def cut_db_connections(self) -> int:
        """Terminate every other backend connected to the test database; how many."""
        rows = self.query(
            "SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity "
            "WHERE datname = :db AND pid <> pg_backend_pid()",
            db=self.db_name,
        )
        return sum(1 for r in rows if r.ok)

    def anchored_count(self) -> int:
        with contextlib.suppress(OperationalError):
            rows = self.query(
                "SELECT count(*) AS n FROM revisions WHERE anchor_state = :s",
                s=AnchorState.ANCHORED.value,
            )
            return rows[0].n
        return -1


# ---------------------------------------------------------------------------------------------
# Clients
# ---------------------------------------------------------------------------------------------


@dataclass
class Attempt:
    at: float
    api: int
    status: int | None
    error: str | None = None
    detail: str = ""
    replayed: bool = False


@dataclass
class Req:
    """One logical request: one Idempotency-Key, retried until it gets an answer."""

    key: str
    op: str
    attempts: list[Attempt] = field(default_factory=list)
    final: int | None = None
    body: dict | None = None
    acked_at: float | None = None

    @property
    def revision(self) -> tuple[str, int]:
        assert self.body is not None
        return self.body["id"], self.body["current"]["version"]


class Traffic:
    """Client threads publishing and revising at a steady rate (see the module docstring).

    `apis` are the base URLs to spread requests over; a retry goes to the next one. With
    `probes`, some keys are also sent to a second API after their answer (must replay) or
    to two APIs at the same moment (must make one revision).
    """

    def __init__(
        self,
        dep: Deployment,
        name: str,
        *,
        apis: list[str] | None = None,
        duration: float = TRAFFIC_S,
        probes: bool = False,
    ) -> None:
        self.dep, self.name = dep, name
        self.apis = apis or [dep.api.url]
        self.duration, self.probes = duration, probes
        self.requests: list[Req] = []
        self.lock = threading.Lock()
        self.issued = 0
        self.in_flight = 0
        self.threads: list[threading.Thread] = []
        self._race_threads: list[threading.Thread] = []
        self.started = self.end = 0.0

    def __enter__(self) -> Traffic:
        self.started = time.monotonic()
        self.end = self.started + self.duration
        for i in range(CLIENTS):
            t = threading.Thread(target=self._client, args=(i,), daemon=True)
            t.start()
            self.threads.append(t)
        return self

    def __exit__(self, *exc: object) -> None:
        for t in self.threads:
            t.join(self.duration + REQUEST_DEADLINE_S + 30)
        assert not any(t.is_alive() for t in self.threads), "a client thread hangs"

    def now(self) -> float:
        return time.monotonic() - self.started

    def wait_in_flight(self, timeout: float = 3.0) -> None:
        """Return as soon as some request is on the wire (to kill a server under it)."""
        deadline = time.monotonic() + timeout
        while self.in_flight == 0 and time.monotonic() < deadline:
            time.sleep(0.001)

    # -- one request -----------------------------------------------------------------------

    def send(
        self,
        http: httpx.Client,
        api: int,
        op: str,
        path: str,
        form: dict,
        upload: tuple,
        key: str,
        barrier: threading.Barrier | None = None,
    ) -> Req:
        req = Req(key=key, op=op)
        headers = {**self.dep.publisher, "Idempotency-Key": key}
        if barrier is not None:  # start together with the racing twin
            with contextlib.suppress(threading.BrokenBarrierError):
                barrier.wait()
        deadline = time.monotonic() + REQUEST_DEADLINE_S
        while True:
            at = self.now()
            with self.lock:
                self.in_flight += 1
            try:
                r = http.post(
                    self.apis[api] + path, data=form, files={"file": upload}, headers=headers
                )
            except httpx.TransportError as exc:
                req.attempts.append(Attempt(at, api, None, error=type(exc).__name__))
            else:
                a = Attempt(at, api, r.status_code, replayed="idempotent-replay" in r.headers)
                req.attempts.append(a)
                if r.status_code < 500:
                    req.final = r.status_code
                    if r.status_code < 300:
                        req.body, req.acked_at = r.json(), self.now()
                    else:
                        a.detail = r.text[:300]
                    break
                a.detail = r.text[:300]
            finally:
                with self.lock:
                    self.in_flight -= 1
            if time.monotonic() > deadline:
                break
            time.sleep(0.2)
            api = (api + 1) % len(self.apis)
        with self.lock:
            self.requests.append(req)
        return req

    def _upload(self, n: int, token: str) -> tuple:
        text_ = f"Fault-injection notice {self.name} item {token}\n" * (1 + n % 7)
        return (f"notice-{token}.txt", text_.encode(), "text/plain")

    def publish_args(self, n: int) -> tuple:
        token = uuid.uuid4().hex.translate(LETTERS)
        form = {"metadata": json.dumps({**MD, "title": f"Fault test {self.name} {token}"})}
        form["tier"] = "public"
        return ("publish", "/api/v1/records", form, self._upload(n, token), f"p-{token}")

    def revise_args(self, n: int, record_id: str) -> tuple:
        token = uuid.uuid4().hex.translate(LETTERS)
        path = f"/api/v1/records/{record_id}/revisions"
        form = {"change_note": f"revised by {self.name} {token}"}
        return ("revise", path, form, self._upload(n, token), f"r-{token}")

    def race(self, http: httpx.Client, api: int, args: tuple) -> Req:
        """Send the same key to this API and to another one at the same moment."""
        barrier = threading.Barrier(2, timeout=5)

        def twin() -> None:
            with httpx.Client(timeout=15) as other:
                self.send(other, (api + 1) % len(self.apis), *args, barrier=barrier)

        t = threading.Thread(target=twin, daemon=True)
        t.start()
        self._race_threads.append(t)
        return self.send(http, api, *args, barrier=barrier)

    # -- a client --------------------------------------------------------------------------

    def _client(self, idx: int) -> None:
        rng = random.Random(f"{self.name}-{idx}")
        mine: list[str] = []
        with httpx.Client(timeout=15) as http:
            next_at = time.monotonic()
            while time.monotonic() < self.end:
                with self.lock:
                    if self.issued >= MAX_REQUESTS:
                        break
                    self.issued += 1
                    n = self.issued
                api = (idx + n) % len(self.apis)
                if mine and rng.random() < 0.3:
                    args = self.revise_args(n, rng.choice(mine))
                else:
                    args = self.publish_args(n)
                if self.probes and n % 6 in (0, 1):  # the same key to two APIs at once
                    req = self.race(http, api, args)
                else:
                    req = self.send(http, api, *args)
                if args[0] == "publish" and req.body is not None:
                    mine.append(req.body["id"])
                    if self.probes and n % 6 == 2:  # answered again by the other API
                        self.send(http, (api + 1) % len(self.apis), *args)
                next_at += 1 / RATE
                time.sleep(max(0.0, next_at - time.monotonic()))
        for t in list(self._race_threads):
            t.join(REQUEST_DEADLINE_S + 20)

    # -- accounting --------------------------------------------------------------------------

    def attempts(self) -> list[tuple[Req, Attempt]]:
        return [(r, a) for r in self.requests for a in r.attempts]

    def summary(self) -> str:
        finals = collections.Counter(r.final for r in self.requests)
        seen = collections.Counter(a.status or a.error for _, a in self.attempts())
        details = collections.Counter(a.detail[:120] for _, a in self.attempts() if a.detail)
        return (
            f"{len(self.requests)} requests, finals {dict(finals)}, attempts {dict(seen)}, "
            f"errors {dict(details.most_common(4))}"
        )

    def acknowledged(self) -> dict[str, tuple[str, int]]:
        """Idempotency key → the (record id, version) its 2xx answers named (one per key)."""
        by_key: dict[str, set[tuple[str, int]]] = collections.defaultdict(set)
        for r in self.requests:
            if r.body is not None:
                by_key[r.key].add(r.revision)
        doubled = {k: v for k, v in by_key.items() if len(v) != 1}
        assert not doubled, f"one Idempotency-Key, several revisions: {doubled}"
        return {k: next(iter(v)) for k, v in by_key.items()}


# ---------------------------------------------------------------------------------------------
# The end checks
# ---------------------------------------------------------------------------------------------


def wait_anchored(dep: Deployment) -> None:
    deadline = time.monotonic() + ANCHOR_DEADLINE_S
    while True:
        states = collections.Counter(dep.revisions().values())
        assert AnchorState.FAILED.value not in states, f"failed anchors: {states}\n{dep.logs()}"
        if set(states) <= {AnchorState.ANCHORED.value}:
            return
        assert time.monotonic() < deadline, f"not anchored in time: {states}\n{dep.logs()}"
        assert dep.worker.alive, f"the worker died:\n{dep.worker.tail()}"
        time.sleep(0.3)


def check_all(dep: Deployment, traffic: Traffic, before: set[tuple[str, int]]) -> None:
    """The end checks of the module docstring, for the revisions made during `traffic`."""
    print(traffic.summary())
    # 1. every client got its answer: 2xx, after retries; 5xx only ever as a clean 503.
    unanswered = [(r.key, r.attempts[-3:]) for r in traffic.requests if r.final not in (200, 201)]
    assert not unanswered, f"requests without success: {unanswered[:5]}\n{traffic.summary()}"
    errors = [(r.key, a) for r, a in traffic.attempts() if a.status and a.status >= 500]
    assert all(a.status == 503 and '"detail"' in a.detail for _, a in errors), errors[:5]
    assert traffic.requests, "no traffic"

    # 2. one key → one revision; the database holds exactly the acknowledged ones.
    acked = traffic.acknowledged()
    revisions = set(acked.values())
    assert len(revisions) == len(acked), "two keys answered with the same revision"
    wait_anchored(dep)
    in_db = set(dep.revisions())
    assert in_db - before == revisions, (
        f"not acknowledged: {sorted(in_db - before - revisions)[:5]}; "
        f"acknowledged, missing: {sorted(revisions - in_db)[:5]}"
    )
    published = {acked[k][0] for k in acked if k.startswith("p-")}
    assert len(published) == len([k for k in acked if k.startswith("p-")])

    # 3. the chain alone: each acknowledged revision anchored exactly once, nothing else.
    state, _ = replay(dep.client)
    assert state.violations == [], state.violations[:5]
    counts = collections.Counter(
        (e.record_id.removeprefix("0x"), e.version)
        for e in state.revisions
        if e.office_number == dep.office.number
    )
    assert {k: n for k, n in counts.items() if n != 1} == {}, "anchored more than once"
    assert set(counts) == in_db, "the chain and the database hold different revisions"
    assert all(counts[rv] == 1 for rv in revisions)

    # 4. the audit's diff (revisions, status, blobs on disk, access log) finds nothing.
    engine = make_engine(dep.db_url)
    try:
        with unit_of_work(session_factory(engine)) as session:
            assert run_diff(session, state, BlobStore(dep.disk.root)) == []
            # no revision without its blob row, no blob row without its file
            store = BlobStore(dep.disk.root)
            for sha in session.scalars(select(Revision.content_hash)):
                assert session.get(Blob, sha) is not None and store.exists(sha), sha
    finally:
        engine.dispose()


def acked_between(traffic: Traffic, start: float, end: float) -> int:
    return sum(1 for r in traffic.requests if r.acked_at and start <= r.acked_at <= end)
