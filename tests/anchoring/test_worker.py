"""The anchoring worker against a real anvil and real SQLite / PostgreSQL.

Happy paths per mode, reconciliation after a crash at each step, permanent refusals, and
two fault-injection runs: SIGKILL of a worker process anchoring 500 revisions, and anvil
stopped and restarted from its state file mid-run.
"""

from __future__ import annotations

import collections
import dataclasses
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select
from support import paths

from notary.anchoring.seed import seed_revisions
from notary.anchoring.worker import Worker, WorkerSettings, run_worker
from notary.chain.client import RegistryClient, deploy_registry, make_web3
from notary.chain.config import ChainConfig, GasPolicy
from notary.chain.errors import TxTimeout
from notary.chain.events import OfficeRegistered, RevisionAnchored
from notary.chain.local import LocalChain, rpc_call
from notary.db import repo
from notary.db.models import Alert, AnchorTx, Revision, Revocation
from notary.db.session import make_engine, session_factory, unit_of_work
from notary.db.types import AnchorMode, AnchorState, TxState
from notary.formats.merkle import verify_inclusion
from notary.storage.keystore import FAST_SCRYPT_N, create_key

ROOT = paths.ROOT


class Crash(BaseException):
    """Stands for the process dying at this point (in-process tests)."""


def _office_row(factory, office):
    with unit_of_work(factory) as s:
        row = repo.create_office(s, office_id=office.office_id, number=office.number, name="o")
        return row


def _seed(factory, office_row, **kw) -> list[str]:
    with unit_of_work(factory) as s:
        return seed_revisions(s, office=s.merge(office_row), **kw)


def _settings(db_url, config, office, **kw) -> WorkerSettings:
    return WorkerSettings(db_url=db_url, chain=config, signers=(office.signer,), **kw)


def _revisions(factory) -> list[Revision]:
    with unit_of_work(factory) as s:
        return list(s.scalars(select(Revision).order_by(Revision.id)))


def _events(client: RegistryClient) -> collections.Counter:
    return collections.Counter(
        (e.record_id.hex(), e.version)
        for e in client.iter_logs(event_names=["RevisionAnchored"])
        if isinstance(e, RevisionAnchored)
    )


def _assert_exactly_once(client: RegistryClient, factory) -> None:
    """Every revision anchored once on chain, and the database agrees (tx, block, log)."""
    events = {}
    counts = collections.Counter()
    for e in client.iter_logs(event_names=["RevisionAnchored"]):
        key = (e.record_id.hex(), e.version)
        counts[key] += 1
        events[key] = e
    rows = _revisions(factory)
    assert [r.anchor_state for r in rows] == [AnchorState.ANCHORED] * len(rows)
    assert set(counts) == {(r.record_id, r.version) for r in rows}
    assert max(counts.values()) == 1
    for r in rows:
        e = events[(r.record_id, r.version)]
        assert (r.tx_hash, r.block_number, r.log_index) == (
            e.tx_hash.removeprefix("0x"),
            e.block_number,
            e.log_index,
        )


@pytest.fixture
def outbox(db_url, chain_config, registry_client, registry_office):
    """(db_url, session factory, office row) with the office registered on chain and in DB."""
    engine = make_engine(db_url)
    factory = session_factory(engine)
    row = _office_row(factory, registry_office)
    yield db_url, factory, row
    engine.dispose()


# -- happy paths -----------------------------------------------------------------------------


def test_single_pending_revision_is_anchored_directly(
    outbox, chain_config, registry_client, registry_office
):
    db_url, factory, office = outbox
    _seed(factory, office, records=1)
    worker = Worker(_settings(db_url, chain_config, registry_office), client=registry_client)
    assert worker.run_once() == 1
    (row,) = _revisions(factory)
    assert row.anchor_state is AnchorState.ANCHORED and row.anchor_mode is AnchorMode.DIRECT
    assert registry_client.head(bytes.fromhex(row.record_id)).matches(bytes.fromhex(row.leaf))
    _assert_exactly_once(registry_client, factory)
    worker.close()


def test_consecutive_versions_and_records_share_one_anchor_many(
    outbox, chain_config, registry_client, registry_office
):
    db_url, factory, office = outbox
    ids = _seed(factory, office, records=3, versions=3)
    worker = Worker(_settings(db_url, chain_config, registry_office), client=registry_client)
    worker.run_once()
    rows = _revisions(factory)
    assert {r.anchor_mode for r in rows} == {AnchorMode.MANY}
    assert len({r.tx_hash for r in rows}) == 1
    for record_id in ids:
        assert registry_client.head(bytes.fromhex(record_id)).version == 3
    _assert_exactly_once(registry_client, factory)


def test_archive_records_are_anchored_as_a_merkle_batch(
    outbox, chain_config, registry_client, registry_office
):
    db_url, factory, office = outbox
    _seed(factory, office, records=5, category="archive")
    worker = Worker(_settings(db_url, chain_config, registry_office), client=registry_client)
    worker.run_once()
    rows = _revisions(factory)
    (root,) = {r.batch_root for r in rows}
    assert {r.anchor_mode for r in rows} == {AnchorMode.BATCH}
    for r in rows:
        proof = [bytes.fromhex(p) for p in r.merkle_proof]
        leaf = bytes.fromhex(r.leaf)
        assert verify_inclusion(bytes.fromhex(root), leaf, proof)
        assert registry_client.verify_batch_leaf(bytes.fromhex(root), leaf, proof)


def test_pending_revocation_is_anchored_after_the_revision(
    outbox, chain_config, registry_client, registry_office
):
    db_url, factory, office = outbox
    (record_id,) = _seed(factory, office, records=1)
    with unit_of_work(factory) as s:
        repo.record_revocation(s, record_id=record_id, reason="wrong figures")
    worker = Worker(_settings(db_url, chain_config, registry_office), client=registry_client)
    worker.run_once()
    with unit_of_work(factory) as s:
        revocation = s.scalars(select(Revocation)).one()
    assert revocation.anchor_state is AnchorState.ANCHORED
    assert registry_client.head(bytes.fromhex(record_id)).status.name == "REVOKED"


# -- reconciliation ----------------------------------------------------------------------------


def _crash_after(monkeypatch, client, method: str) -> None:
    original = getattr(client, method)

    def crash(*a, **kw):
        if method == "wait":
            original.__self__.broadcast(*a, **kw)  # make sure it is sent, then die
        raise Crash(method)

    monkeypatch.setattr(client, method, crash)
    return original


def test_restart_records_a_mined_transaction_only_once_confirmed(
    outbox, chain_config, registry_office, monkeypatch
):
    # A receipt found at once after a restart may still be reorged away: it is recorded
    # only with the configured confirmations on top, as a fresh send is.
    db_url, factory, office = outbox
    _seed(factory, office, records=1)
    config = dataclasses.replace(chain_config, confirmations=2, receipt_timeout=1.0)
    client = RegistryClient.connect(config)
    settings = _settings(db_url, config, registry_office)
    crashing = Worker(settings, client=client)
    _crash_after(monkeypatch, client, "wait")  # broadcast, mined by anvil, then the crash
    with pytest.raises(Crash):
        crashing.run_once()
    monkeypatch.undo()
    fresh = Worker(settings, client=RegistryClient.connect(config))
    with pytest.raises(TxTimeout):  # mined, but no block on top yet
        fresh.reconcile()
    [row] = _revisions(factory)
    assert row.anchor_state is AnchorState.SENDING and row.block_number is None
    for _ in range(config.confirmations):
        rpc_call(config.rpc_url, "evm_mine")
    assert fresh.reconcile() == 1
    [row] = _revisions(factory)
    assert row.anchor_state is AnchorState.ANCHORED


@pytest.mark.parametrize("point", ["broadcast", "wait"])
def test_restart_settles_a_recorded_transaction_without_sending_twice(
    outbox, chain_config, registry_client, registry_office, monkeypatch, point
):
    db_url, factory, office = outbox
    _seed(factory, office, records=2, versions=2)
    settings = _settings(db_url, chain_config, registry_office)
    crashing = Worker(settings, client=registry_client)
    _crash_after(monkeypatch, registry_client, point)
    with pytest.raises(Crash):
        crashing.run_once()
    monkeypatch.undo()
    rows = _revisions(factory)
    assert {r.anchor_state for r in rows} == {AnchorState.SENDING}
    recorded = rows[0].tx_hash
    fresh = Worker(settings, client=RegistryClient.connect(chain_config))
    assert fresh.reconcile() == 1
    rows = _revisions(factory)
    assert {r.tx_hash for r in rows} == {recorded}  # the same raw transaction, not a new one
    _assert_exactly_once(registry_client, factory)


def test_restart_finds_revisions_anchored_by_another_transaction(
    outbox, chain_config, registry_client, registry_office, monkeypatch
):
    db_url, factory, office = outbox
    _seed(factory, office, records=1)
    settings = _settings(db_url, chain_config, registry_office)
    _crash_after(monkeypatch, registry_client, "broadcast")
    with pytest.raises(Crash):
        Worker(settings, client=registry_client).run_once()
    monkeypatch.undo()
    (row,) = _revisions(factory)
    # Someone else anchors the same revision (taking the recorded nonce) before the restart.
    other = RegistryClient.connect(chain_config)
    with unit_of_work(factory) as s:
        from notary.anchoring.plan import build_items

        rows = list(s.scalars(select(Revision)))
        for r in rows:
            r.record  # noqa: B018 - load it
        (item,), _ = build_items(s, rows, chain_id=other.chain_id, registry=other.address)
    result = other.anchor(registry_office.signer, item.struct)
    fresh = Worker(settings, client=RegistryClient.connect(chain_config))
    fresh.reconcile()
    (row,) = _revisions(factory)
    assert row.anchor_state is AnchorState.ANCHORED
    assert row.tx_hash == result.tx_hash.removeprefix("0x")
    _assert_exactly_once(registry_client, factory)


def test_unauthorised_signer_fails_with_an_alert_instead_of_looping(
    outbox, chain_config, registry_client, registry_office, governance
):
    db_url, factory, office = outbox
    _seed(factory, office, records=2)
    worker = Worker(_settings(db_url, chain_config, registry_office), client=registry_client)
    worker.connect()  # maps the signer to its office while it is authorised
    registry_client.revoke_signer(
        governance, registry_office.office_id, registry_office.signer.address
    )
    worker.run_once()
    assert worker.run_once() == 0
    rows = _revisions(factory)
    assert {r.anchor_state for r in rows} == {AnchorState.FAILED}
    assert "SignerNotAuthorised" in rows[0].anchor_error
    with unit_of_work(factory) as s:
        assert s.scalar(select(func.count()).select_from(Alert)) == 2


# -- fault injection ---------------------------------------------------------------------------


def _worker_process(db_url, config: ChainConfig, key: Path, crash: bool) -> subprocess.Popen:
    env = dict(os.environ)
    env.update(
        NOTARY_RPC_URL=config.rpc_url,
        NOTARY_CHAIN_ID=str(config.chain_id),
        NOTARY_REGISTRY=str(config.registry),
        NOTARY_START_BLOCK=str(config.start_block),
        NOTARY_GAS_POLICY="zero",
        NOTARY_RESEND_TIMEOUT="2",
        NOTARY_KEYSTORE_PASSWORD="kill-test",
    )
    env.pop("NOTARY_TEST_CRASH_POINT", None)
    if crash:
        env.update(NOTARY_TEST_CRASH_POINT="any", NOTARY_TEST_CRASH_PROB="0.04")
    cmd = [
        sys.executable,
        "-m",
        "notary.cli.worker",
        "--db-url",
        db_url,
        "--key-file",
        str(key),
    ]
    cmd += ["--mode", "many", "--many-size", "10", "--max-jobs", "4"]
    if not crash:
        cmd.append("--exit-when-idle")
    return subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )


@pytest.mark.slow
@pytest.mark.faults
def test_sigkill_at_random_points_anchors_each_revision_exactly_once(
    outbox, chain_config, registry_client, registry_office, tmp_path
):
    db_url, factory, office = outbox
    _seed(factory, office, records=250, versions=2)  # 500 revisions
    key = tmp_path / "signer.json"
    create_key(key, "kill-test", private_key=registry_office.signer.key, scrypt_n=FAST_SCRYPT_N)
    rng = random.Random(4)
    exits: list[int] = []

    def not_anchored() -> int:
        with unit_of_work(factory) as s:
            return s.scalar(
                select(func.count())
                .select_from(Revision)
                .where(Revision.anchor_state != AnchorState.ANCHORED)
            )

    left = not_anchored()
    for _ in range(3):  # each start costs seconds of imports on a loaded box
        before = left
        proc = _worker_process(db_url, chain_config, key, crash=True)
        deadline = time.monotonic() + 60
        while proc.poll() is None and not_anchored() == before and time.monotonic() < deadline:
            time.sleep(0.05)  # wait until it is anchoring, then kill it at a random moment
        time.sleep(rng.uniform(0.0, 0.6))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        proc.wait()
        exits.append(proc.returncode)
        left = not_anchored()
        if left == 0:
            break
    print(f"worker exits: {exits}; left for the final run: {left}")
    assert len(exits) >= 2 and left < 500  # it was killed mid-way and made progress
    # The last restart runs in-process (same code, fresh nonces) to save an interpreter start.
    final = Worker(_settings(db_url, chain_config, registry_office, mode="many"))
    final.run(exit_when_idle=True)
    final.close()
    _assert_exactly_once(registry_client, factory)
    with unit_of_work(factory) as s:
        states = set(s.scalars(select(AnchorTx.state)))
    assert states <= {TxState.CONFIRMED, TxState.DROPPED, TxState.FAILED}


RESTART_TOTAL = 1_000
"""Enough revisions that the chain stops mid-run: of 200, all were sometimes anchored between
the poll that saw 20 and the freeze of mining."""


@pytest.mark.slow
@pytest.mark.faults
def test_anvil_restarted_from_its_state_file_mid_run_loses_nothing(
    tmp_path, dev_accounts, sqlite_template
):
    import shutil

    from notary.db.types import TxPurpose  # noqa: F401

    state = tmp_path / "anvil-state.json"
    chain = LocalChain(state_file=state).start()
    try:
        governance = dev_accounts[9]
        config = ChainConfig(
            rpc_url=chain.url, chain_id=chain.chain_id, gas=GasPolicy(policy="zero"),
            receipt_timeout=60.0, resend_timeout=1.0,
        )  # fmt: skip
        deployment = deploy_registry(make_web3(config), governance, config=config)
        config = config.replace(registry=deployment.address, start_block=deployment.block_number)
        client = RegistryClient.connect(config)
        office_id = os.urandom(32)
        number = (
            client.register_office(governance, office_id, "Office")
            .events_of(OfficeRegistered)[0]
            .number
        )
        signer = dev_accounts[3]
        client.grant_signer(governance, office_id, signer.address)

        db = tmp_path / "db.sqlite3"
        shutil.copyfile(sqlite_template, db)
        db_url = f"sqlite:///{db}"
        engine = make_engine(db_url)
        factory = session_factory(engine)
        with unit_of_work(factory) as s:
            row = repo.create_office(s, office_id=office_id, number=number, name="Office")
            seed_revisions(s, office=row, records=RESTART_TOTAL)
        settings = WorkerSettings(
            db_url=db_url, chain=config, signers=(signer,), mode="many", many_size=5,
            max_jobs=2, max_backoff=0.5,
        )  # fmt: skip
        stop = threading.Event()
        thread = threading.Thread(target=run_worker, args=(settings, stop), daemon=True)
        thread.start()

        def anchored() -> int:
            with unit_of_work(factory) as s:
                return s.scalar(
                    select(func.count())
                    .select_from(Revision)
                    .where(Revision.anchor_state == AnchorState.ANCHORED)
                )

        deadline = time.monotonic() + 60
        while anchored() < 20 and time.monotonic() < deadline:
            time.sleep(0.05)
        # Freeze mining, then stop: anvil dumping its state in the middle of mining a block
        # can keep the block's state changes without the block (its transactions and logs),
        # which no real chain does, and then nobody can prove those anchors. Transactions
        # sent from now on wait in the pool and are lost with it: the worker must re-send.
        make_web3(config).provider.make_request("evm_setAutomine", [False])
        time.sleep(0.3)
        chain.stop()
        # A receipt that arrived just before the stop may still be being stored: wait for
        # the count to settle, then nothing may move while the chain is down.
        down_at = anchored()
        time.sleep(0.5)
        while (now := anchored()) != down_at:
            down_at = now
            time.sleep(0.5)
        time.sleep(1.5)
        assert anchored() < RESTART_TOTAL and anchored() == down_at
        chain = LocalChain(port=chain.port, state_file=state).start()
        deadline = time.monotonic() + 90
        while anchored() < RESTART_TOTAL and time.monotonic() < deadline:
            time.sleep(0.2)
        stop.set()
        thread.join(30)
        assert anchored() == RESTART_TOTAL
        _assert_exactly_once(RegistryClient.connect(config), factory)
        engine.dispose()
    finally:
        chain.stop()
