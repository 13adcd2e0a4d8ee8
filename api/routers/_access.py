"""Access-log bookkeeping shared by the record-facing routers."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from api.core.deps import Caller
from api.core.errors import status_for
from notary.db.models import Record
from notary.errors import NotaryError
from notary.formats.revision import parse_bytes32
from notary.publishing import accesslog


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


class UnresolvedCount:
    """Requests naming a record id that no record has, by action, in this process.

    They go to no office's hash-chained log: anyone can invent ids by the thousand, and each
    would be an entry in the log of the office whose number the id starts with. The count is
    `notary_access_unresolved_total{action}` on `/metrics`.
    """

    def __init__(self) -> None:
        self._counts: dict[str, int] = {}
        self._lock = threading.Lock()

    def add(self, action: str) -> None:
        """Count one request for `action` that named no record."""
        with self._lock:
            self._counts[action] = self._counts.get(action, 0) + 1

    def snapshot(self) -> dict[str, int]:
        """The counts so far, by action."""
        with self._lock:
            return dict(self._counts)


UNRESOLVED = UnresolvedCount()

_RECORD_OFFICE = select(Record.office_pk).where(Record.record_id == bindparam("rid"))


def _record_office(session: Session, record_id: str) -> tuple[int, str] | None:
    """The office and normalised id of the record named, or None if there is no such record."""
    try:
        rid = parse_bytes32(record_id, "record id").hex()
    except NotaryError:
        return None
    office_pk = session.scalar(_RECORD_OFFICE, {"rid": rid})
    return (office_pk, rid) if office_pk is not None else None


def log_by_id(session: Session, caller: Caller, action: str, record_id: str, outcome: str) -> None:
    """Append an entry for a record named by id to its office's log and commit; an id no
    record has is only counted (`UNRESOLVED`), never logged."""
    found = _record_office(session, record_id)
    if found is None:
        session.rollback()
        UNRESOLVED.add(action)
        return
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
