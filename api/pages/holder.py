"""The holder's page: `/holder/<record id>`, where a certificate's holder downloads and
verifies their own certificate (docs/privacy.md, "The holder's link").

The link's fragment (`#<salt hex>`) never reaches the server with the page request. The
form asks for the holder code (the salt), and a few lines of inline script (allowed by
their hash alone, nothing else runs) copy the fragment into it and drop it from the address
bar. On submit the page derives the capability, fetches the document through the same
function as `POST /api/v1/certificates/{id}/holder-copy` (one 404 for every refusal, the
access log, the rate limit) and checks it with the independent verifier: the salt and the
bytes must recompute the anchored contentHash. Nothing is stored; the code is never logged.
"""

from __future__ import annotations

import base64
import hashlib

import anyio.to_thread
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from api.core.deps import Caller
from api.core.limits import rate_limited, retry_after
from api.pages.verify.context import connector, expensive_slots, page_trust
from api.pages.web import forms
from api.pages.web.locale import VERIFY_LOCALE_DIR, request_look, strings
from api.pages.web.render import CSP, page, render
from api.routers.holder import document_response, holder_copy
from api.services import holder_access
from verifier.result import VERDICT_LOOK
from verifier.verify import verify_file

router = APIRouter(prefix="/holder", tags=["pages"], include_in_schema=False)

FILL_SCRIPT = (
    "(function(){var h=location.hash.slice(1);if(!h)return;"
    "var f=document.getElementById('code');if(f&&!f.value)f.value=decodeURIComponent(h);"
    "history.replaceState(null,'',location.pathname+location.search);})();"
)
"""Copies the link's fragment into the code field and takes it off the address bar."""
_FILL_HASH = base64.b64encode(hashlib.sha256(FILL_SCRIPT.encode()).digest()).decode()
FILL_SCRIPT_CSP = f"{CSP}; script-src 'sha256-{_FILL_HASH}'"
"""The site's policy plus this one inline script, by its hash."""


def _refused(request: Request, wait: float) -> Response:
    response = render(request, "web/error.html", {"status": 429, "detail": ""}, status=429)
    response.headers["Retry-After"] = retry_after(wait)
    return response


def _fetch(request: Request, record_id: str, salt: bytes) -> holder_access.HolderDocument:
    """The document through the API's own function, as an anonymous caller."""
    capability = holder_access.capability_for(salt, record_id)
    with request.app.state.db.session() as session:
        return holder_copy(session, request.app.state.settings, Caller(), record_id, capability)


async def _code(request: Request) -> bytes:
    form = await request.form()
    return holder_access.parse_salt(forms.text(form, "code", max_len=200, required=True) or "")


@router.get("/{record_id}", response_class=HTMLResponse)
@page
async def holder_form(request: Request, record_id: str) -> Response:
    """The form for the holder code, filled from the link's fragment."""
    response = render(request, "web/holder.html", {"record_id": record_id, "script": FILL_SCRIPT})
    response.headers["Content-Security-Policy"] = FILL_SCRIPT_CSP
    return response


@router.post("/{record_id}", response_class=HTMLResponse)
@page
async def holder_check(request: Request, record_id: str) -> Response:
    """The holder's certificate checked on chain, with a button to download it."""
    if (wait := rate_limited(request)) is not None:
        return _refused(request, wait)
    salt = await _code(request)

    def work():
        doc = _fetch(request, record_id, salt)
        trust = page_trust(request)
        return doc, verify_file(doc.data, trust, salt=salt, connect=connector(request))

    doc, result = await anyio.to_thread.run_sync(work, limiter=expensive_slots(request))
    lang, _ = request_look(request)
    words = strings(lang, VERIFY_LOCALE_DIR)
    look = VERDICT_LOOK[result.verdict]
    return render(
        request,
        "web/holder.html",
        {
            "record_id": record_id,
            "checked": True,
            "code": salt.hex(),
            "icon": look.mark,
            "tone": look.tone,
            "headline": words[result.verdict.value],
            "explain": words["explain_" + result.verdict.value],
            "size": len(doc.data),
            "media_type": doc.media_type,
        },
    )


@router.post("/{record_id}/document")
@page
async def holder_download(request: Request, record_id: str) -> Response:
    """The certificate document itself, as a private download."""
    if (wait := rate_limited(request)) is not None:
        return _refused(request, wait)
    salt = await _code(request)
    doc = await anyio.to_thread.run_sync(_fetch, request, record_id, salt)
    return document_response(doc)
