"""`Idempotency-Key` on POSTs: a retry gets the first answer, never a second effect.

The key row is written in the same transaction as the effect, so either both exist or
neither; a concurrent duplicate loses on the unique constraint and replays the winner.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from notary.db.models import IdempotencyKey
from notary.errors import Conflict, InvalidInput

MAX_KEY = 200


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


def replay(session: Session, *, api_key_id: int, key: str, req_hash: str) -> JSONResponse | None:
    """The stored answer for a retried key, None for a new key; 409 on a different body."""
    row = session.scalars(
        select(IdempotencyKey).where(
            IdempotencyKey.api_key_id == api_key_id, IdempotencyKey.key == key
        )
    ).first()
    if row is None:
        return None
    if row.request_hash != req_hash:
        raise Conflict("Idempotency-Key reused with a different request")
    if row.status_code is None:
        raise Conflict("a request with this Idempotency-Key is still in progress")
    return JSONResponse(
        row.response_json, status_code=row.status_code, headers={"Idempotent-Replay": "true"}
    )


def remember(
    session: Session, *, api_key_id: int, key: str, req_hash: str, status: int, body: Any
) -> None:
    """Store the answer in the caller's transaction."""
    session.add(
        IdempotencyKey(
            api_key_id=api_key_id,
            key=key,
            request_hash=req_hash,
            status_code=status,
            response_json=body,
        )
    )
