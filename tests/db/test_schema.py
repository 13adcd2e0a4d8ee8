"""The schema on real SQLite and PostgreSQL: migrations, constraints, types, sessions.

Every test that takes `db_url`/`db_engine`/`db_session*` runs once per database.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, func, inspect, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from support.db_rows import h, make_office, metadata, record_id_for

from notary.db import repo
from notary.db.migrate import current_revision, downgrade, head_revision, upgrade
from notary.db.models import (
    ApiKey,
    Base,
    Office,
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
    KeyRole,
    RecordKind,
    hex32,
)
from notary.errors import InvalidInput


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
