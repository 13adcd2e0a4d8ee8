"""Access-log bookkeeping shared by the record-facing routers."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import select
from sqlalchemy.orm import Session

from api import accesslog
from api.deps import Caller
from api.errors import status_for
from notary.db.models import Office
from notary.errors import NotaryError
from notary.revision import office_number_of, parse_bytes32


def log_ok(session: Session, caller: Caller, action: str, office_pk: int, record_id: str) -> None:
    """Append a success entry in the request's own transaction."""
    accesslog.append(
        session,
        office_pk=office_pk,
        key_id=caller.key_id,
        action=action,
        record_id=record_id,
        outcome="ok",
    )


def _office_of(session: Session, record_id: str) -> tuple[int, str] | None:
    try:
        rid = parse_bytes32(record_id, "record id")
    except NotaryError:
        return None
    office_pk = session.scalar(select(Office.id).where(Office.number == office_number_of(rid)))
    return (office_pk, rid.hex()) if office_pk is not None else None


def log_by_id(session: Session, caller: Caller, action: str, record_id: str, outcome: str) -> None:
    """Append an entry for a record named by id (its office from the id) and commit; nothing
    for an id of no office here."""
    found = _office_of(session, record_id)
    if found is not None:
        accesslog.append(
            session,
            office_pk=found[0],
            key_id=caller.key_id,
            action=action,
            record_id=found[1],
            outcome=outcome,
        )
        session.commit()


@contextmanager
def logged(session: Session, caller: Caller, action: str, record_id: str | None) -> Iterator[None]:
    """On a client error about a record, roll back and log the refusal in a new transaction."""
    try:
        yield
    except NotaryError as exc:
        session.rollback()
        if record_id is not None:
            log_by_id(session, caller, action, record_id, str(status_for(exc)))
        raise
