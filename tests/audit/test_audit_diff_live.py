"""The diff against a replay saved earlier, while the worker goes on anchoring: no false
alarm for what came after the replay, and an anchored revision the database disowns is found.
A real worker anchors on anvil, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib

from sqlalchemy import select, text

from notary.anchoring.seed import seed_revisions
from notary.anchoring.worker import Worker, WorkerSettings
from notary.audit.diff import run_diff
from notary.audit.runner import replay
from notary.db import repo
from notary.db.models import Office, Revision
from notary.db.session import make_engine, session_factory, unit_of_work
from notary.db.types import AnchorMode, AnchorState


class Service:
    """A database with the registry's office, and a worker anchoring for it."""

    def __init__(self, db_url, chain_config, registry_office, registry_client) -> None:
        self.engine = make_engine(db_url)
        self.sessions = session_factory(self.engine)
        with unit_of_work(self.sessions) as s:
            repo.create_office(
                s, office_id=registry_office.office_id, number=registry_office.number, name="o"
            )
        self.worker = Worker(
            WorkerSettings(db_url=db_url, chain=chain_config, signers=(registry_office.signer,)),
            client=registry_client,
        )

    def publish(self, records: int = 1) -> list[str]:
        with unit_of_work(self.sessions) as s:
            office = s.scalars(select(Office)).one()
            return seed_revisions(s, office=office, records=records)

    def diff(self, state) -> list[tuple[str, str]]:
        with self.sessions() as s:
            return [(d.kind, d.message) for d in run_diff(s, state, None)]


def test_what_was_anchored_after_the_replay_is_left_to_the_next(
    db_url, chain_config, registry_office, registry_client
) -> None:
    service = Service(db_url, chain_config, registry_office, registry_client)
    (first,) = service.publish()
    service.worker.run_once()
    state, _ = replay(registry_client)  # the auditor's saved replay
    assert service.diff(state) == []
    service.publish()
    with unit_of_work(service.sessions) as s:
        repo.record_revocation(s, record_id=first, reason="wrong figures")
    service.worker.run_once()  # a new revision and a revocation, after the replay
    with service.sessions() as s:
        newest = s.scalars(select(Revision).order_by(Revision.id.desc())).first()
        assert newest.anchor_state is AnchorState.ANCHORED
        assert newest.block_number > state.last_block
    assert service.diff(state) == []
    assert service.diff(replay(registry_client)[0]) == []
    service.engine.dispose()


def test_an_anchored_revision_the_database_calls_failed_is_found(
    db_url, chain_config, registry_office, registry_client
) -> None:
    service = Service(db_url, chain_config, registry_office, registry_client)
    (record,) = service.publish()
    service.worker.run_once()
    state, _ = replay(registry_client)
    with unit_of_work(service.sessions) as s:
        s.execute(
            text(
                "UPDATE revisions SET anchor_state = 'failed', tx_hash = NULL, "
                "block_number = NULL, log_index = NULL, leaf = NULL, anchored_at = NULL, "
                "anchor_error = 'reverted' WHERE record_id = :r"
            ),
            {"r": record},
        )
    [(kind, message)] = service.diff(state)
    assert kind == "anchor_changed"
    assert "anchor state failed" in message and "leaf" in message and "tx_hash" in message
    service.engine.dispose()


def test_a_batch_row_edited_or_deleted_is_found(
    db_url, chain_config, registry_office, registry_client
) -> None:
    # The chain holds only a batch's root and leaf count: each row must rebuild its proven
    # leaf from its own fields, and the batch must have all its rows.
    service = Service(db_url, chain_config, registry_office, registry_client)
    with unit_of_work(service.sessions) as s:
        office = s.scalars(select(Office)).one()
        first, second, _ = seed_revisions(s, office=office, records=3, category="archive")
    service.worker.run_once()
    with service.sessions() as s:
        assert {r.anchor_mode for r in s.scalars(select(Revision))} == {AnchorMode.BATCH}
    state, _ = replay(registry_client)
    assert service.diff(state) == []
    forged = '{"title":"forged"}'
    with unit_of_work(service.sessions) as s:
        s.execute(
            text(
                "UPDATE revisions SET content_hash = :h, metadata_json = :j, metadata_hash = :m "
                "WHERE record_id = :r"
            ),
            {
                "h": "f" * 64,
                "j": forged,
                "m": hashlib.sha256(forged.encode()).hexdigest(),
                "r": first,
            },
        )
        s.execute(text("DELETE FROM revisions WHERE record_id = :r"), {"r": second})
        s.execute(text("DELETE FROM records WHERE record_id = :r"), {"r": second})
    found = service.diff(state)
    assert (
        "content_hash_changed",
        "the row's hashes no longer give the leaf anchored in its batch",
    ) in found
    assert any(
        kind == "missing_in_db" and "holds 3 revision(s) on chain, the database 2" in message
        for kind, message in found
    )
    service.engine.dispose()
