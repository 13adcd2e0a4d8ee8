"""Engines and sessions for SQLite (embedded default) and PostgreSQL (production).

SQLite rules, applied to every new connection:

- `journal_mode=WAL` (readers never block the writer, nor the writer readers),
  `synchronous=NORMAL` (durable at each checkpoint, safe with WAL), `foreign_keys=ON`, and a
  `busy_timeout` so a second writer waits instead of failing at once.
- **One writer.** Transactions open with `BEGIN IMMEDIATE`, which takes SQLite's write
  lock up front; a second writer (thread or process — the API and the worker share the
  file) waits up to `busy_timeout` for it. Without it a transaction that reads first and
  writes later can fail with `SQLITE_BUSY` mid-way, which no timeout cures. Read-only work
  can use `session_factory(engine, read_only=True)`, whose plain `BEGIN` takes no lock.

PostgreSQL: `postgresql://` URLs are sent through psycopg 3 (`postgresql+psycopg://`);
concurrency control is row locks (`SELECT … FOR UPDATE [SKIP LOCKED]`) in the data layer.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from notary.errors import InvalidInput, Unavailable

DEFAULT_BUSY_TIMEOUT_MS = 30_000
_READ_ONLY = "notary_read_only"


class DatabaseUnavailable(Unavailable):
    """The database cannot be reached or stayed locked too long; retry later."""


def normalise_url(url: str | URL) -> URL:
    """Parse a database URL, sending bare `postgresql://` through psycopg 3."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise InvalidInput(f"not a database URL: {url!r}") from exc
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise InvalidInput(f"unsupported database {parsed.get_backend_name()!r}")
    return parsed


def make_engine(
    url: str | URL, *, busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS, echo: bool = False
) -> Engine:
    """An engine for `url` with the connection rules in the module docstring.

    A SQLite file's folder is created if missing.
    """
    parsed = normalise_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:" and "mode=memory" not in str(parsed):
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            parsed,
            echo=echo,
            connect_args={"timeout": busy_timeout_ms / 1000, "check_same_thread": False},
        )
        _install_sqlite_rules(engine, busy_timeout_ms)
        return engine
    return create_engine(parsed, echo=echo, pool_pre_ping=True)


def _install_sqlite_rules(engine: Engine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, record: Any) -> None:
        # Take transaction control away from the sqlite3 module: we emit BEGIN ourselves.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        try:
            cur.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            cur.execute("PRAGMA journal_mode = WAL")
            cur.execute("PRAGMA synchronous = NORMAL")
            cur.execute("PRAGMA foreign_keys = ON")
        finally:
            cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        read_only = conn.get_execution_options().get(_READ_ONLY, False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def session_factory(engine: Engine, *, read_only: bool = False) -> sessionmaker[Session]:
    """A session factory bound to `engine` (objects stay readable after commit).

    `read_only=True` opens SQLite transactions without the write lock (plain `BEGIN`);
    writing in such a session may fail with "database is locked" under contention. It
    changes nothing on PostgreSQL.
    """
    bind = engine.execution_options(**{_READ_ONLY: True}) if read_only else engine
    return sessionmaker(bind=bind, expire_on_commit=False)


@contextmanager
def unit_of_work(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One transaction: commit when the block ends, roll back if it raises.

    Operational failures (server gone, lock wait timed out, PostgreSQL deadlock or
    serialisation failure) surface as `DatabaseUnavailable`, which callers may retry.
    """
    session = factory()
    try:
        with session.begin():
            yield session
    except OperationalError as exc:
        raise DatabaseUnavailable(f"database unavailable: {exc.orig}") from exc
    finally:
        session.close()
