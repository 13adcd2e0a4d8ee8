"""Row helpers shared by the repository modules: locks, chunked id lists, strict values.

`conflict_on_integrity` turns a constraint violation into `Conflict` inside a savepoint;
the `lock_*` functions take row locks in id order, in chunks a driver accepts; the value
helpers refuse what the database would store wrongly (naive datetimes, unknown enum
values, malformed addresses and hex).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from notary.db.models import (
    Revision,
)
from notary.db.types import (
    AnchorState,
)
from notary.errors import Conflict, InvalidInput, NotFound

_E = TypeVar("_E", bound=enum.Enum)

CHUNK = 1000  # ids per IN (…) list: well under every driver's parameter limit
_ADDRESS = re.compile(r"0[xX][0-9a-fA-F]{40}")
_HEX = re.compile(r"(?:0[xX])?((?:[0-9a-fA-F]{2})+)")


class RevisionNotFound(NotFound):
    """No revision with that id or (record, version)."""


@contextmanager
def conflict_on_integrity(session: Session, message: str) -> Iterator[None]:
    """Run the block and flush it in a savepoint; a constraint violation becomes `Conflict`.

    The savepoint keeps the caller's transaction usable after the violation.
    """
    try:
        with session.begin_nested():
            yield
            session.flush()
    except IntegrityError as exc:
        raise Conflict(message) from exc


def lock_states(session: Session, ids: Sequence[int]) -> dict[int, AnchorState]:
    return {rid: state for rid, (state, _, _) in lock_rows(session, ids).items()}


def lock_rows(
    session: Session, ids: Sequence[int]
) -> dict[int, tuple[AnchorState, str | None, str | None]]:
    """Lock revisions by id; (state, tx_hash, leaf) for each; unknown ids are `NotFound`."""
    found: dict[int, tuple[AnchorState, str | None, str | None]] = {}
    for chunk in chunks(ids):
        rows = session.execute(
            select(Revision.id, Revision.anchor_state, Revision.tx_hash, Revision.leaf)
            .where(Revision.id.in_(chunk))
            .with_for_update()
        )
        found.update({r.id: (r.anchor_state, r.tx_hash, r.leaf) for r in rows})
    missing = sorted(set(ids) - set(found))
    if missing:
        raise RevisionNotFound(f"no revision(s) {missing[:10]}")
    return found


def expire_revisions(session: Session, ids: Collection[int]) -> None:
    for obj in list(session.identity_map.values()):
        if isinstance(obj, Revision) and obj.id in ids:
            session.expire(obj)


def chunks(ids: Sequence[int]) -> Iterator[list[int]]:
    ids = list(ids)
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]


def address(value: str) -> str:
    if not isinstance(value, str) or not _ADDRESS.fullmatch(value):
        raise InvalidInput(f"not an address: {value!r}")
    return value.lower()


def raw_hex(value: str | bytes) -> str:
    if isinstance(value, bytes | bytearray):
        return bytes(value).hex()
    match = _HEX.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise InvalidInput("raw transaction must be bytes or hex")
    return match.group(1).lower()


def member(cls: type[_E], value: object) -> _E:
    """An enum member from itself or its value; anything else is `InvalidInput`."""
    try:
        return cls(value)
    except ValueError:
        allowed = ", ".join(str(m.value) for m in cls)
        raise InvalidInput(f"{cls.__name__} must be one of {allowed}; got {value!r}") from None


def aware(value: datetime | None) -> datetime | None:
    """Refuse naive datetimes up front (a wall-clock time without a zone is ambiguous)."""
    if value is None:
        return None
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInput("naive datetime: give a timezone-aware (UTC) timestamp")
    return value.astimezone(UTC)
