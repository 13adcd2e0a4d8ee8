"""Engines and sessions for SQLite (embedded default) and PostgreSQL (production).

SQLite rules, applied to every new connection:

- `journal_mode=WAL` (readers never block the writer, nor the writer readers),
  `synchronous=FULL`, `foreign_keys=ON`, and a `busy_timeout` so a second writer waits
  instead of failing at once. FULL, not the usual WAL companion NORMAL: under NORMAL a
  commit only reaches the OS, and a power cut can roll back transactions whose answer
  already went out: a publish acknowledged with 201 (its file fsynced) that the worker
  never anchors, against invariant 1. FULL syncs the WAL at each commit; the group commit
  (`api/services/publish_writer.py`) shares that sync among the publishes of a batch.
- **One writer.** Transactions open with `BEGIN IMMEDIATE`, which takes SQLite's write
  lock up front; a second writer (thread or process — the API and the worker share the
  file) waits up to `busy_timeout` for it. Without it a transaction that reads first and
  writes later can fail with `SQLITE_BUSY` mid-way, which no timeout cures. Read-only work
  can use `session_factory(engine, read_only=True)`, whose plain `BEGIN` takes no lock.
- **Writers of one process queue on a lock** before `BEGIN IMMEDIATE`, released when the
  transaction ends. SQLite's own busy handler polls with sleeps of up to 100 ms, so under
  16 concurrent writers the lock sat idle between them and a request could wait seconds; a
  thread lock hands it over at once. Other processes still meet the busy handler.

PostgreSQL: `postgresql://` URLs are sent through psycopg 3 (`postgresql+psycopg://`);
concurrency control is row locks (`SELECT … FOR UPDATE [SKIP LOCKED]`) in the data layer.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from notary.errors import InvalidInput, Unavailable
from notary.storage.atomic import make_dirs
from notary.storage.private_files import private_sqlite_file

DEFAULT_BUSY_TIMEOUT_MS = 30_000
SQLITE_POOL_SIZE = 40
DEFAULT_POOL_SIZE = 20
"""PostgreSQL connections per engine by default: more than the benchmark's 16 concurrent
clients, and four API processes plus the worker stay under PostgreSQL's default 100."""
_READ_ONLY = "notary_read_only"
READ_ONLY = {_READ_ONLY: True}
"""Execution options for a read-only transaction in an ordinary session:
`session.connection(execution_options=READ_ONLY)` before its first query (SQLite: no lock)."""


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
    url: str | URL,
    *,
    busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS,
    pool_timeout_s: float = 30.0,
    pool_size: int = DEFAULT_POOL_SIZE,
    echo: bool = False,
) -> Engine:
    """An engine for `url` with the connection rules in the module docstring.

    `pool_timeout_s`: how long a checkout waits for a free pooled connection (then
    `sqlalchemy.exc.TimeoutError`). `pool_size`: PostgreSQL connections at most, kept open
    once made (no overflow: a bound the server's `max_connections` can be planned
    against); SQLite has one per API thread instead. A SQLite file's folder is created if
    missing (0700), the file itself 0600, and an existing one (with its `-wal`/`-shm`) is
    tightened to owner-only (see `notary.storage.private_files`).
    """
    parsed = normalise_url(url)
    if parsed.get_backend_name() == "sqlite":
        if _is_sqlite_file(parsed):
            make_dirs(Path(parsed.database).parent)  # type: ignore[arg-type]
            # Created 0600 before SQLite opens it: its -wal and -shm copy the file's mode.
            private_sqlite_file(parsed.database)  # type: ignore[arg-type]
        writer = _writer_connection(threading.Lock(), busy_timeout_ms / 1000)
        engine = create_engine(
            parsed,
            echo=echo,
            # As many connections as the API's thread pool has threads (AnyIO's default
            # 40): past the pool, each request would open a connection and run the PRAGMAs.
            pool_size=SQLITE_POOL_SIZE,
            max_overflow=0,
            pool_timeout=pool_timeout_s,
            # Most recently used first: each connection has its own page cache, and cycling
            # through 40 of them re-read every page (one publish cost 1.65 → 1.07 ms CPU).
            pool_use_lifo=True,
            connect_args={
                "timeout": busy_timeout_ms / 1000,
                "check_same_thread": False,
                "factory": writer,
            },
        )
        _install_sqlite_rules(engine, busy_timeout_ms)
        return engine
    return create_engine(
        parsed,
        echo=echo,
        pool_pre_ping=True,
        pool_size=pool_size,
        max_overflow=0,
        pool_timeout=pool_timeout_s,
    )


def _is_sqlite_file(parsed: URL) -> bool:
    """Whether a SQLite URL names a plain file (not memory, not a `file:` URI)."""
    if not parsed.database or parsed.database == ":memory:" or "mode=memory" in str(parsed):
        return False
    return not parsed.query.get("uri")


def _writer_connection(lock: threading.Lock, timeout_s: float) -> type[sqlite3.Connection]:
    """A `sqlite3.Connection` class whose write transactions hold `lock` (one per engine).

    `begin_write` takes the lock and opens `BEGIN IMMEDIATE`; the lock is released once the
    transaction has ended: after COMMIT or ROLLBACK (also the pool's reset on return), or
    when the connection closes.
    """

    class WriterConnection(sqlite3.Connection):
        holds_lock = False

        def begin_write(self) -> None:
            if not lock.acquire(timeout=timeout_s):
                raise sqlite3.OperationalError("database is locked (writers queued too long)")
            self.holds_lock = True
            try:
                self.execute("BEGIN IMMEDIATE")
            except BaseException:
                self._release()
                raise

        def _release(self) -> None:
            if self.holds_lock:
                self.holds_lock = False
                lock.release()

        def _ending(self, end: Callable[[], None]) -> None:
            try:
                end()
            finally:
                if not self.in_transaction:
                    self._release()

        def commit(self) -> None:
            self._ending(super().commit)

        def rollback(self) -> None:
            self._ending(super().rollback)

        def close(self) -> None:
            try:
                super().close()
            finally:
                self._release()

    return WriterConnection


def _ensure_wal(cur: Any, busy_timeout_ms: int) -> None:
    """Put the file in WAL mode (persistent: only a new file needs the switch).

    The switch needs the file to itself and SQLite answers "database is locked" at once,
    without its busy handler, when another connection holds a lock (two processes opening
    a new database together), so it is retried until the busy timeout.
    """
    deadline = time.monotonic() + busy_timeout_ms / 1000
    while True:
        if str(cur.execute("PRAGMA journal_mode").fetchone()[0]).lower() == "wal":
            return
        try:
            cur.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def _install_sqlite_rules(engine: Engine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, record: Any) -> None:
        # Take transaction control away from the sqlite3 module: we emit BEGIN ourselves.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        try:
            cur.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            _ensure_wal(cur, busy_timeout_ms)
            cur.execute("PRAGMA synchronous = FULL")
            cur.execute("PRAGMA foreign_keys = ON")
        finally:
            cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        if conn.get_execution_options().get(_READ_ONLY, False):
            conn.exec_driver_sql("BEGIN")
        else:
            try:
                conn.connection.dbapi_connection.begin_write()
            except sqlite3.OperationalError as exc:  # as SQLAlchemy would have wrapped it
                raise OperationalError("BEGIN IMMEDIATE", None, exc) from exc


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
