"""The data layer on real SQLite and PostgreSQL: schema, migrations, repository, races.

Every test that takes `db_url`/`db_engine`/`db_session*` runs once per database.
"""

from __future__ import annotations

import hashlib
import threading
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest
import rfc8785
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, func, inspect, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from notary.db import repo
from notary.db.migrate import current_revision, downgrade, head_revision, upgrade
from notary.db.models import (
    ZERO32,
    AccessLogEntry,
    AnchorTx,
    ApiKey,
    Base,
    Office,
    Record,
    Revision,
)
from notary.db.session import (
    DatabaseUnavailable,
    make_engine,
    normalise_url,
    session_factory,
    unit_of_work,
)
from notary.db.types import (
    AccessTier,
    AnchorMode,
    AnchorState,
    KeyRole,
    RecordKind,
    RecordStatus,
    TxState,
    hex32,
)
from notary.errors import Conflict, InvalidInput, NotFound

# -- helpers -----------------------------------------------------------------------------


def h(label: str) -> str:
    """A deterministic 32-byte hex value for test data."""
    return hashlib.sha256(label.encode()).hexdigest()


def metadata(title: str, **extra: str) -> tuple[str, str]:
    """Canonical metadata JSON text and its SHA-256, as the API would pass them."""
    text_ = rfc8785.dumps({"title": title, **extra}).decode()
    return text_, hashlib.sha256(text_.encode()).hexdigest()


def record_id_for(office: Office, label: str) -> str:
    return f"{office.number:08x}" + h(label)[8:]


def make_office(session: Session, number: int = 1, name: str = "示范市数据局") -> Office:
    return repo.create_office(session, office_id=h(f"office-{number}"), number=number, name=name)


def publish(
    session: Session,
    office: Office,
    label: str,
    *,
    title: str | None = None,
    category: str | None = "budget",
    published_on: date | None = date(2025, 3, 1),
    kind: RecordKind = RecordKind.DISCLOSURE,
    tier: AccessTier = AccessTier.PUBLIC,
    leaf: str | None = None,
) -> Revision:
    meta_json, meta_hash = metadata(title or label)
    return repo.create_record(
        session,
        record_id=record_id_for(office, label),
        office=office,
        kind=kind,
        access_tier=tier,
        title=title or label,
        category=category,
        published_on=published_on,
        content_hash=h(f"content-{label}"),
        metadata_json=meta_json,
        metadata_hash=meta_hash,
        leaf=leaf,
    )


def revise(session: Session, record_id: str, version: int, label: str, **kw: object) -> Revision:
    meta_json, meta_hash = metadata(label)
    return repo.add_revision(
        session,
        record_id=record_id,
        version=version,
        title=label,
        content_hash=h(f"content-{label}"),
        metadata_json=meta_json,
        metadata_hash=meta_hash,
        **kw,  # type: ignore[arg-type]
    )


@pytest.fixture
def office(db_session: Session) -> Office:
    office = make_office(db_session)
    db_session.commit()
    return office


# -- schema and migrations ---------------------------------------------------------------


def test_migrated_schema_equals_the_models(db_engine: Engine) -> None:
    with db_engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []
        assert current_revision(conn) == head_revision()


def test_upgrade_twice_changes_nothing(db_url: str, db_engine: Engine) -> None:
    upgrade(db_url)
    with db_engine.connect() as conn:
        assert current_revision(conn) == head_revision()


def test_migrations_go_down_to_nothing_and_up_again(empty_db_url: str) -> None:
    upgrade(empty_db_url)
    downgrade(empty_db_url, "base")
    engine = make_engine(empty_db_url)
    try:
        with engine.connect() as conn:
            assert set(inspect(conn).get_table_names()) <= {"alembic_version"}
        upgrade(empty_db_url)
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
    finally:
        engine.dispose()


def test_concurrent_upgrades_of_one_database_both_succeed(empty_db_url: str) -> None:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            upgrade(empty_db_url)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []


def test_check_constraints_hold_in_the_database(db_session: Session, office: Office) -> None:
    db_session.add(ApiKey(office_pk=office.id, role=KeyRole.ADMIN, prefix="p1", key_hash=h("k")))
    with pytest.raises(IntegrityError):
        db_session.flush()
    db_session.rollback()
    db_session.add(ApiKey(office_pk=None, role=KeyRole.PUBLISHER, prefix="p2", key_hash=h("k")))
    with pytest.raises(IntegrityError):
        db_session.flush()
    db_session.rollback()
    with pytest.raises(IntegrityError):  # enum values are CHECKed, not only validated in Python
        db_session.execute(
            text(
                "INSERT INTO offices (office_id, number, name, status, created_at) "
                "VALUES (:oid, 2, 'x', 'bogus', :at)"
            ),
            {"oid": h("o2"), "at": "2025-01-01 00:00:00"},
        )


def test_sqlite_connections_use_wal_full_sync_foreign_keys_and_busy_timeout(
    tmp_path: Path,
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'x.sqlite3'}", busy_timeout_ms=1234)
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            # 2 = FULL: a commit (an acknowledged publish) survives a power cut.
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 1234
    finally:
        engine.dispose()


def test_database_urls_are_normalised() -> None:
    assert normalise_url("postgresql://u@h/d").drivername == "postgresql+psycopg"
    assert normalise_url("sqlite:///x.db").drivername == "sqlite"
    with pytest.raises(InvalidInput):
        normalise_url("mysql://u@h/d")
    with pytest.raises(InvalidInput):
        normalise_url("not a url")


def test_hex32_normalises_and_rejects() -> None:
    value = h("x")
    assert hex32("0x" + value.upper()) == value
    assert hex32(bytes.fromhex(value)) == value
    for bad in ("", "0x", value[:-1], value + "0", "g" * 64, "../" + value[3:], b"\x00" * 31, 5):
        with pytest.raises(InvalidInput):
            hex32(bad)


def test_timestamps_round_trip_as_aware_utc(db_session: Session, office: Office) -> None:
    beijing = timezone(timedelta(hours=8))
    accepted = datetime(2025, 3, 1, 9, 30, 15, 123456, tzinfo=beijing)
    meta_json, meta_hash = metadata("t")
    repo.create_record(
        db_session,
        record_id=record_id_for(office, "t"),
        office=office,
        kind=RecordKind.DISCLOSURE,
        access_tier=AccessTier.PUBLIC,
        title="t",
        content_hash=h("c"),
        metadata_json=meta_json,
        metadata_hash=meta_hash,
        accepted_at=accepted,
    )
    db_session.commit()
    db_session.expunge_all()
    got = db_session.scalars(select(Revision)).one().accepted_at
    assert got == accepted and got.tzinfo is UTC and got.hour == 1
    with pytest.raises(InvalidInput, match="naive"):
        repo.record_revocation(
            db_session, record_id=record_id_for(office, "t"), reason="r", revoked_at=datetime.now()
        )


# -- offices and records -----------------------------------------------------------------


def test_duplicate_office_id_or_number_is_a_conflict(db_session: Session, office: Office) -> None:
    with pytest.raises(Conflict):
        repo.create_office(db_session, office_id=office.office_id, number=2, name="other")
    with pytest.raises(Conflict):
        repo.create_office(db_session, office_id=h("other"), number=office.number, name="other")
    db_session.commit()  # the savepoint kept the transaction usable
    assert repo.get_office(db_session, number=1).office_id == office.office_id
    assert repo.get_office(db_session, office_id="0x" + office.office_id.upper()).number == 1
    with pytest.raises(NotFound):
        repo.get_office(db_session, number=99)


def test_create_record_stores_record_and_pending_version_1(
    db_session: Session, office: Office
) -> None:
    revision = publish(db_session, office, "budget-2025", leaf=h("leaf-1"))
    db_session.commit()
    db_session.expunge_all()
    record = repo.get_record(db_session, record_id=revision.record_id)
    assert record.status is RecordStatus.CURRENT and record.head_version == 1
    assert record.office.number == 1 and record.revocation is None
    (v1,) = record.revisions
    assert v1.version == 1 and v1.anchor_state is AnchorState.PENDING
    assert v1.prev_leaf == ZERO32 and v1.leaf == h("leaf-1")
    assert v1.content_hash == h("content-budget-2025")
    assert v1.metadata_hash == hashlib.sha256(v1.metadata_json.encode()).hexdigest()


def test_create_record_refuses_bad_input_and_writes_nothing(
    db_session: Session, office: Office
) -> None:
    meta_json, meta_hash = metadata("x")
    base = dict(
        office=office,
        kind=RecordKind.DISCLOSURE,
        access_tier=AccessTier.PUBLIC,
        title="x",
        content_hash=h("c"),
        metadata_json=meta_json,
        metadata_hash=meta_hash,
    )
    with pytest.raises(InvalidInput, match="office"):  # id names office 2
        repo.create_record(db_session, record_id="00000002" + h("x")[8:], **base)  # type: ignore[arg-type]
    good_id = record_id_for(office, "x")
    with pytest.raises(InvalidInput, match="metadata_hash"):
        repo.create_record(db_session, record_id=good_id, **{**base, "metadata_hash": h("no")})  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="certificates"):
        repo.create_record(
            db_session,
            record_id=good_id,
            valid_until=datetime(2030, 1, 1, tzinfo=UTC),
            **base,  # type: ignore[arg-type]
        )
    db_session.commit()
    assert db_session.scalar(select(func.count()).select_from(Record)) == 0


def test_record_and_first_revision_are_created_together_or_not_at_all(
    db_session: Session, office: Office
) -> None:
    publish(db_session, office, "a", leaf=h("same-leaf"))
    db_session.commit()
    with pytest.raises(Conflict):  # the revision's leaf collides: the record must go too
        publish(db_session, office, "b", leaf=h("same-leaf"))
    db_session.commit()
    ids = db_session.scalars(select(Record.record_id)).all()
    assert ids == [record_id_for(office, "a")]


def test_certificate_keeps_its_validity_end(db_session: Session, office: Office) -> None:
    meta_json, meta_hash = metadata("licence")
    until = datetime(2030, 6, 30, 16, 0, tzinfo=UTC)
    repo.create_record(
        db_session,
        record_id=record_id_for(office, "licence"),
        office=office,
        kind=RecordKind.CERTIFICATE,
        access_tier=AccessTier.RESTRICTED,
        title="营业执照",
        content_hash=h("c"),
        metadata_json=meta_json,
        metadata_hash=meta_hash,
        valid_until=until,
    )
    db_session.commit()
    db_session.expunge_all()
    record = repo.get_record(db_session, record_id=record_id_for(office, "licence"))
    assert record.valid_until == until and record.kind is RecordKind.CERTIFICATE


def test_unknown_record_is_not_found(db_session: Session) -> None:
    with pytest.raises(NotFound):
        repo.get_record(db_session, record_id=h("nope"))
    with pytest.raises(NotFound):
        revise(db_session, h("nope"), 2, "v2")


# -- revisions ---------------------------------------------------------------------------


def test_add_revision_appends_the_next_version_and_moves_the_head(
    db_session: Session, office: Office
) -> None:
    rid = publish(db_session, office, "doc", leaf=h("leaf-1")).record_id
    db_session.commit()
    v2 = revise(db_session, rid, 2, "doc v2", change_note="fix table 3")
    db_session.commit()
    assert v2.prev_leaf == h("leaf-1")  # taken from version 1
    record = repo.get_record(db_session, record_id=rid)
    assert record.head_version == 2 and record.title == "doc v2"
    assert [r.version for r in record.revisions] == [1, 2]
    assert repo.get_revision(db_session, record_id=rid, version=2).change_note == "fix table 3"


@pytest.mark.parametrize("version", [1, 3, 0])
def test_add_revision_refuses_a_version_that_is_not_next(
    db_session: Session, office: Office, version: int
) -> None:
    rid = publish(db_session, office, "doc").record_id
    db_session.commit()
    with pytest.raises(Conflict, match="expected version 2"):
        revise(db_session, rid, version, "other")


def test_add_revision_refuses_content_identical_to_the_head(
    db_session: Session, office: Office
) -> None:
    rid = publish(db_session, office, "doc").record_id
    db_session.commit()
    with pytest.raises(Conflict, match="identical"):
        revise(db_session, rid, 2, "doc")  # same content and metadata as version 1


def test_add_revision_refuses_a_prev_leaf_that_is_not_the_heads(
    db_session: Session, office: Office
) -> None:
    rid = publish(db_session, office, "doc", leaf=h("leaf-1")).record_id
    db_session.commit()
    with pytest.raises(Conflict, match="prev_leaf"):
        revise(db_session, rid, 2, "v2", prev_leaf=h("wrong"))


def test_revoked_record_cannot_be_revised_or_revoked_again(
    db_session: Session, office: Office
) -> None:
    rid = publish(db_session, office, "doc").record_id
    revocation = repo.record_revocation(db_session, record_id=rid, reason="数据有误，已撤回")
    db_session.commit()
    assert revocation.reason_hash == hashlib.sha256("数据有误，已撤回".encode()).hexdigest()
    assert revocation.anchor_state is AnchorState.PENDING
    record = repo.get_record(db_session, record_id=rid)
    assert record.status is RecordStatus.REVOKED and record.revocation is not None
    with pytest.raises(Conflict, match="revoked"):
        revise(db_session, rid, 2, "v2")
    with pytest.raises(Conflict):
        repo.record_revocation(db_session, record_id=rid, reason="again")
    with pytest.raises(InvalidInput):
        repo.record_revocation(db_session, record_id=rid, reason="   ")


def test_replacement_links_records_of_one_office_only(db_session: Session, office: Office) -> None:
    old = publish(db_session, office, "old").record_id
    new = publish(db_session, office, "new").record_id
    other_office = make_office(db_session, number=2, name="其他局")
    foreign = publish(db_session, other_office, "foreign").record_id
    db_session.commit()
    with pytest.raises(Conflict, match="same office"):
        repo.record_replacement(db_session, record_id=old, by_record_id=foreign)
    repo.record_replacement(db_session, record_id=old, by_record_id=new)
    db_session.commit()
    record = repo.get_record(db_session, record_id=old)
    assert record.status is RecordStatus.REPLACED and record.replaced_by == new
    with pytest.raises(Conflict):
        revise(db_session, old, 2, "old v2")


def test_the_unique_constraint_backs_the_version_order(db_session: Session, office: Office) -> None:
    v1 = publish(db_session, office, "doc")
    db_session.commit()
    meta_json, meta_hash = metadata("dup")
    db_session.add(
        Revision(
            record_id=v1.record_id,
            version=1,
            content_hash=h("dup"),
            metadata_json=meta_json,
            metadata_hash=meta_hash,
        )
    )
    with pytest.raises(IntegrityError):
        db_session.flush()


def test_racing_version_2_exactly_one_wins_while_the_other_waits(
    db_session_factory: sessionmaker[Session],
) -> None:
    with unit_of_work(db_session_factory) as s:
        rid = publish(s, make_office(s), "doc").record_id
    first_added, release = threading.Event(), threading.Event()
    results: dict[str, str] = {}

    def first() -> None:
        with unit_of_work(db_session_factory) as s:
            revise(s, rid, 2, "from A")
            first_added.set()
            assert release.wait(20)
        results["a"] = "ok"

    def second() -> None:
        assert first_added.wait(20)
        try:
            with unit_of_work(db_session_factory) as s:
                revise(s, rid, 2, "from B")
            results["b"] = "ok"
        except Conflict:
            results["b"] = "conflict"

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    assert first_added.wait(20)
    threads[1].join(0.5)
    assert "b" not in results  # B is blocked by A's lock, not racing past it
    release.set()
    for t in threads:
        t.join(30)
    assert results == {"a": "ok", "b": "conflict"}
    with unit_of_work(db_session_factory) as s:
        record = repo.get_record(s, record_id=rid)
        assert [(r.version, r.content_hash) for r in record.revisions] == [
            (1, h("content-doc")),
            (2, h("content-from A")),
        ]


def test_many_concurrent_writers_of_one_version_yield_one_revision(
    db_session_factory: sessionmaker[Session],
) -> None:
    with unit_of_work(db_session_factory) as s:
        rid = publish(s, make_office(s), "doc").record_id
    n = 8
    barrier = threading.Barrier(n)
    outcomes: list[str] = []
    lock = threading.Lock()

    def writer(i: int) -> None:
        barrier.wait(20)
        try:
            with unit_of_work(db_session_factory) as s:
                revise(s, rid, 2, f"writer {i}")
            outcome = "ok"
        except Conflict:
            outcome = "conflict"
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(outcomes) == ["conflict"] * (n - 1) + ["ok"]
    with unit_of_work(db_session_factory) as s:
        assert s.scalar(select(func.count()).select_from(Revision)) == 2
        assert repo.get_record(s, record_id=rid).head_version == 2


# -- the anchoring worker ----------------------------------------------------------------


def _queue(session: Session, office: Office, n: int) -> list[Revision]:
    revisions = [publish(session, office, f"doc-{i}") for i in range(n)]
    session.flush()
    return revisions


def test_worker_cycle_pending_sending_anchored(db_session: Session, office: Office) -> None:
    queued = _queue(db_session, office, 3)
    db_session.commit()
    pending = repo.pending_revisions(db_session, limit=10)
    assert [r.id for r in pending] == [r.id for r in queued]  # oldest first
    assert pending[0].record.kind is RecordKind.DISCLOSURE  # loaded for the worker
    ids = [r.id for r in pending]
    tx = repo.mark_sending(
        db_session,
        revision_ids=ids,
        tx_hash=b"\x01" * 32,
        raw_tx="0x" + "ab" * 120,
        nonce=7,
        signer="0x" + "Ab" * 20,
        mode=AnchorMode.MANY,
    )
    db_session.commit()
    assert tx.state is TxState.SIGNED and tx.raw_tx == "ab" * 120 and tx.signer == "0x" + "ab" * 20
    assert repo.pending_revisions(db_session) == []
    assert [t.tx_hash for t in repo.unconfirmed_txs(db_session)] == ["01" * 32]
    repo.mark_tx_sent(db_session, tx_hash="01" * 32)
    repo.mark_anchored(
        db_session,
        tx_hash="01" * 32,
        block_number=42,
        revisions=[
            repo.AnchoredRevision(revision_id=rid, leaf=h(f"leaf-{rid}"), log_index=i)
            for i, rid in enumerate(ids)
        ],
    )
    db_session.commit()
    db_session.expunge_all()
    rows = db_session.scalars(select(Revision).order_by(Revision.id)).all()
    assert {r.anchor_state for r in rows} == {AnchorState.ANCHORED}
    assert [r.log_index for r in rows] == [0, 1, 2] and rows[0].block_number == 42
    assert rows[0].anchor_mode is AnchorMode.MANY and rows[0].anchored_at is not None
    assert db_session.scalars(select(AnchorTx)).one().state is TxState.CONFIRMED
    assert repo.unconfirmed_txs(db_session) == []


def test_batch_anchor_records_root_and_proof(db_session: Session, office: Office) -> None:
    (rev,) = _queue(db_session, office, 1)
    db_session.commit()
    root = h("root")
    repo.mark_sending(
        db_session,
        revision_ids=[rev.id],
        tx_hash=h("tx"),
        raw_tx=b"\x02\xf8",
        nonce=0,
        signer="0x" + "11" * 20,
        mode=AnchorMode.BATCH,
        batch_root=root,
    )
    proof = ["0x" + h("sibling-1"), bytes.fromhex(h("sibling-2"))]
    repo.mark_anchored(
        db_session,
        tx_hash=h("tx"),
        block_number=9,
        batch_root=root,
        revisions=[repo.AnchoredRevision(revision_id=rev.id, leaf=h("leaf"), merkle_proof=proof)],
    )
    rev_id = rev.id
    db_session.commit()
    db_session.expunge_all()
    got = db_session.get(Revision, rev_id)
    assert got is not None
    assert got.batch_root == root and got.merkle_proof == [h("sibling-1"), h("sibling-2")]


def test_anchoring_twice_is_idempotent_but_another_tx_is_a_conflict(
    db_session: Session, office: Office
) -> None:
    (rev,) = _queue(db_session, office, 1)
    db_session.commit()
    anchored = [repo.AnchoredRevision(revision_id=rev.id, leaf=h("leaf"), log_index=0)]
    repo.mark_anchored(db_session, tx_hash=h("tx1"), block_number=5, revisions=anchored)
    repo.mark_anchored(db_session, tx_hash=h("tx1"), block_number=5, revisions=anchored)
    db_session.commit()
    with pytest.raises(Conflict, match="anchored already"):
        repo.mark_anchored(db_session, tx_hash=h("tx2"), block_number=6, revisions=anchored)
    with pytest.raises(Conflict, match="leaf"):
        repo.mark_anchored(
            db_session,
            tx_hash=h("tx1"),
            block_number=5,
            revisions=[repo.AnchoredRevision(revision_id=rev.id, leaf=h("other"))],
        )
    with pytest.raises(Conflict, match="already anchored"):
        repo.mark_sending(
            db_session,
            revision_ids=[rev.id],
            tx_hash=h("tx3"),
            raw_tx="00",
            nonce=1,
            signer="0x" + "11" * 20,
            mode=AnchorMode.DIRECT,
        )
    with pytest.raises(NotFound):
        repo.mark_anchored(
            db_session,
            tx_hash=h("tx1"),
            block_number=5,
            revisions=[repo.AnchoredRevision(revision_id=10**9, leaf=h("x"))],
        )


def test_failed_revisions_keep_the_reason_and_can_be_picked_again(
    db_session: Session, office: Office
) -> None:
    (rev,) = _queue(db_session, office, 1)
    db_session.commit()
    repo.mark_sending(
        db_session,
        revision_ids=[rev.id],
        tx_hash=h("tx"),
        raw_tx="00",
        nonce=0,
        signer="0x" + "11" * 20,
        mode=AnchorMode.DIRECT,
    )
    repo.mark_failed(db_session, revision_ids=[rev.id], error="VersionOutOfOrder", tx_hash=h("tx"))
    db_session.commit()
    assert repo.pending_revisions(db_session) == []
    (failed,) = repo.pending_revisions(db_session, states=[AnchorState.FAILED])
    assert failed.anchor_error == "VersionOutOfOrder"
    assert db_session.scalars(select(AnchorTx)).one().state is TxState.FAILED


def test_two_workers_never_take_the_same_revisions(
    db_url: str, db_session_factory: sessionmaker[Session]
) -> None:
    """PostgreSQL: SKIP LOCKED hands the second worker other rows. SQLite: one writer, so
    the second worker cannot even start while the first holds its transaction."""
    with unit_of_work(db_session_factory) as s:
        office = make_office(s)
        _queue(s, office, 4)
    impatient = make_engine(db_url, busy_timeout_ms=200)
    try:
        with unit_of_work(db_session_factory) as first:
            taken = {r.id for r in repo.pending_revisions(first, limit=2)}
            assert len(taken) == 2
            if db_url.startswith("sqlite"):
                with (
                    pytest.raises(DatabaseUnavailable),
                    unit_of_work(session_factory(impatient)) as second,
                ):
                    repo.pending_revisions(second)
            else:
                with unit_of_work(session_factory(impatient)) as second:
                    other = {r.id for r in repo.pending_revisions(second, limit=10)}
                    assert len(other) == 2 and not other & taken
    finally:
        impatient.dispose()


def test_readers_are_not_blocked_by_the_writer(
    db_url: str, db_session_factory: sessionmaker[Session]
) -> None:
    with unit_of_work(db_session_factory) as s:
        rid = publish(s, make_office(s), "doc").record_id
    impatient = make_engine(db_url, busy_timeout_ms=200)
    try:
        with unit_of_work(db_session_factory) as writer:
            revise(writer, rid, 2, "v2")
            writer.flush()
            reader_factory = session_factory(impatient, read_only=True)
            with unit_of_work(reader_factory) as reader:
                assert repo.get_record(reader, record_id=rid).head_version == 1
    finally:
        impatient.dispose()


# -- search ------------------------------------------------------------------------------


def test_search_filters_by_office_category_dates_title_and_tier(
    db_session: Session, office: Office
) -> None:
    other = make_office(db_session, number=2, name="其他局")
    publish(db_session, office, "a", title="2024年度部门预算", published_on=date(2024, 2, 1))
    publish(db_session, office, "b", title="2025年度部门预算", published_on=date(2025, 2, 1))
    publish(db_session, office, "c", title="政务服务指南", category="guide")
    publish(db_session, office, "d", title="内部预算草案", tier=AccessTier.INTERNAL)
    publish(db_session, other, "e", title="2025年度部门预算", published_on=date(2025, 2, 2))
    db_session.commit()

    def titles(**kw: object) -> list[str]:
        return [r.title for r in repo.search_records(db_session, **kw)]  # type: ignore[arg-type]

    assert titles(office_pk=office.id, title="预算", access_tiers=[AccessTier.PUBLIC]) == [
        "2025年度部门预算",
        "2024年度部门预算",
    ]
    assert titles(category="guide") == ["政务服务指南"]
    assert titles(published_from=date(2025, 1, 1), published_to=date(2025, 2, 1)) == [
        "2025年度部门预算"
    ]
    assert titles(office_pk=other.id) == ["2025年度部门预算"]
    assert len(titles(limit=2)) == 2 and len(titles(limit=2, offset=4)) == 1
    with pytest.raises(InvalidInput):
        repo.search_records(db_session, limit=0)


@pytest.mark.parametrize(
    "needle",
    ["%", "_", "\\", "/", "'", "100%_done", "'; DROP TABLE records; --", "a' OR '1'='1"],
)
def test_search_treats_sql_metacharacters_literally(
    db_session: Session, office: Office, needle: str
) -> None:
    publish(db_session, office, "plain", title="plain title")
    publish(db_session, office, "special", title=f"x{needle}y")
    db_session.commit()
    assert [r.title for r in repo.search_records(db_session, title=needle)] == [f"x{needle}y"]
    assert db_session.scalar(select(func.count()).select_from(Record)) == 2


# -- blobs and the access log ------------------------------------------------------------


def test_add_blob_is_idempotent(db_session: Session) -> None:
    first = repo.add_blob(db_session, sha256=h("f"), size=10, path="ab/cd/x", media_type="a/b")
    again = repo.add_blob(db_session, sha256="0x" + h("f"), size=10, path="ab/cd/x")
    assert first is again
    with pytest.raises(Conflict):
        repo.add_blob(db_session, sha256=h("f"), size=11, path="ab/cd/x")


def _log_entry(office: Office, seq: int, prev: str, label: str) -> AccessLogEntry:
    return AccessLogEntry(
        office_pk=office.id,
        seq=seq,
        at=datetime(2025, 1, 1, tzinfo=UTC),
        action="record.get",
        outcome="200",
        prev_hash=prev,
        entry_hash=h(label),
    )


def test_access_log_cannot_fork_or_be_edited_through_the_orm(
    db_session: Session, office: Office
) -> None:
    first = _log_entry(office, 1, ZERO32, "e1")
    db_session.add_all([first, _log_entry(office, 2, h("e1"), "e2")])
    db_session.commit()
    db_session.add(_log_entry(office, 3, h("e1"), "fork"))  # a second successor of e1
    with pytest.raises(IntegrityError):
        db_session.flush()
    db_session.rollback()
    first.outcome = "403"
    with pytest.raises(Conflict, match="append-only"):
        db_session.flush()
    db_session.rollback()
    db_session.delete(first)
    with pytest.raises(Conflict, match="append-only"):
        db_session.flush()


def test_unit_of_work_commits_or_rolls_back(db_session_factory: sessionmaker[Session]) -> None:
    with pytest.raises(RuntimeError), unit_of_work(db_session_factory) as s:
        make_office(s)
        raise RuntimeError("boom")
    with unit_of_work(db_session_factory) as s:
        assert s.scalar(select(func.count()).select_from(Office)) == 0
        make_office(s)
    with unit_of_work(db_session_factory) as s:
        assert s.scalar(select(func.count()).select_from(Office)) == 1


def test_unreachable_database_is_unavailable() -> None:
    engine = make_engine("postgresql://postgres@127.0.0.1:1/none")
    try:
        with pytest.raises(DatabaseUnavailable), unit_of_work(session_factory(engine)) as s:
            s.execute(text("SELECT 1"))
    finally:
        engine.dispose()


def test_unknown_enum_values_are_invalid_input(db_session: Session, office: Office) -> None:
    meta_json, meta_hash = metadata("x")
    with pytest.raises(InvalidInput, match="RecordKind"):
        repo.create_record(
            db_session,
            record_id=record_id_for(office, "x"),
            office=office,
            kind="leaflet",  # type: ignore[arg-type]
            access_tier=AccessTier.PUBLIC,
            title="x",
            content_hash=h("c"),
            metadata_json=meta_json,
            metadata_hash=meta_hash,
        )
    with pytest.raises(InvalidInput, match="AccessTier"):
        repo.search_records(db_session, access_tiers=["secret"])  # type: ignore[list-item]
