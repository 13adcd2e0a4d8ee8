"""One bad row stops nobody: the worker isolates a row it cannot encode (real anvil, real
SQLite and PostgreSQL).

A poison row is written straight into the database (as a bug or a migration could, past
every door): a certificate whose validity end is before 1970, or exactly at the epoch
(which would encode as "no end"). The worker must fail that revision alone, with its
reason and an alert, and anchor every other office's rows in the same round.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest
from sqlalchemy import select, text, update

from notary.anchoring.seed import seed_revisions
from notary.anchoring.worker import Worker, WorkerSettings
from notary.db import repo
from notary.db.models import Alert, Record, Revision, Revocation
from notary.db.session import make_engine, session_factory, unit_of_work
from notary.db.types import AccessTier, AnchorState, RecordKind
from notary.errors import InvalidInput
from notary.formats.fields import check_validity, check_version, valid_until_seconds
from notary.formats.revision import new_record_id

BEFORE_1970 = datetime(1969, 7, 20, 20, 17, 40, tzinfo=UTC)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
EMPTY_JSON_HASH = hashlib.sha256(b"{}").hexdigest()


@pytest.fixture
def two_offices(db_url, chain_config, registry_client, registry_office, governance):
    """(session factory, [office rows], worker) for two offices registered on chain."""
    from support.chain_helpers import RegistryOffice

    other = RegistryOffice(registry_client, governance, name="Land bureau")
    engine = make_engine(db_url)
    factory = session_factory(engine)
    rows = []
    with unit_of_work(factory) as s:
        for office in (registry_office, other):
            rows.append(
                repo.create_office(
                    s, office_id=office.office_id, number=office.number, name=office.name
                )
            )
    settings = WorkerSettings(
        db_url=db_url,
        chain=chain_config,
        signers=(registry_office.signer, other.signer),
        idle_sleep=0.05,
    )
    worker = Worker(settings, client=registry_client)
    yield factory, rows, worker
    worker.close()
    engine.dispose()


def _poison_certificate(factory, office, valid_until: datetime) -> str:
    """A pending certificate whose validity end is then rewritten past the door (raw UPDATE)."""
    record_id = new_record_id(office.number).hex()
    with unit_of_work(factory) as s:
        repo.create_record(
            s,
            record_id=record_id,
            office=s.merge(office),
            kind=RecordKind.CERTIFICATE,
            access_tier=AccessTier.RESTRICTED,
            title="poison",
            content_hash="ab" * 32,
            metadata_json="{}",
            metadata_hash=EMPTY_JSON_HASH,
            valid_until=datetime(2031, 1, 1, tzinfo=UTC),
        )
        s.execute(
            update(Record).where(Record.record_id == record_id).values(valid_until=valid_until)
        )
    return record_id


def _states(factory) -> dict[str, tuple[AnchorState, str | None]]:
    with unit_of_work(factory) as s:
        return {
            r.record_id: (r.anchor_state, r.anchor_error)
            for r in s.scalars(select(Revision).order_by(Revision.id))
        }


@pytest.mark.parametrize("valid_until", [BEFORE_1970, EPOCH], ids=["before-1970", "epoch"])
def test_a_poison_row_fails_alone_and_every_other_office_anchors(
    two_offices, registry_client, valid_until
):
    factory, (tax, land), worker = two_offices
    with unit_of_work(factory) as s:
        good = seed_revisions(s, office=s.merge(tax), records=2)
        good += seed_revisions(s, office=s.merge(land), records=2)
    poison = _poison_certificate(factory, tax, valid_until)
    with unit_of_work(factory) as s:
        good += seed_revisions(s, office=s.merge(tax), records=1)  # after the poison row

    worker.run_once()

    states = _states(factory)
    assert {rid: states[rid][0] for rid in good} == dict.fromkeys(good, AnchorState.ANCHORED)
    state, error = states[poison]
    assert state is AnchorState.FAILED
    assert "valid_until must be after 1970-01-01T00:00:00Z" in (error or "")
    for rid in good:
        assert registry_client.head(bytes.fromhex(rid)).version == 1
    assert registry_client.head(bytes.fromhex(poison)).version == 0
    with unit_of_work(factory) as s:
        alerts = list(s.scalars(select(Alert).where(Alert.record_id == poison)))
    assert [a.rule for a in alerts] == ["anchor_failed"]
    assert "valid_until" in alerts[0].details["error"]
    assert alerts[0].office_pk == tax.id

    # The next round neither retries the failed row nor stops on it.
    with unit_of_work(factory) as s:
        later = seed_revisions(s, office=s.merge(land), records=1)
    worker.run_once()
    assert _states(factory)[later[0]][0] is AnchorState.ANCHORED
    assert _states(factory)[poison][0] is AnchorState.FAILED


def test_a_row_with_a_malformed_hash_fails_alone(two_offices):
    """A column the leaf encoder cannot read (bad hex, written by raw SQL) is isolated too."""
    factory, (tax, land), worker = two_offices
    with unit_of_work(factory) as s:
        good = seed_revisions(s, office=s.merge(land), records=1)
        (bad,) = seed_revisions(s, office=s.merge(tax), records=1)
    with unit_of_work(factory) as s:
        # Hex32 refuses bad hex on any SQLAlchemy write; raw SQL does not.
        s.execute(
            text("UPDATE revisions SET metadata_hash = :bad WHERE record_id = :rid"),
            {"bad": "zz" * 32, "rid": bad},
        )
    worker.run_once()
    states = _states(factory)
    assert states[good[0]][0] is AnchorState.ANCHORED
    assert states[bad][0] is AnchorState.FAILED
    assert "cannot encode the revision" in (states[bad][1] or "")


def test_a_revocation_the_chain_refuses_fails_alone(two_offices, registry_client):
    """Revocations are prepared one transaction each: one the chain refuses (its record
    never reached the chain) fails with an alert, and another office's still anchors."""
    factory, (tax, land), worker = two_offices
    poison = _poison_certificate(factory, tax, EPOCH)
    with unit_of_work(factory) as s:
        (good,) = seed_revisions(s, office=s.merge(land), records=1)
    worker.run_once()  # the poison revision fails, the good one anchors
    with unit_of_work(factory) as s:
        for rid in (poison, good):
            repo.record_revocation(s, record_id=rid, reason="withdrawn")
    worker.run_once()
    with unit_of_work(factory) as s:
        states = {r.record_id: r.anchor_state for r in s.scalars(select(Revocation))}
        rules = set(s.scalars(select(Alert.rule).where(Alert.record_id == poison)))
    assert states == {poison: AnchorState.FAILED, good: AnchorState.ANCHORED}
    assert rules == {"anchor_failed", "revocation_failed"}
    assert registry_client.head(bytes.fromhex(good)).status.name.lower() == "revoked"


@pytest.mark.parametrize(
    ("when", "message"),
    [
        (None, None),
        (datetime(1970, 1, 1, 0, 0, 1, tzinfo=UTC), None),
        (EPOCH, "after 1970-01-01"),
        (BEFORE_1970, "after 1970-01-01"),
        (datetime(2030, 1, 1), "timezone"),
        (datetime(2030, 1, 1, 0, 0, 0, 5, tzinfo=UTC), "whole seconds"),
    ],
)
def test_valid_until_rule(when, message):
    if message is None:
        assert valid_until_seconds(when) == (0 if when is None else 1)
    else:
        with pytest.raises(InvalidInput, match=message):
            valid_until_seconds(when)


def test_the_data_layer_refuses_a_validity_end_at_the_epoch(db_session, db_url):
    office = repo.create_office(db_session, office_id="11" * 32, number=7, name="o")
    for when in (EPOCH, BEFORE_1970):
        with pytest.raises(InvalidInput, match="after 1970"):
            repo.create_record(
                db_session,
                record_id=new_record_id(7),
                office=office,
                kind=RecordKind.CERTIFICATE,
                access_tier=AccessTier.RESTRICTED,
                title="t",
                content_hash="ab" * 32,
                metadata_json="{}",
                metadata_hash=EMPTY_JSON_HASH,
                valid_until=when,
            )


def test_validity_window_and_version_rules():
    start = datetime(2030, 1, 1, tzinfo=UTC)
    assert check_validity(None, None) == 0
    assert check_validity(start, datetime(2030, 1, 2, tzinfo=UTC)) == 1893542400
    with pytest.raises(InvalidInput, match="after valid_from"):
        check_validity(start, start)
    with pytest.raises(InvalidInput, match="valid_from needs a timezone"):
        check_validity(datetime(2030, 1, 1), None)
    with pytest.raises(InvalidInput, match="after 1970"):
        check_validity(datetime(1960, 1, 1, tzinfo=UTC), EPOCH)
    assert check_version(2**32 - 1) == 2**32 - 1
    for bad in (0, 2**32, -1, True):
        with pytest.raises(InvalidInput):
            check_version(bad)
