"""A release's page in the clerk's console, and its revise, revoke and supersede steps.

The page shows the record, its anchoring state (the page reloads itself every few seconds
until the revision is anchored or failed: no script), the receipt (transaction, block,
leaf), the verify page, the stamped PDF to download and print, and the history. Each change
is two steps: a form with its reason, then a confirmation page that repeats what will happen;
only the confirmation's POST changes anything. Publisher sessions of the record's own office
only; everything goes through the API's route functions (`api.pages.web.actions`).
"""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from api.core.errors import PiiFound
from api.pages.web import actions, auth, csrf, forms
from api.pages.web.render import page, redirect, render, secure
from api.services import staging
from api.services.console_sessions import SignedIn
from api.services.uploads import Upload
from notary.db.types import KeyRole
from notary.errors import InvalidInput, NotFound

router = APIRouter(prefix="/console/releases", tags=["pages"], include_in_schema=False)


def _publisher(request: Request) -> SignedIn:
    return auth.signed_in_as(request, KeyRole.PUBLISHER)


ACTIONS = ("revise", "revoke", "supersede")
WAITING = ("pending", "sending")
REFRESH_S = 2


def _path_of(url: str | None) -> str | None:
    if not url:
        return None
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _load(request: Request, me: SignedIn, record_id: str) -> dict[str, Any]:
    actions.own_record(request, me.caller, record_id)
    return actions.record_history(request, me.caller, record_id)


@router.get("/{record_id}", response_class=HTMLResponse)
@page
async def release(request: Request, record_id: str) -> Response:
    """The release: state, receipt, verify page, stamped PDF, history, changes."""
    me = await run_in_threadpool(_publisher, request)
    hist = await run_in_threadpool(_load, request, me, record_id)
    record = hist["record"]
    receipt = await actions.receipt(request, me.caller, int(record["current"]["id"]))
    waiting = receipt["state"] in WAITING
    pdf = record["current"].get("content_type") == "application/pdf"
    response = render(
        request,
        "web/release.html",
        {
            "r": record,
            "events": hist["events"],
            "receipt": receipt,
            "waiting": waiting,
            "refresh": REFRESH_S if waiting else None,
            "verify": _path_of(receipt.get("verify_url")),
            "stamped": pdf and receipt["state"] == "anchored",
            "published": request.query_params.get("published"),
            "issued": request.query_params.get("issued"),
            "done": request.query_params.get("done"),
        },
        me=me,
    )
    return response


@router.get("/{record_id}/stamped")
@page
async def stamped(request: Request, record_id: str) -> Response:
    """The stamped PDF of a version (default: current), to download and print."""
    me = await run_in_threadpool(_publisher, request)
    version = request.query_params.get("version")
    if version is not None and (not version.isdigit() or not 1 <= int(version) <= 2**31 - 1):
        raise InvalidInput("version must be a positive number")

    def work() -> Response:
        actions.own_record(request, me.caller, record_id)
        return actions.stamped_pdf(request, me.caller, record_id, int(version) if version else None)

    response = await run_in_threadpool(work)
    response.headers["Content-Disposition"] = response.headers["Content-Disposition"].replace(
        "inline", "attachment"
    )
    return secure(response)


def _action(name: str) -> str:
    if name not in ACTIONS:
        raise NotFound(f"no such change {name[:40]!r}")
    return name


def _form(
    request: Request,
    me: SignedIn,
    record: dict[str, Any],
    action: str,
    *,
    step: str,
    values: dict[str, Any],
    note: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "web/change.html",
        {
            "r": record,
            "action": action,
            "step": step,
            "values": values,
            "note": note,
            "idem": values.get("idem") or secrets.token_urlsafe(16),
        },
        me=me,
        status=status,
    )


@router.get("/{record_id}/{action}", response_class=HTMLResponse)
@page
async def change_form(request: Request, record_id: str, action: str) -> Response:
    """The first step of a change: its form, with the reason it needs."""
    _action(action)
    me = await run_in_threadpool(_publisher, request)
    hist = await run_in_threadpool(_load, request, me, record_id)
    return _form(request, me, hist["record"], action, step="form", values={})


def _values(form: Any, action: str) -> dict[str, Any]:
    """The change's fields, checked; a missing reason is refused here."""
    if action == "revise":
        return {
            "change_note": forms.text(form, "change_note", max_len=2000, required=True),
            "title": forms.text(form, "title", max_len=500),
            "token": forms.text(form, "token", max_len=64),
            "filename": forms.text(form, "filename", max_len=200),
        }
    if action == "revoke":
        return {"reason": forms.text(form, "reason", max_len=2000, required=True)}
    return {
        "by": forms.text(form, "by", max_len=80, required=True),
        "reason": forms.text(form, "reason", max_len=2000) or "",
    }


@router.post("/{record_id}/{action}", response_class=HTMLResponse)
@page
async def change(request: Request, record_id: str, action: str) -> Response:
    """`step=review`: the confirmation page; `step=confirm`: make the change."""
    _action(action)
    form = await request.form()
    me = await run_in_threadpool(_publisher, request)
    csrf.check(request, form.get(csrf.FIELD), me.token_hash)
    hist = await run_in_threadpool(_load, request, me, record_id)
    record = hist["record"]
    step = forms.choice(form, "step", ("review", "confirm"), "review")
    try:
        values = _values(form, action)
    except InvalidInput as exc:
        return _form(request, me, record, action, step="form", values={}, note=str(exc), status=400)
    data_dir = request.app.state.settings.data_dir
    if step == "review":
        if action == "revise":
            upload = await actions.read_file_field(request, form.get("file"))
            if upload is not None:
                values["token"] = await run_in_threadpool(
                    staging.put,
                    data_dir,
                    me.token_hash,
                    upload.data,
                    upload.filename or "release",
                    upload.content_type,
                )
                values["filename"] = upload.filename
        values["idem"] = secrets.token_urlsafe(16)
        return _form(request, me, record, action, step="confirm", values=values)
    idem = forms.text(form, "idem", max_len=64, required=True) or ""
    values["idem"] = idem
    try:
        await _apply(request, me, record_id, action, values, form)
    except PiiFound as exc:
        note = f"{exc} ({len(exc.findings)})"
        return _form(request, me, record, action, step="form", values={}, note=note, status=422)
    except InvalidInput as exc:
        return _form(request, me, record, action, step="form", values={}, note=str(exc), status=400)
    return redirect(request, f"/console/releases/{record_id}", done=action)


async def _apply(
    request: Request,
    me: SignedIn,
    record_id: str,
    action: str,
    values: dict[str, Any],
    form: Any,
) -> None:
    data_dir = request.app.state.settings.data_dir
    if action == "revoke":
        await run_in_threadpool(
            actions.revoke, request, me.caller, record_id, values["reason"], values["idem"]
        )
    elif action == "supersede":
        await run_in_threadpool(
            actions.supersede,
            request,
            me.caller,
            record_id,
            values["by"],
            values["reason"],
            values["idem"],
        )
    else:
        upload = None
        if values["token"]:
            held = await run_in_threadpool(staging.get, data_dir, me.token_hash, values["token"])
            upload = Upload(data=held.data, content_type=held.content_type, filename=held.filename)
        metadata = {"title": values["title"]} if values["title"] else None
        if upload is None and metadata is None and not values["change_note"]:
            raise InvalidInput("a revision needs a new file, new metadata or a note")
        await actions.revise(
            request,
            me.caller,
            record_id,
            change_note=values["change_note"],
            upload=upload,
            metadata=metadata,
            mask=bool(form.get("mask")),
            override=None,
            idempotency_key=values["idem"],
        )
        if values["token"]:
            await run_in_threadpool(staging.drop, data_dir, values["token"])
