"""The API's handle on the database: engine, sessions, migrations on start."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session, sessionmaker

from api.core.settings import Settings
from notary.errors import Unavailable
from notary.storage.private_files import private_dir

IDEMPOTENCY_TTL_INFO = "notary_idempotency_ttl"
"""`Session.info` key of how long idempotency keys are remembered (a `timedelta`)."""


class Database:
    """Engine and session factory for one app; `start()` migrates and bootstraps."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.engine: Engine | None = None
        self._sessions: sessionmaker[Session] | None = None
        self.session_info: dict[str, object] = {}
        """More `Session.info` entries every session gets (set before `start`)."""

    def start(self) -> None:
        """Create (or tighten to 0700) the data dirs, run migrations, open the engine, ensure
        the admin key."""
        from api.core import bootstrap
        from notary.db import migrate, session

        private_dir(self.settings.data_dir)
        private_dir(self.settings.blobs)
        if self.settings.run_migrations:
            migrate.upgrade(self.settings.db_url)
        self.engine = session.make_engine(
            self.settings.db_url,
            pool_timeout_s=self.settings.db_wait_seconds,
            pool_size=self.settings.db_pool_size,
        )
        self._sessions = session.session_factory(self.engine)
        self._sessions.configure(
            info={IDEMPOTENCY_TTL_INFO: self.settings.idempotency_ttl, **self.session_info}
        )
        with self.session() as s:
            bootstrap.ensure_admin_key(s, self.settings)
            s.commit()

    def close(self) -> None:
        """Dispose of the engine's connections."""
        if self.engine is not None:
            self.engine.dispose()
            self.engine = None

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session; rolled back on error, closed always (commits are explicit)."""
        if self._sessions is None:
            raise Unavailable("database not started")
        s = self._sessions()
        try:
            yield s
        except OperationalError as exc:
            s.rollback()
            raise Unavailable(f"database unavailable: {exc.orig}") from exc
        except PoolTimeout as exc:  # every pooled connection busy for the pool's timeout
            s.rollback()
            raise Unavailable("database busy: no connection came free in time") from exc
        except BaseException:
            s.rollback()
            raise
        finally:
            s.close()
