"""The anchoring worker in tests: an office row, seeded pending revisions, settings for a
signer, crash points, and the exactly-once check of chain against database."""

from __future__ import annotations

import collections

from sqlalchemy import select

from notary.anchoring.seed import seed_revisions
from notary.anchoring.worker import WorkerSettings
from notary.chain.client import RegistryClient
from notary.chain.events import RevisionAnchored
from notary.db import repo
from notary.db.models import Revision
from notary.db.session import make_engine, session_factory, unit_of_work
from notary.db.types import AnchorState


class Crash(BaseException):
    """Stands for the process dying at this point (in-process tests)."""


def office_row_of(factory, office):
    with unit_of_work(factory) as s:
        row = repo.create_office(s, office_id=office.office_id, number=office.number, name="o")
        return row


def seed_pending(factory, office_row, **kw) -> list[str]:
    with unit_of_work(factory) as s:
        return seed_revisions(s, office=s.merge(office_row), **kw)


def worker_settings(db_url, config, office, **kw) -> WorkerSettings:
    return WorkerSettings(db_url=db_url, chain=config, signers=(office.signer,), **kw)


def stored_revisions(factory) -> list[Revision]:
    with unit_of_work(factory) as s:
        return list(s.scalars(select(Revision).order_by(Revision.id)))


def anchored_events(client: RegistryClient) -> collections.Counter:
    return collections.Counter(
        (e.record_id.hex(), e.version)
        for e in client.iter_logs(event_names=["RevisionAnchored"])
        if isinstance(e, RevisionAnchored)
    )


def assert_exactly_once(client: RegistryClient, factory) -> None:
    """Every revision anchored once on chain, and the database agrees (tx, block, log)."""
    events = {}
    counts = collections.Counter()
    for e in client.iter_logs(event_names=["RevisionAnchored"]):
        key = (e.record_id.hex(), e.version)
        counts[key] += 1
        events[key] = e
    rows = stored_revisions(factory)
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


def crash_after(monkeypatch, client, method: str) -> None:
    original = getattr(client, method)

    def crash(*a, **kw):
        if method == "wait":
            original.__self__.broadcast(*a, **kw)  # make sure it is sent, then die
        raise Crash(method)

    monkeypatch.setattr(client, method, crash)
    return original


def outbox_for(db_url, registry_office):
    """(db_url, session factory, office row) with the office registered on chain and in DB."""
    engine = make_engine(db_url)
    factory = session_factory(engine)
    row = office_row_of(factory, registry_office)
    yield db_url, factory, row
    engine.dispose()
