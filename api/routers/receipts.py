"""Receipts: a revision's anchor state, optionally waiting for the worker.

A receipt is its office's own: any other caller, anonymous or another office's key, gets the
answer for a revision that does not exist. Revision ids are sequential, so an open receipt
route listed every record and its gaps counted the internal ones (docs/privacy.md)."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.concurrency import run_in_threadpool

from api.core.deps import MaybeCallerDep, SettingsDep
from api.routers._access import log_by_id
from api.schemas import ReceiptPublic
from api.services.links import verify_target
from notary.db.models import Record, Revision
from notary.db.types import AnchorState
from notary.errors import NotFound

router = APIRouter(prefix="/receipts", tags=["receipts"])
POLL_S = 0.2


def _receipt(request: Request, caller, revision_id: int) -> ReceiptPublic:
    with request.app.state.db.session() as s:
        rev = s.get(Revision, revision_id)
        record = s.get(Record, rev.record_id) if rev is not None else None
        if rev is None or record is None:
            raise NotFound(f"no revision {revision_id}")
        if not caller.of_office(record.office_pk):  # receipts are the office's own
            s.rollback()
            log_by_id(s, caller, "receipt", record.record_id, "404")
            raise NotFound(f"no revision {revision_id}")
        url = None
        target = verify_target(request)
        if target is not None and rev.anchor_state is AnchorState.ANCHORED and rev.leaf:
            url = target.url(record_id=rev.record_id, version=rev.version, leaf=rev.leaf)
        out = ReceiptPublic(
            revision_id=str(rev.id),
            record_id=rev.record_id,
            version=rev.version,
            state=rev.anchor_state.value,
            leaf=rev.leaf,
            content_hash=rev.content_hash,
            tx_hash=rev.tx_hash,
            block_number=rev.block_number,
            anchored_at=rev.anchored_at,
            verify_url=url,
        )
        s.rollback()
        return out


def _log_read(request: Request, caller, record_id: str) -> None:
    with request.app.state.db.session() as s:
        log_by_id(s, caller, "receipt", record_id, "ok")


WAITING = frozenset({AnchorState.PENDING.value, AnchorState.SENDING.value})
"""States the worker may still change; any other is final and ends a `wait` at once."""


@router.get("/{revision_id}", response_model=ReceiptPublic)
async def get_receipt(
    revision_id: Annotated[int, Path(ge=1, le=2**62)],
    request: Request,
    caller: MaybeCallerDep,
    settings: SettingsDep,
    wait: Annotated[float, Query(ge=0, le=3600, description="seconds to wait for anchoring")] = 0,
) -> ReceiptPublic:
    """Pending or anchored (with transaction, block and leaf); `wait` polls up to a cap, and
    stops at once on a final state (anchored or failed). Each request is one access-log entry."""
    deadline = time.monotonic() + min(wait, settings.receipt_wait_cap_s)
    while True:
        receipt = await run_in_threadpool(_receipt, request, caller, revision_id)
        if receipt.state not in WAITING or time.monotonic() >= deadline:
            await run_in_threadpool(_log_read, request, caller, receipt.record_id)
            return receipt
        await asyncio.sleep(POLL_S)
