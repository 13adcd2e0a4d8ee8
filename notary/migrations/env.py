"""Alembic environment for the notary schema (SQLite and PostgreSQL).

Run programmatically through `notary.db.migrate.upgrade(url)`, which hands over an open
connection in `config.attributes["connection"]`. From the command line (to write a new
revision): `alembic -c notary/migrations/alembic.ini -x url=sqlite:///dev.db revision
--autogenerate -m "…"`; the URL can also come from `NOTARY_DATABASE_URL`.
"""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import Connection

from notary.db.models import Base
from notary.db.session import make_engine

config = context.config
target_metadata = Base.metadata


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite ALTERs via copy
        compare_type=True,
    )


def run_migrations_online() -> None:
    """Run against the connection given by the caller, or one made from the URL."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    url = context.get_x_argument(as_dictionary=True).get("url") or os.environ.get(
        "NOTARY_DATABASE_URL"
    )
    if not url:
        raise SystemExit("give the database with -x url=… or NOTARY_DATABASE_URL")
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            _configure(conn)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) mode is not supported; run against a database")
run_migrations_online()
