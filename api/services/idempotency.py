"""`Idempotency-Key` on POSTs: a retry gets the first answer, never a second effect.

The key row is written in the same transaction as the effect, so either both exist or
neither; a concurrent duplicate loses on the unique constraint and replays the winner.

A key is remembered for the API's `NOTARY_IDEMPOTENCY_TTL_HOURS` (default 24, carried in
each session's `info`, see `ttl_of`): an older row is never replayed, and is deleted when
the same key comes again (so it can be used anew) or by the worker's purge. Answers that
carry secrets are stored stripped (`run_write`'s `keep`) and completed on replay
(`restore`); docs/privacy.md, "Idempotent answers".
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from fastapi.responses import JSONResponse
from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.core.db import IDEMPOTENCY_TTL_INFO
from notary.db.models import IdempotencyKey
from notary.db.repo import IDEMPOTENCY_TTL_HOURS
from notary.db.types import utcnow
from notary.errors import Conflict, InvalidInput

MAX_KEY = 200
DEFAULT_TTL = timedelta(hours=IDEMPOTENCY_TTL_HOURS)

Restore = Callable[[Any], Any]
"""Completes a stored (stripped) body into the answer a replay sends."""


def ttl_of(session: Session) -> timedelta:
    """How long this session's keys are remembered (`IDEMPOTENCY_TTL_INFO`, else 24 h)."""
    return session.info.get(IDEMPOTENCY_TTL_INFO, DEFAULT_TTL)


def expired(row: IdempotencyKey, ttl: timedelta, now: datetime | None = None) -> bool:
    """Whether a stored answer is older than `ttl` (then it is as if never stored)."""
    return row.created_at < (now or utcnow()) - ttl


def request_hash(method: str, path: str, parts: dict[str, Any]) -> str:
    """A digest of what the request asks for (form fields and file hashes)."""
    doc = json.dumps([method, path, parts], sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(doc.encode()).hexdigest()


def check_key(key: str | None) -> str | None:
    """Validate an `Idempotency-Key` header value."""
    if key is None:
        return None
    if not key or len(key) > MAX_KEY or not key.isprintable():
        raise InvalidInput(f"Idempotency-Key must be 1–{MAX_KEY} printable characters")
    return key


class Answer(NamedTuple):
    """A write's answer: status and JSON body; `replayed` when it is a stored first answer."""

    status: int
    body: Any
    replayed: bool = False

    def response(self) -> JSONResponse:
        """The answer as sent (a replay says so in `Idempotent-Replay`)."""
        headers = {"Idempotent-Replay": "true"} if self.replayed else None
        return JSONResponse(self.body, status_code=self.status, headers=headers)


def stored_answer(row: IdempotencyKey, req_hash: str, restore: Restore | None = None) -> Answer:
    """The first answer a key got, for a retry of the same request; 409 otherwise.

    `restore` completes a body that was stored stripped of its secrets.
    """
    if row.request_hash != req_hash:
        raise Conflict("Idempotency-Key reused with a different request")
    if row.status_code is None:
        raise Conflict("a request with this Idempotency-Key is still in progress")
    body = row.response_json if restore is None else restore(row.response_json)
    return Answer(row.status_code, body, replayed=True)


def find_many(
    session: Session, pairs: Iterable[tuple[int, str]]
) -> dict[tuple[int, str], IdempotencyKey]:
    """The live stored rows of some (API key id, Idempotency-Key) pairs, by pair.

    Rows older than the TTL are deleted in the caller's transaction (before its effect, so
    the key can be stored again) and left out.
    """
    wanted = set(pairs)
    if not wanted:
        return {}
    rows = session.scalars(
        select(IdempotencyKey).where(
            IdempotencyKey.api_key_id.in_({api_key_id for api_key_id, _ in wanted}),
            IdempotencyKey.key.in_({key for _, key in wanted}),
        )
    )
    found = [r for r in rows if (r.api_key_id, r.key) in wanted]
    ttl, now = ttl_of(session), utcnow()
    if stale := [r.id for r in found if expired(r, ttl, now)]:
        session.execute(delete(IdempotencyKey).where(IdempotencyKey.id.in_(stale)))
    return {(r.api_key_id, r.key): r for r in found if r.id not in stale}


def replay(
    session: Session,
    *,
    api_key_id: int,
    key: str,
    req_hash: str,
    restore: Restore | None = None,
) -> JSONResponse | None:
    """The stored answer for a retried key, None for a new key; 409 on a different body."""
    row = find_many(session, [(api_key_id, key)]).get((api_key_id, key))
    return None if row is None else stored_answer(row, req_hash, restore).response()


def remember_many(session: Session, rows: Sequence[tuple[int, str, str, Answer]]) -> None:
    """Store answers, as (API key id, key, request hash, answer), in the caller's transaction."""
    if rows:
        session.connection().execute(
            insert(IdempotencyKey.__table__),
            [
                {
                    "api_key_id": api_key_id,
                    "key": key,
                    "request_hash": req_hash,
                    "status_code": answer.status,
                    "response_json": answer.body,
                    "created_at": utcnow(),
                }
                for api_key_id, key, req_hash, answer in rows
            ],
        )


def remember(
    session: Session, *, api_key_id: int, key: str, req_hash: str, status: int, body: Any
) -> None:
    """Store the answer in the caller's transaction."""
    remember_many(session, [(api_key_id, key, req_hash, Answer(status, body))])


def run_write(
    session: Session,
    caller: Any,
    key: str | None,
    req_hash: str,
    do: Any,
    status_code: int,
    *,
    keep: Callable[[Any], Any] | None = None,
    restore: Restore | None = None,
) -> JSONResponse:
    """Run a write once per Idempotency-Key: replay, or do it and remember the answer.

    `keep` turns the answer into what is stored for replays (an answer with secrets is
    stored without them), and `restore` turns that back into the answer a replay sends.
    Whatever the outcome, the transaction has ended when this returns or raises: on SQLite
    it holds the one write lock, which must not wait for the session's teardown.
    """
    key = check_key(key)

    def earlier() -> JSONResponse | None:
        """The answer already stored for this key, if any (then the transaction is ended)."""
        if key is None:
            return None
        hit = replay(session, api_key_id=caller.key_id, key=key, req_hash=req_hash, restore=restore)
        if hit is not None:
            session.rollback()
        return hit

    try:
        if hit := earlier():
            return hit
        try:
            body = do()
        except Conflict:
            # The same key, sent again while the first request was still running (a client's
            # retry, perhaps to another API process), waited for its record lock and now
            # finds the change already made: it gets the first answer, not a 409.
            session.rollback()
            if hit := earlier():
                return hit
            raise
        try:
            if key is not None:
                remember(
                    session,
                    api_key_id=caller.key_id,
                    key=key,
                    req_hash=req_hash,
                    status=status_code,
                    body=body if keep is None else keep(body),
                )
            session.commit()
        except IntegrityError:  # the same key committed first by a concurrent request
            session.rollback()
            if hit := earlier():
                return hit
            raise
        return JSONResponse(body, status_code=status_code)
    except BaseException:
        session.rollback()
        raise
