"""Issuing a certificate from the clerk's console, and handing the holder their copy.

The form takes the certificate's title, the holder's name and ID number and its validity;
the API's own issue route (`api.pages.web.actions`) renders the PDF (the holder's data
masked on its face), commits the holder data under a salt and publishes it restricted. The
answer page shows the holder's link and code once (docs/privacy.md, "The holder's link");
the release page then follows it until anchored and offers the stamped PDF, whose codes
carry the salt: either is what the holder is given.
"""

from __future__ import annotations

import datetime as dt
import secrets

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from api.pages.web import actions, auth, csrf, forms
from api.pages.web.render import page, render
from api.services.console_sessions import SignedIn
from notary.db.types import KeyRole
from notary.errors import InvalidInput

router = APIRouter(prefix="/console/certificates", tags=["pages"], include_in_schema=False)

FIELDS = ("title", "holder_name", "holder_id", "reviewer", "valid_from", "valid_until")


def _publisher(request: Request) -> SignedIn:
    return auth.signed_in_as(request, KeyRole.PUBLISHER)


def _form(request: Request, me: SignedIn, values: dict, note: str | None, status: int):
    return render(
        request,
        "web/certificate.html",
        {"values": values, "note": note, "idem": secrets.token_urlsafe(16)},
        me=me,
        status=status,
    )


@router.get("/new", response_class=HTMLResponse)
@page
async def certificate_form(request: Request) -> Response:
    """The issue form."""
    me = await run_in_threadpool(_publisher, request)
    return _form(request, me, dict.fromkeys(FIELDS, ""), None, 200)


def _day(value: dt.date | None) -> dt.datetime | None:
    return None if value is None else dt.datetime.combine(value, dt.time(), tzinfo=dt.UTC)


@router.post("/new", response_class=HTMLResponse)
@page
async def issue(request: Request) -> Response:
    """Issue the certificate; the answer shows the holder's link, then its release page
    follows it (anchoring, the holder's stamped PDF)."""
    form = await request.form()
    me = await run_in_threadpool(_publisher, request)
    csrf.check(request, form.get(csrf.FIELD), me.token_hash)
    values = {name: forms.text(form, name, max_len=200) or "" for name in FIELDS}
    try:
        for name in ("title", "holder_name", "holder_id", "reviewer"):
            if not values[name]:
                raise InvalidInput(f"{name} is required")
        start, end = forms.date(form, "valid_from"), forms.date(form, "valid_until")
        body = await actions.issue_certificate(
            request,
            me.caller,
            holder={"name": values["holder_name"], "id_number": values["holder_id"]},
            metadata={
                "title": values["title"],
                "category": "certificate",
                "publication_date": dt.date.today().isoformat(),
                "reviewer": values["reviewer"],
                "language": "zh-CN",
            },
            valid_from=_day(start),
            valid_until=_day(end),
            idempotency_key=forms.text(form, "idem", max_len=64, required=True) or "",
        )
    except InvalidInput as exc:
        return _form(request, me, values, str(exc), 400)
    # The holder's link carries the salt: shown on this answer only, never put in a URL the
    # server sees (a redirect's query would be in every log), never stored in plain.
    salt = body["salt"]
    return render(
        request,
        "web/certificate_issued.html",
        {
            "holder_url": body["holder_url"],
            "holder_code": " ".join(salt[i : i + 8] for i in range(0, len(salt), 8)),
            "release": f"/console/releases/{body['record']['id']}",
        },
        me=me,
    )
