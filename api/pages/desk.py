"""The auditor's desk: the office's access log with its chain check, the open alerts, the
last chain-vs-database audit and a button to run one, and CSV exports.

For auditor sessions of one office, through the API's own route functions (the same
queries, the same office scoping). Alerts are shown read-only: acknowledging one is the
audit service's, and its button joins this page with it. The last audit's answer is kept in
the data directory (`desk/last-audit-<office>.json`, owner-only) so every auditor of the
office sees when it ran and what it found.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from api.pages.web import auth, csrf
from api.pages.web.render import page, redirect, render, secure
from api.routers import access_log, audit
from api.services.console_sessions import SignedIn
from notary.audit.export import _cell as csv_cell  # the audit exports' formula guard
from notary.db.types import KeyRole
from notary.errors import InvalidInput
from notary.publishing import accesslog
from notary.storage.atomic import atomic_write_bytes

router = APIRouter(prefix="/desk", tags=["pages"], include_in_schema=False)

SHOWN_ENTRIES = 50
EXPORT_PAGE = 1000
LOG_COLUMNS = ("seq", "at", "key_id", "action", "record_id", "outcome", "prev_hash", "entry_hash")


def _auditor(request: Request) -> SignedIn:
    return auth.signed_in_as(request, KeyRole.AUDITOR)


def _last_audit_path(request: Request, me: SignedIn) -> Path:
    return request.app.state.settings.data_dir / "desk" / f"last-audit-{me.office_id}.json"


def _read_last_audit(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


@router.get("", response_class=HTMLResponse)
@page
async def desk(request: Request) -> Response:
    """The desk: chain check, open alerts, last audit, recent access-log entries."""
    me = await run_in_threadpool(_auditor, request)

    def work() -> Response:
        with request.app.state.db.session() as session:
            assert me.caller.office_pk is not None
            total = accesslog.entry_count(session, me.caller.office_pk)
            entries = access_log.list_entries(
                session, me.caller, after=max(0, total - SHOWN_ENTRIES), limit=SHOWN_ENTRIES
            )
            check = access_log.verify(session, me.caller)
            alerts = audit.get_alerts(
                session, me.caller, rule=None, include_acknowledged=False, limit=100
            )
            session.rollback()
        return render(
            request,
            "web/desk.html",
            {
                "entries": list(reversed(entries.items)),
                "total": total,
                "check": check,
                "alerts": alerts,
                "last": _read_last_audit(_last_audit_path(request, me)),
                "ran": request.query_params.get("ran"),
                "acked": request.query_params.get("acked"),
            },
            me=me,
        )

    return await run_in_threadpool(work)


@router.post("/alerts/{alert_id}/ack", response_class=HTMLResponse)
@page
async def acknowledge(request: Request, alert_id: int) -> Response:
    """Acknowledge one of the office's open alerts with a note (the API's own rule)."""
    form = await request.form()
    me = await run_in_threadpool(_auditor, request)
    csrf.check(request, form.get(csrf.FIELD), me.token_hash)
    note = str(form.get("note") or "").strip()
    if not note or len(note) > 2000:
        raise InvalidInput("an acknowledgement needs a note of 1 to 2000 characters")

    def work() -> None:
        with request.app.state.db.session() as session:
            audit.ack_alert(session, me.caller, audit.AckCreate(note=note), alert_id)

    await run_in_threadpool(work)
    return redirect(request, "/desk", acked=alert_id)


@router.post("/audit", response_class=HTMLResponse)
@page
async def run_audit(request: Request) -> Response:
    """Replay the chain, diff it with the database for this office, keep the answer."""
    form = await request.form()
    me = await run_in_threadpool(_auditor, request)
    csrf.check(request, form.get(csrf.FIELD), me.token_hash)

    def work() -> None:
        with request.app.state.db.session() as session:
            result = audit.run_audit(session, request.app.state.settings, me.caller)
        result["ran_at"] = datetime.now(UTC).isoformat(timespec="seconds")
        result["ran_by"] = me.name
        body = json.dumps(result, ensure_ascii=False).encode()
        atomic_write_bytes(_last_audit_path(request, me), body, mode=0o600)

    await run_in_threadpool(work)
    return redirect(request, "/desk", ran=1)


def _log_rows(request: Request, me: SignedIn) -> str:
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    writer.writerow(LOG_COLUMNS)
    after = 0
    with request.app.state.db.session() as session:
        while True:
            page_ = access_log.list_entries(session, me.caller, after=after, limit=EXPORT_PAGE)
            for e in page_.items:
                data = e.model_dump(mode="json")
                writer.writerow(
                    [csv_cell(data[c] if data[c] is not None else "") for c in LOG_COLUMNS]
                )
            if len(page_.items) < EXPORT_PAGE:
                break
            after = page_.items[-1].seq
        session.rollback()
    return out.getvalue()


@router.get("/access-log.csv")
@page
async def access_log_csv(request: Request) -> Response:
    """The office's whole access log as CSV (UTF-8 with BOM, for spreadsheets)."""
    me = await run_in_threadpool(_auditor, request)
    text = await run_in_threadpool(_log_rows, request, me)
    name = f"access-log-{(me.office_id or '')[:16]}.csv"
    response = Response(
        ("\ufeff" + text).encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
    return secure(response)


@router.get("/last-audit.csv")
@page
async def last_audit_csv(request: Request) -> Response:
    """The last audit's discrepancies as CSV."""
    me = await run_in_threadpool(_auditor, request)
    last = _read_last_audit(_last_audit_path(request, me)) or {"discrepancies": []}
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    found = last.get("discrepancies") or []
    columns = sorted({k for d in found for k in d}) or ["kind"]
    writer.writerow(columns)
    for d in found:
        writer.writerow(
            [
                csv_cell(json.dumps(d[c]) if isinstance(d.get(c), (dict, list)) else d.get(c, ""))
                for c in columns
            ]
        )
    response = Response(
        ("\ufeff" + out.getvalue()).encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="last-audit.csv"'},
    )
    return secure(response)
