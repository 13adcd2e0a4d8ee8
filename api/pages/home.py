"""The site's front door `/` and the public register `/records`.

`/` offers a citizen "verify a document" (scan a code, upload a file) and "find a release",
and staff "sign in". `/records` searches what anyone may see (never an internal record) by
title, document number, office, category and publication date; each result links to its
verify page and, for public records, to the file. Large print and phone sizes are first-class:
a result is a list item, not a table row.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.core.deps import Caller
from api.pages.web.auth import who
from api.pages.web.locale import query, request_look
from api.pages.web.render import page, render
from api.pages.web.search import PAGE_SIZE, run_search, search_form
from api.services.links import verify_target
from notary.db.models import Office

router = APIRouter(tags=["pages"], include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
@page
async def home(request: Request) -> Response:
    """The landing page: verify, find a release, sign in."""

    def work() -> Response:
        with request.app.state.db.session() as session:
            return render(request, "web/home.html", me=who(request, session))

    return await run_in_threadpool(work)


def office_choices(session: Session) -> list[tuple[str, str]]:
    """(office id, name) of every office, by name, for the register's filter."""
    rows = session.execute(select(Office.office_id, Office.name).order_by(Office.name)).all()
    return [(r.office_id, r.name) for r in rows]


def verify_path(request: Request, record_id: str, version: int, leaf: str | None) -> str | None:
    """The site-relative verify page of an anchored revision (None while pending)."""
    target = verify_target(request)
    if target is None or not leaf:
        return None
    url = urlsplit(target.url(record_id=record_id, version=version, leaf=leaf))
    return url.path + (f"?{url.query}" if url.query else "")


def _value(v: Any) -> str:
    return str(getattr(v, "value", v))


def result_row(
    request: Request, item: Any, names: dict[str, str], lang: str, large: bool
) -> dict[str, Any]:
    """What a result shows: the record, its office's name, its verify page (in the reader's
    language and size) and, for a public record, its file."""
    verify = verify_path(request, item.id, item.current.version, item.current.leaf)
    if verify is not None and (extra := query(lang, large)):
        verify += ("&" if "?" in verify else "?") + extra[1:]
    download = None
    if _value(item.tier) == "public":
        download = f"/api/v1/files/{item.current.content_hash}"
    return {
        "r": item,
        "status": _value(item.status),
        "office_name": names.get(item.office_id, ""),
        "verify": verify,
        "download": download,
    }


@router.get("/records", response_class=HTMLResponse)
@page
async def register(request: Request) -> Response:
    """The public register: search, then a verify link (and the file) per result."""
    fields = search_form(request.query_params)

    def work() -> Response:
        with request.app.state.db.session() as session:
            me = who(request, session)
            anyone = Caller()  # the register shows what anyone may see, signed in or not
            items, total = run_search(session, anyone, fields, office_id=fields["office"])
            offices = office_choices(session)
            names = dict(offices)
            session.rollback()
        lang, large = request_look(request)
        results = [result_row(request, item, names, lang, large) for item in items]
        return render(
            request,
            "web/register.html",
            {
                "fields": fields,
                "results": results,
                "total": total,
                "offices": offices,
                "pages": (total + PAGE_SIZE - 1) // PAGE_SIZE,
                "searched": any(v for k, v in fields.items() if k != "page"),
            },
            me=me,
        )

    return await run_in_threadpool(work)
