"""Consortium nodes: range limits, several nodes with one killed, finality and reorgs.

Everything runs against the session's anvil behind Besu-like proxies
(`tests/support/besu_proxy.py`); reorgs are `evm_snapshot` / `evm_revert` on the raw anvil
followed by new blocks.
"""

from __future__ import annotations

import dataclasses
import threading
import time

import pytest
from sqlalchemy import select
from support.besu_proxy import BesuProxy
from support.worker_runs import (
    Crash,
    assert_exactly_once,
    crash_after,
    seed_pending,
    worker_settings,
)

from notary.anchoring.worker import TxRef, Worker
from notary.chain.client import RegistryClient, make_web3
from notary.chain.config import ChainConfig, ConfigError
from notary.chain.failover import FailoverHTTPProvider
from notary.chain.local import rpc_call
from notary.db import outbox as outbox_rows
from notary.db.models import AnchorTx
from notary.db.session import unit_of_work
from notary.db.types import AnchorState
from notary.formats.qr_payload import QrPayload, encode
from verifier.chainsource import RegistryPool
from verifier.result import Verdict
from verifier.trust import TrustEntry, TrustList, TrustListError, parse_trust
from verifier.verify import verify_file, verify_payload


def _code(reg, record_id: bytes, version: int, leaf: bytes) -> str:
    payload = QrPayload.for_page(
        chain_id=reg.chain_id,
        registry=reg.address,
        record_id=record_id,
        version=version,
        leaf=leaf,
        page=1,
        pages=1,
    )
    return encode(payload)


def _trust(reg, *urls: str, confirmations: int = 0) -> TrustList:
    entry = TrustEntry(
        reg.chain_id,
        reg.address,
        "示范区域公证链",
        rpc_urls=urls,
        deployment_block=reg.deployment_block,
        confirmations=confirmations,
    )
    return TrustList((entry,))


# --- range limits ---------------------------------------------------------------------------


def test_verifier_pages_within_the_node_limit_from_the_deployment_block(verifier_registry):
    reg = verifier_registry
    rid, v1, _leaf1 = reg.anchor(b"v1")
    rpc_call(reg.chain.url, "anvil_mine", [hex(120)])  # history far beyond the node's limit
    _rid, v2, leaf2 = reg.anchor(b"v2", record_id=rid)
    head = int(str(rpc_call(reg.chain.url, "eth_blockNumber")), 16)
    with BesuProxy(reg.chain.url, max_logs_range=20) as node:
        # A code is checked point by point: no range is refused, few blocks are read.
        result = verify_payload(
            _code(reg, rid, v2, leaf2), _trust(reg, node.url), connect=RegistryPool()
        )
        assert result.verdict is Verdict.AUTHENTIC_CURRENT, result
        assert node.refused == 0 and node.blocks_asked <= 4
        node.reset_counters()
        # Unstamped bytes with no content index are looked up over the history: paged
        # within the limit, from the deployment block on.
        found = verify_file(b"v1", _trust(reg, node.url), connect=RegistryPool())
        assert found.verdict is Verdict.SUPERSEDED, found
        assert node.refused >= 1  # the first open-ended read was refused, then paged
        per_read = head - reg.deployment_block + 1
        # Refused attempts count too (the window halves until the node accepts it).
        assert node.blocks_asked <= 6 * per_read
    assert v1 == 1


def test_service_reader_pages_under_a_result_cap(registry_client, registry_office, anvil):
    from support.registry_revisions import new_rev

    for _ in range(6):
        registry_client.anchor(registry_office.signer, new_rev(registry_office.record_id()))
    with BesuProxy(anvil.url, max_logs_range=0, max_logs_results=2) as node:
        config = registry_client.config.replace(rpc_url=node.url)
        client = RegistryClient.connect(config)
        events = list(client.iter_logs(event_names=["RevisionAnchored"]))
        assert len(events) == 6 and node.refused >= 1


# --- several nodes --------------------------------------------------------------------------


def test_config_and_trust_name_several_nodes() -> None:
    config = ChainConfig.from_mapping({"rpc_urls": ["http://a:1", "http://b:2"]})
    assert (config.rpc_url, config.rpc_urls) == ("http://a:1", ("http://a:1", "http://b:2"))
    assert ChainConfig.from_mapping(config.to_json()) == config
    assert ChainConfig.from_mapping({"rpc_url": "http://c:3"}).rpc_urls == ("http://c:3",)
    env = ChainConfig.from_env({"NOTARY_RPC_URLS": "http://a:1, http://b:2"})
    assert env.rpc_urls == ("http://a:1", "http://b:2")
    for bad in (["http://a:1", "http://a:1"], ["ftp://a"], "http://a:1"):
        with pytest.raises(ConfigError):
            ChainConfig.from_mapping({"rpc_urls": bad})

    doc = {
        "version": 1,
        "entries": [
            {
                "chain_id": 7,
                "registry": "0x" + "ab" * 20,
                "name": "A",
                "rpc_urls": ["http://n1:8545", "http://n2:8545"],
                "deployment_block": 1234,
                "confirmations": 2,
            }
        ],
    }
    (entry,) = parse_trust(doc)
    assert entry.rpc_url == "http://n1:8545" and len(entry.rpc_urls) == 2
    assert (entry.deployment_block, entry.confirmations) == (1234, 2)
    assert parse_trust(TrustList((entry,)).to_json()) == TrustList((entry,))
    (single,) = parse_trust(doc | {"entries": [{**doc["entries"][0], "rpc_urls": None}]})
    assert single.rpc_urls == () and single.rpc_url is None
    for field, bad in (
        ("rpc_urls", "http://n1"),
        ("rpc_urls", ["http://n1", "http://n1"]),
        ("deployment_block", -1),
        ("confirmations", "2"),
        ("rpc_url", "http://other"),  # must be the first of rpc_urls
    ):
        with pytest.raises(TrustListError):
            parse_trust(doc | {"entries": [{**doc["entries"][0], field: bad}]})


def test_verifier_keeps_verifying_when_one_node_is_killed(verifier_registry):
    reg = verifier_registry
    codes = [_code(reg, *reg.anchor(b"doc %d" % i)) for i in range(4)]
    with BesuProxy(reg.chain.url, max_logs_range=50) as a, BesuProxy(reg.chain.url) as b:
        trust, connect = _trust(reg, a.url, b.url), RegistryPool()
        for i, code in enumerate(codes):
            if i == 2:
                a.stop()  # node A goes down mid-run
            result = verify_payload(code, trust, connect=connect)
            assert result.verdict is Verdict.AUTHENTIC_CURRENT, (i, result)
        assert a.calls["eth_call"] > 0 and b.calls["eth_call"] > 0


def test_verifier_fails_over_a_node_that_fails_calls(verifier_registry):
    reg = verifier_registry
    code = _code(reg, *reg.anchor(b"flaky"))
    with BesuProxy(reg.chain.url, fail_share=0.5, seed=1) as a, BesuProxy(reg.chain.url) as b:
        for _ in range(3):
            result = verify_payload(code, _trust(reg, a.url, b.url), connect=RegistryPool())
            assert result.verdict is Verdict.AUTHENTIC_CURRENT, result
        assert a.failed >= 1


def test_all_nodes_down_is_unavailable_not_green(verifier_registry):
    reg = verifier_registry
    code = _code(reg, *reg.anchor(b"doc"))
    a, b = BesuProxy(reg.chain.url), BesuProxy(reg.chain.url)
    a.stop(), b.stop()
    result = verify_payload(code, _trust(reg, a.url, b.url), connect=RegistryPool())
    assert result.verdict is Verdict.UNAVAILABLE, result


def test_worker_keeps_anchoring_exactly_once_when_its_node_is_killed(
    outbox,
    chain_config,
    registry_office,
    anvil,
):
    db_url, factory, office = outbox
    with BesuProxy(anvil.url, max_logs_range=50) as a, BesuProxy(anvil.url) as b:
        config = chain_config.replace(rpc_urls=(a.url, b.url), resend_timeout=0.5)
        assert isinstance(make_web3(config).provider, FailoverHTTPProvider)
        worker = Worker(worker_settings(db_url, config, registry_office))
        seed_pending(factory, office, records=3)
        worker.run_once()
        a.stop()  # node A goes down between rounds, with a keep-alive connection open
        seed_pending(factory, office, records=3)
        for _ in range(5):
            worker.reconcile()
            if worker.run_once() == 0:
                break
        assert b.calls["eth_sendRawTransaction"] >= 1
        worker.close()
    client = RegistryClient.connect(chain_config)
    assert_exactly_once(client, factory)


# --- finality and reorgs --------------------------------------------------------------------


def _mine_while(flag: threading.Event, url: str) -> threading.Thread:
    def mine() -> None:
        while not flag.is_set():
            rpc_call(url, "evm_mine")
            time.sleep(0.05)

    thread = threading.Thread(target=mine, daemon=True)
    thread.start()
    return thread


def test_unconfirmed_anchor_is_not_counted_and_a_reorged_one_is_resent(
    outbox,
    chain_config,
    registry_office,
    monkeypatch,
    anvil,
):
    db_url, factory, office = outbox
    seed_pending(factory, office, records=1)
    config = dataclasses.replace(chain_config, confirmations=2, receipt_timeout=20.0)
    client = RegistryClient.connect(config)
    settings = worker_settings(db_url, config, registry_office)
    crashing = Worker(settings, client=client)
    crash_after(monkeypatch, client, "broadcast")  # recorded, never sent
    with pytest.raises(Crash):
        crashing.run_once()
    monkeypatch.undo()
    with unit_of_work(factory) as session:
        (row,) = outbox_rows.unconfirmed_txs(session)
        tx = TxRef.of(row)
        (item,) = Worker(settings, client=RegistryClient.connect(config))._items_of(session, tx)

    fresh = Worker(settings, client=RegistryClient.connect(config))
    fresh.connect()
    snap = rpc_call(anvil.url, "evm_snapshot")
    other = RegistryClient.connect(config.replace(confirmations=0))
    other.anchor(registry_office.signer, item.struct)  # another process anchored it
    assert not fresh._found_by_events(tx)  # in a block with no confirmations on top
    rpc_call(anvil.url, "evm_revert", [snap])  # the reorg: that block is gone

    done = threading.Event()
    miner = _mine_while(done, anvil.url)
    try:
        assert fresh.reconcile() == 1  # the recorded transaction is re-sent and confirmed
    finally:
        done.set()
        miner.join()
    with unit_of_work(factory) as session:
        txs = list(session.scalars(select(AnchorTx)))
    assert [t.tx_hash for t in txs] == [tx.tx_hash]  # the same recorded transaction
    (rev,) = _revisions_of(factory)
    assert rev.anchor_state is AnchorState.ANCHORED and rev.tx_hash == tx.tx_hash.removeprefix("0x")
    assert_exactly_once(RegistryClient.connect(config), factory)


def _revisions_of(factory):
    from support.worker_runs import stored_revisions

    return stored_revisions(factory)


def test_a_reorged_away_anchor_is_never_authentic_from_a_cache(verifier_registry):
    reg = verifier_registry
    connect = RegistryPool()  # one pool: its caches live across the reorg
    snap = rpc_call(reg.chain.url, "evm_snapshot")
    rid, v, leaf = reg.anchor(b"to be reorged away")
    code = _code(reg, rid, v, leaf)
    trust = _trust(reg, reg.node_url)
    assert verify_payload(code, trust, connect=connect).verdict is Verdict.AUTHENTIC_CURRENT
    rpc_call(reg.chain.url, "evm_revert", [snap])
    rpc_call(reg.chain.url, "anvil_mine", ["0x3"])
    result = verify_payload(code, trust, connect=connect)
    assert result.verdict is not Verdict.AUTHENTIC_CURRENT, result
    assert not result.verdict.name.startswith("AUTHENTIC")


def test_with_confirmations_a_fresh_anchor_is_not_yet_authentic(verifier_registry):
    reg = verifier_registry
    rid, v, leaf = reg.anchor(b"fresh")
    code, connect = _code(reg, rid, v, leaf), RegistryPool()
    trust = _trust(reg, reg.node_url, confirmations=3)
    first = verify_payload(code, trust, connect=connect)
    assert not first.verdict.name.startswith("AUTHENTIC"), first
    rpc_call(reg.chain.url, "anvil_mine", ["0x3"])
    assert verify_payload(code, trust, connect=connect).verdict is Verdict.AUTHENTIC_CURRENT


def test_an_anchor_seen_only_in_an_unconfirmed_block_leaves_the_revision_pending(
    outbox, chain_config, registry_office
):
    """The chain refuses our revision because another process anchored it, in a block not
    yet confirmed: the revision stays pending (not anchored from that event, not failed),
    and is settled from the event once it is confirmed."""
    from notary.db.leaf import to_struct
    from notary.db.models import Record, Revision

    db_url, factory, office = outbox
    seed_pending(factory, office, records=1)
    with unit_of_work(factory) as session:
        row = session.scalars(select(Revision)).one()
        record = session.get(Record, row.record_id)
        struct = to_struct(row, record, bytes(32))
    config = dataclasses.replace(chain_config, confirmations=2)
    RegistryClient.connect(config.replace(confirmations=0)).anchor(registry_office.signer, struct)
    worker = Worker(worker_settings(db_url, config, registry_office), client=None)
    worker.run_once()  # estimation refuses it; the only anchor has no block on top
    (rev,) = _revisions_of(factory)
    assert rev.anchor_state is AnchorState.PENDING, rev.anchor_state
    rpc_call(config.rpc_url, "anvil_mine", [hex(3)])  # now that anchor is confirmed
    worker.run_once()
    (rev,) = _revisions_of(factory)
    assert rev.anchor_state is AnchorState.ANCHORED
    assert_exactly_once(RegistryClient.connect(config), factory)
