"""End-to-end fault injection: real processes, real faults, then the chain and the database
must agree (docs/design.md, "What must always hold" 1 and 2).

Nothing is mocked. The module starts its own anvil from a state file (not the session's
`anvil`: this one is stopped and restarted), deploys a registry and admits one office, makes
a PostgreSQL database of its own (`notary_faults_<random>` on the server of
`tests/support/db_fixtures.py`, dropped at the end), and runs the HTTP API (`uvicorn --factory
api.main:create_app`) and the anchoring worker (`python -m notary.cli.worker`) as separate
processes. In each test, client threads publish (and revise) through the API with httpx at
a steady rate for a bounded time and a bounded number of requests; every POST carries an
`Idempotency-Key`, and a client retries the same request with the same key on connection
errors and 5xx answers until it succeeds or its deadline passes. Meanwhile one fault:

1. the worker is SIGKILLed several times (while it anchors) and restarted;
2. the API process is SIGKILLed and restarted (requests in flight are retried);
3. anvil is stopped and restarted from its state file. The outage lasts
   `NOTARY_FAULT_CHAIN_OUTAGE_S` seconds (default 5, to keep the module short; the
   operations scenario of 30 s works the same way, only slower);
4. every PostgreSQL connection to the test database is cut (`pg_terminate_backend`),
   several times;
5. the blob directory becomes unwritable for a few seconds: as root, it lives on a small
   tmpfs of its own that is remounted read-only (root ignores permission bits); otherwise
   its directories are chmod 0555. Uploads in that window must get a clear 503 and leave
   nothing half-written;
6. two API processes serve one database with one worker; clients spread requests over both,
   retry on the other one, and send the same Idempotency-Key to both (one after the other,
   and at the same moment); one API process is also SIGKILLed.

After each: every request ended in 2xx (5xx answers were 503s, retried to success, never a
500); each key made exactly one revision; the database holds exactly the acknowledged
revisions made during the test; replaying the registry's events finds each of them on chain
exactly once (and nothing else for the office); `run_diff` finds no disagreement.
"""

from __future__ import annotations

import collections
import os
import random
import sys
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy.exc import OperationalError
from support.chain_helpers import RegistryOffice
from support.db_fixtures import pg_execute, pg_url
from support.fault_deployment import (
    ADMIN_KEY,
    CHAIN_OUTAGE_S,
    PASSWORD,
    Api,
    BlobDisk,
    Deployment,
    Proc,
    Traffic,
    acked_between,
    check_all,
)
from support.publish_stack import bearer

from notary.chain.client import RegistryClient, deploy_registry, make_web3
from notary.chain.config import ChainConfig, GasPolicy
from notary.chain.local import LocalChain
from notary.db.migrate import upgrade
from notary.storage.keystore import FAST_SCRYPT_N, create_key

pytestmark = [pytest.mark.faults, pytest.mark.slow]


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory, governance) -> Iterator[Deployment]:
    tmp = tmp_path_factory.mktemp("faults")
    chain = LocalChain(state_file=tmp / "anvil" / "state.json", log_file=tmp / "anvil.log")
    chain.start()
    procs: list[Proc] = []
    disk: BlobDisk | None = None
    db_name = f"notary_faults_{uuid.uuid4().hex[:12]}"
    db_made = False
    try:
        config = ChainConfig(
            rpc_url=chain.url, chain_id=chain.chain_id, gas=GasPolicy(policy="zero"),
            receipt_timeout=60.0, resend_timeout=2.0,
        )  # fmt: skip
        deployed = deploy_registry(make_web3(config), governance, config=config)
        config = config.replace(registry=deployed.address, start_block=deployed.block_number)
        client = RegistryClient.connect(config)
        office = RegistryOffice(client, governance, name="Fault-injection office")

        try:
            pg_execute(f'CREATE DATABASE "{db_name}"')
        except OperationalError as exc:
            pytest.fail(f"PostgreSQL is not reachable ({exc.orig})", pytrace=False)
        db_made = True
        db_url = pg_url(db_name)
        upgrade(db_url)

        disk = BlobDisk(tmp)
        data_dir = tmp / "data"
        data_dir.mkdir()
        config.save(data_dir)  # the API builds verify URLs from it, as under `make run`
        base_env = {k: v for k, v in os.environ.items() if not k.startswith("NOTARY_")}
        api_env = {
            **base_env,
            "NOTARY_DATA_DIR": str(data_dir),
            "NOTARY_DATABASE_URL": db_url,
            "NOTARY_BLOB_DIR": str(disk.root),
            "NOTARY_ADMIN_KEY": ADMIN_KEY,
            "NOTARY_KEY_SECRET": "f" * 32,
            "NOTARY_RECEIPT_WAIT_CAP_S": "1",
        }
        key_file = tmp / "signer.json"
        create_key(key_file, PASSWORD, private_key=office.signer.key, scrypt_n=FAST_SCRYPT_N)
        worker_env = {
            **base_env,
            "NOTARY_RPC_URL": config.rpc_url,
            "NOTARY_CHAIN_ID": str(config.chain_id),
            "NOTARY_REGISTRY": str(config.registry),
            "NOTARY_START_BLOCK": str(config.start_block),
            "NOTARY_GAS_POLICY": "zero",
            "NOTARY_RESEND_TIMEOUT": "2",
            "NOTARY_KEYSTORE_PASSWORD": PASSWORD,
        }
        worker = Proc(
            "worker",
            [sys.executable, "-m", "notary.cli.worker", "--db-url", db_url,
             "--key-file", str(key_file), "--max-jobs", "4"],
            worker_env,
            tmp / "worker.log",
        )  # fmt: skip
        procs.append(worker)
        api = Api("api", api_env, tmp / "api.log")
        procs.append(api)
        dep = Deployment(
            tmp, chain, config, client, office, db_name, db_url, disk, api_env, worker, api
        )
        api.start()
        worker.start()

        admin = bearer(ADMIN_KEY)
        oid = office.office_id.hex()
        r = httpx.post(
            api.url + "/api/v1/offices",
            json={"office_id": oid, "number": office.number, "name": office.name},
            headers=admin,
        )
        assert r.status_code == 201, r.text
        r = httpx.post(
            f"{api.url}/api/v1/offices/{oid}/keys", json={"role": "publisher"}, headers=admin
        )
        assert r.status_code == 201, r.text
        dep.publisher = bearer(r.json()["key"])
        yield dep
        procs = [dep.api, dep.worker]
        chain = dep.chain
    finally:
        for proc in procs:
            proc.stop()
        chain.stop()
        if disk is not None:
            disk.close()
        if db_made:
            pg_execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')


@pytest.fixture
def dep(deployment: Deployment) -> Deployment:
    """The deployment with every part running (a failed test may have left one down).

    The processes' output is in `api.log`, `worker.log` and `anvil.log` of `deployment.tmp`.
    """
    deployment.ensure_running()
    return deployment


# ---------------------------------------------------------------------------------------------
# The faults
# ---------------------------------------------------------------------------------------------


def test_worker_sigkilled_repeatedly(dep: Deployment) -> None:
    before = set(dep.revisions())
    rng = random.Random(1)
    kills_before = dep.worker.kills
    with Traffic(dep, "worker-kill") as traffic:
        for _ in range(3):
            # wait until the worker is anchoring, then kill it at a random moment
            start, deadline = dep.anchored_count(), time.monotonic() + 8
            while dep.anchored_count() == start and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(rng.uniform(0.0, 0.4))
            dep.worker.kill()
            time.sleep(0.3)
            dep.worker.start()
    assert dep.worker.kills - kills_before == 3
    check_all(dep, traffic, before)


def test_api_sigkilled_and_restarted(dep: Deployment) -> None:
    before = set(dep.revisions())
    rng = random.Random(2)
    with Traffic(dep, "api-kill") as traffic:
        for _ in range(3):
            time.sleep(rng.uniform(1.0, 2.0))
            traffic.wait_in_flight()
            dep.api.kill()
            time.sleep(0.3)
            dep.api.start()
    lost = [a for _, a in traffic.attempts() if a.error]
    assert lost, f"no request met the dead API: {traffic.summary()}"
    cut_off = [
        r for r in traffic.requests if any(a.error and "Connect" not in a.error for a in r.attempts)
    ]
    replayed = [r for r in cut_off if r.attempts[-1].replayed]
    print(f"{len(cut_off)} requests cut off in flight, {len(replayed)} answered by replay")
    assert cut_off, f"no kill caught a request in flight: {traffic.summary()}"
    check_all(dep, traffic, before)


def test_chain_stopped_and_restarted_from_its_state_file(dep: Deployment) -> None:
    before = set(dep.revisions())
    with Traffic(dep, "chain-outage", duration=CHAIN_OUTAGE_S + 7) as traffic:
        time.sleep(2.5)
        block = dep.client.web3.eth.block_number
        dep.chain.stop()  # SIGTERM: anvil writes its state file
        down = traffic.now()
        time.sleep(1.0)  # a receipt read just before the stop may still be stored
        anchored_down = dep.anchored_count()
        time.sleep(max(0.0, CHAIN_OUTAGE_S - 1.0))
        assert dep.anchored_count() == anchored_down  # nothing can be anchored meanwhile
        up = traffic.now()
        dep.restart_chain()
        assert dep.client.web3.eth.block_number >= block  # the state came back
    assert acked_between(traffic, down, up) > 0, "publishing must not need the chain"
    check_all(dep, traffic, before)


def test_database_connections_cut(dep: Deployment) -> None:
    before = set(dep.revisions())
    cut: list[int] = []
    rng = random.Random(4)
    with Traffic(dep, "db-cut") as traffic:
        time.sleep(1.0)
        for _ in range(8):  # some cuts land on connections in the middle of a transaction
            traffic.wait_in_flight()
            cut.append(dep.cut_db_connections())
            time.sleep(rng.uniform(0.5, 1.0))
        last = traffic.now()
    print(f"connections cut: {cut}")
    assert sum(cut) > 0, cut
    assert acked_between(traffic, last, traffic.now()) > 0, "service did not continue"
    check_all(dep, traffic, before)


def test_blob_directory_read_only_for_a_while(dep: Deployment) -> None:
    if reason := dep.disk.unavailable_reason:
        pytest.skip(reason)
    before = set(dep.revisions())
    temp_before = dep.disk.temp_files()
    with Traffic(dep, "blob-ro") as traffic:
        time.sleep(2.5)
        dep.disk.read_only()
        ro_from = traffic.now()
        try:
            time.sleep(3.0)
            assert dep.disk.temp_files() <= temp_before  # nothing half-written meanwhile
        finally:
            ro_to = traffic.now()
            dep.disk.writable()
    refused = [a for _, a in traffic.attempts() if a.status == 503]
    assert refused, f"no upload met the read-only store: {traffic.summary()}"
    for a in refused:
        assert "not writable" in a.detail, a
        assert ro_from - 0.5 <= a.at <= ro_to + 0.5, (a, ro_from, ro_to)
    assert dep.disk.temp_files() <= temp_before
    assert acked_between(traffic, ro_to, traffic.now()) > 0
    check_all(dep, traffic, before)


def test_two_api_processes_one_database_one_worker(dep: Deployment) -> None:
    before = set(dep.revisions())
    second = dep.new_api("api-2").start()
    try:
        with Traffic(dep, "two-apis", apis=[dep.api.url, second.url], probes=True) as traffic:
            time.sleep(4.0)
            dep.api.kill()  # clients fail over to the second process
            time.sleep(1.0)
            dep.api.start()
        replays = [a for _, a in traffic.attempts() if a.replayed]
        keys = collections.Counter(r.key for r in traffic.requests)
        assert replays and max(keys.values()) >= 2, traffic.summary()
        apis_used = {a.api for _, a in traffic.attempts() if a.status}
        assert apis_used == {0, 1}
        check_all(dep, traffic, before)
    finally:
        second.stop()
