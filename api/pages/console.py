"""The clerk's console: the office's releases, the publish form and the PII review.

For publisher sessions only, and only their own office's records. Publishing goes through
the API's own publish route (`api.pages.web.actions`): the same checks, PII guard, group
commit and access log. When the guard finds personal data, the upload is held
(`api.services.staging`) and the clerk sees every finding page by page with its masked
preview, then chooses to publish a masked copy or to override with a reason. Every form
carries a CSRF token and an idempotency key, so a double submit publishes once.
"""

from __future__ import annotations

import secrets
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from api.core.errors import PiiFound
from api.pages.web import actions, auth, csrf, forms
from api.pages.web.render import page, redirect, render
from api.pages.web.search import PAGE_SIZE, run_search, search_form
from api.services import staging
from api.services.console_sessions import SignedIn
from api.services.uploads import Upload
from notary.db.types import KeyRole
from notary.errors import InvalidInput

router = APIRouter(prefix="/console", tags=["pages"], include_in_schema=False)

TIERS = ("public", "restricted", "internal")
LANGUAGES = ("zh-CN", "en", "bo", "ug", "mn", "ii", "za")
META_FIELDS = ("title", "category", "document_number", "reviewer", "publication_date", "language")


def _publisher(request: Request) -> SignedIn:
    return auth.signed_in_as(request, KeyRole.PUBLISHER)


@router.get("", response_class=HTMLResponse)
@page
async def releases(request: Request) -> Response:
    """The office's releases, newest first, with search and filters."""
    fields = search_form(request.query_params)

    def work() -> Response:
        me = _publisher(request)
        with request.app.state.db.session() as session:
            items, total = run_search(session, me.caller, fields, office_id=me.office_id)
            session.rollback()
        return render(
            request,
            "web/console_list.html",
            {
                "fields": fields,
                "items": items,
                "total": total,
                "pages": (total + PAGE_SIZE - 1) // PAGE_SIZE,
            },
            me=me,
        )

    return await run_in_threadpool(work)


def _blank_fields() -> dict[str, str]:
    return {name: "" for name in META_FIELDS} | {"language": "zh-CN", "tier": "public"}


def _publish_form(
    request: Request, me: SignedIn, fields: dict[str, str], *, note: str | None, status: int
) -> HTMLResponse:
    return render(
        request,
        "web/publish.html",
        {
            "fields": fields,
            "tiers": TIERS,
            "languages": LANGUAGES,
            "note": note,
            "idem": secrets.token_urlsafe(16),
        },
        me=me,
        status=status,
    )


@router.get("/publish", response_class=HTMLResponse)
@page
async def publish_form(request: Request) -> Response:
    """The publish form: every metadata field, the tier and the file."""
    me = await run_in_threadpool(_publisher, request)
    return _publish_form(request, me, _blank_fields(), note=None, status=200)


def read_fields(form: Any) -> dict[str, str]:
    """The form's metadata fields as typed (for the form shown again and the review)."""
    out = {name: forms.text(form, name, max_len=500) or "" for name in META_FIELDS}
    out["tier"] = forms.choice(form, "tier", TIERS, "public")
    return out


def metadata_of(fields: dict[str, str]) -> dict[str, Any]:
    """The API's metadata JSON from the form's fields (the document number in `extra`)."""
    meta: dict[str, Any] = {
        k: fields[k] for k in ("title", "category", "reviewer", "publication_date") if fields[k]
    }
    meta["language"] = fields["language"] or "zh-CN"
    if fields["document_number"]:
        meta["extra"] = {"document_number": fields["document_number"]}
    return meta


def findings_by_page(findings: list[dict[str, Any]]) -> list[tuple[str, list[dict[str, Any]]]]:
    """The guard's findings grouped by page (or by field, for text fields), in order."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for f in findings:
        where = f"p{f['page']}" if f.get("page") else str(f.get("location") or "text")
        groups.setdefault(where, []).append(f)
    return list(groups.items())


MASKABLE = frozenset({"text/plain", "application/xml", "text/xml"})
"""What the guard masks itself; a PDF's drawn text cannot be removed faithfully, so for a
PDF the clerk masks the source document and uploads the corrected file here instead."""


def _review(
    request: Request,
    me: SignedIn,
    fields: dict[str, str],
    token: str,
    exc: PiiFound,
    *,
    content_type: str,
    note: str | None = None,
) -> HTMLResponse:
    return render(
        request,
        "web/review.html",
        {
            "fields": fields,
            "token": token,
            "groups": findings_by_page(exc.findings),
            "count": len(exc.findings),
            "can_mask": content_type in MASKABLE
            and not all(str(f.get("location") or "").startswith("metadata.") for f in exc.findings),
            "note": note,
            "idem": secrets.token_urlsafe(16),
        },
        me=me,
        status=422,
    )


@router.post("/publish", response_class=HTMLResponse)
@page
async def publish(request: Request) -> Response:
    """Publish the form's file; on personal data, hold it and show the review."""
    form = await request.form()
    me = await run_in_threadpool(_publisher, request)
    csrf.check(request, form.get(csrf.FIELD), me.token_hash)
    fields = read_fields(form)
    idem = forms.text(form, "idem", max_len=64, required=True)
    try:
        if not fields["title"]:
            raise InvalidInput("title is required")
        upload = await actions.read_file_field(request, form.get("file"))
        if upload is None:
            raise InvalidInput("choose the file to publish")
    except InvalidInput as exc:
        return _publish_form(request, me, fields, note=str(exc), status=400)
    return await _publish(request, me, fields, upload, idem or "", None, mask=False, reason=None)


async def _publish(
    request: Request,
    me: SignedIn,
    fields: dict[str, str],
    upload: Upload,
    idem: str,
    token: str | None,
    *,
    mask: bool,
    reason: str | None,
) -> Response:
    data_dir = request.app.state.settings.data_dir
    try:
        body = await actions.publish(
            request,
            me.caller,
            upload,
            metadata_of(fields),
            tier=fields["tier"],
            mask=mask,
            override=reason,
            idempotency_key=idem,
        )
    except PiiFound as exc:
        if token is None:
            token = await run_in_threadpool(
                staging.put,
                data_dir,
                me.token_hash,
                upload.data,
                upload.filename or "release",
                upload.content_type,
            )
        return _review(request, me, fields, token, exc, content_type=upload.content_type)
    except InvalidInput as exc:  # a field or the file refused: the form again, with why
        return _publish_form(request, me, fields, note=str(exc), status=400)
    if token is not None:
        await run_in_threadpool(staging.drop, data_dir, token)
    return redirect(request, f"/console/releases/{body['id']}", published=1)


@router.post("/publish/review", response_class=HTMLResponse)
@page
async def publish_reviewed(request: Request) -> Response:
    """Publish a held upload masked, as it is with an override reason, or replaced by a
    corrected file (checked again); or cancel."""
    form = await request.form()
    me = await run_in_threadpool(_publisher, request)
    csrf.check(request, form.get(csrf.FIELD), me.token_hash)
    fields = read_fields(form)
    token = forms.text(form, "token", max_len=64, required=True) or ""
    data_dir = request.app.state.settings.data_dir
    choice = forms.choice(form, "choice", ("mask", "override", "replace"), "mask")
    if form.get("cancel"):
        await run_in_threadpool(staging.drop, data_dir, token)
        return redirect(request, "/console/publish")
    if choice == "replace":
        corrected = await actions.read_file_field(request, form.get("corrected"))
        if corrected is None:
            raise InvalidInput("choose the corrected file")
        await run_in_threadpool(staging.get, data_dir, me.token_hash, token)  # still theirs
        await run_in_threadpool(staging.drop, data_dir, token)
        idem = forms.text(form, "idem", max_len=64, required=True) or ""
        return await _publish(request, me, fields, corrected, idem, None, mask=False, reason=None)
    held = await run_in_threadpool(staging.get, data_dir, me.token_hash, token)
    reason = forms.text(form, "reason", max_len=2000)
    if choice == "override" and not reason:
        raise InvalidInput("an override needs its reason")
    upload = Upload(data=held.data, content_type=held.content_type, filename=held.filename)
    idem = forms.text(form, "idem", max_len=64, required=True) or ""
    return await _publish(
        request,
        me,
        fields,
        upload,
        idem,
        token,
        mask=choice == "mask",
        reason=reason if choice == "override" else None,
    )
