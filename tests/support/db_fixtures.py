"""Database and blob-store fixtures, imported by `conftest.py`.

`db_url` is parametrised over ["sqlite", "postgresql"] and yields the URL of a migrated
database with empty tables, so every test that uses it (or `db_engine`,
`db_session_factory`, `db_session`) runs once per database and sees only its own rows:

- SQLite: a copy of a session-wide migrated template file, in the test's tmp_path.
- PostgreSQL: a database of this test session's own, `notary_test_<random>`, created and
  migrated once (so suites sharing the server, database `test` at 127.0.0.1:5432, never see
  each other's rows) and dropped at the end. Before each test, connections left over by
  the previous test are terminated, every table but `alembic_version` is emptied and the
  sequences restart (about 30 ms; CREATE DATABASE per test costs a second here).
  Do not change the schema in a test that uses it. `NOTARY_TEST_PG_URL` names another
  server (any database on it that the user can connect to, for CREATE DATABASE).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

from notary.db.migrate import upgrade
from notary.db.session import make_engine, session_factory
from notary.storage.blobstore import BlobStore

PG_ADMIN_URL = os.environ.get(
    "NOTARY_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
DATABASES = ["sqlite", "postgresql"]


def pg_execute(sql: str) -> None:
    """Run one statement outside a transaction on the admin connection (CREATE/DROP DATABASE)."""
    engine = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql(sql)
    finally:
        engine.dispose()


def pg_url(database: str) -> str:
    """The admin URL pointed at another database."""
    return make_url(PG_ADMIN_URL).set(database=database).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite database file that `db_url` copies for each test."""
    built = tmp_path_factory.mktemp("db-template") / "built.sqlite3"
    upgrade(f"sqlite:///{built}")
    template = built.with_name("template.sqlite3")
    with sqlite3.connect(built) as src, sqlite3.connect(template) as dst:
        src.backup(dst)  # one self-contained file: nothing left behind in a -wal
    return template


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """Name of this test session's migrated PostgreSQL database (dropped at the end)."""
    name = f"notary_test_{uuid.uuid4().hex[:12]}"
    try:
        pg_execute(f'CREATE DATABASE "{name}"')
    except OperationalError as exc:
        pytest.fail(
            f"PostgreSQL is not reachable ({exc.orig}); start it with `make postgres`",
            pytrace=False,
        )
    try:
        upgrade(pg_url(name))
        yield name
    finally:
        pg_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def pg_reset(url: str) -> None:
    """Empty every table but `alembic_version` and restart the sequences."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            conn.exec_driver_sql("SET LOCAL lock_timeout = '10s'")
            conn.exec_driver_sql("SET LOCAL session_replication_role = replica")  # no FK order
            tables = conn.exec_driver_sql(
                "SELECT quote_ident(tablename) FROM pg_tables "
                "WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
            ).scalars()
            for table in list(tables):
                conn.exec_driver_sql(f"DELETE FROM {table}")
            conn.exec_driver_sql(
                "SELECT setval(quote_ident(schemaname) || '.' || quote_ident(sequencename), "
                "1, false) FROM pg_sequences WHERE schemaname = 'public'"
            )
    finally:
        engine.dispose()


@pytest.fixture(params=DATABASES)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """URL of a migrated database with empty tables: once on SQLite, once on PostgreSQL."""
    if request.param == "sqlite":
        path = tmp_path / "notary.sqlite3"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    url = pg_url(request.getfixturevalue("pg_database"))
    pg_reset(url)
    yield url


@pytest.fixture(params=DATABASES)
def empty_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """URL of a brand-new database with no tables at all (to test migrations themselves).

    PostgreSQL: a throwaway `notary_test_<random>` database, dropped after the test (about
    a second each, so use `db_url` unless the schema itself is under test).
    """
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.sqlite3'}"
        return
    request.getfixturevalue("pg_database")  # fails early, with advice, if the server is down
    name = f"notary_test_{uuid.uuid4().hex[:12]}"
    pg_execute(f'CREATE DATABASE "{name}"')
    try:
        yield pg_url(name)
    finally:
        pg_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def db_engine(db_url: str) -> Iterator[Engine]:
    """An engine (`notary.db.session.make_engine`) on the test's fresh database."""
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def db_session_factory(db_engine: Engine) -> sessionmaker[Session]:
    """A session factory on the test's fresh database (use it with `unit_of_work`)."""
    return session_factory(db_engine)


@pytest.fixture
def db_session(db_session_factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session on the test's fresh database; commit as needed, it is closed afterwards."""
    session = db_session_factory()
    yield session
    session.rollback()
    session.close()


@pytest.fixture
def blob_store(tmp_path: Path) -> BlobStore:
    """An empty content-addressed blob store under the test's temp directory."""
    return BlobStore(tmp_path / "blobs")
