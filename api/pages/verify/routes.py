"""The verify pages' routes: `/v/<payload>` (what a phone camera opens), its page image,
and `/verify` (the upload form and its result)."""

from __future__ import annotations

import time
from typing import Annotated

import anyio
import anyio.to_thread
from fastapi import APIRouter, File, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, Response

from api.pages.verify.context import expensive_slots, page_slots, verify_code
from api.pages.verify.images import page_image
from api.pages.verify.locale import page_lang
from api.pages.verify.render import render_form, render_result
from api.pages.verify.upload import Answer, check_upload, read_upload
from api.services.content_index import database_index

router = APIRouter(tags=["verify pages"], include_in_schema=False)

# Any value is accepted and read leniently (`page_lang`, `is_large`): a citizen's odd link
# still gets the page, never a JSON 422.
LangQ = Annotated[str | None, Query()]
LargeQ = Annotated[str | None, Query()]


def is_large(large: str | None) -> bool:
    """Whether `?large=` asks for large print."""
    return (large or "").lower() in ("1", "true", "yes", "on")


@router.get("/v/{code:path}/page.png")
async def verify_page_image(request: Request, code: str) -> Response:
    """The authentic page the code names, rendered from the office's file (public only).

    Rendering is expensive work an anonymous caller can ask for: it runs in the expensive
    slots (`NOTARY_EXPENSIVE_CONCURRENCY`), never in the citizens' verify-page slots."""
    return await anyio.to_thread.run_sync(
        page_image, request, code, limiter=expensive_slots(request)
    )


@router.get("/v/{code:path}", response_class=HTMLResponse)
async def verify_code_page(
    request: Request, code: str, lang: LangQ = None, large: LargeQ = None
) -> HTMLResponse:
    """What a phone camera opens: the verdict for the code in the URL.

    `Server-Timing` says how long the page waited for a slot (`wait`) and how long the
    server then worked on it (`verify`: the chain read and the rendering).
    """
    arrived = time.perf_counter()
    started = 0.0

    def work() -> HTMLResponse:
        nonlocal started
        started = time.perf_counter()
        result = verify_code(request, code)
        return render_result(request, result, lang=page_lang(lang), large=is_large(large),
                             code=code)  # fmt: skip

    response = await anyio.to_thread.run_sync(work, limiter=page_slots(request))
    done = time.perf_counter()
    response.headers["Server-Timing"] = (
        f"wait;dur={(started - arrived) * 1e3:.2f}, verify;dur={(done - started) * 1e3:.2f}"
    )
    return response


@router.get("/verify", response_class=HTMLResponse)
def verify_form(request: Request, lang: LangQ = None, large: LargeQ = None) -> HTMLResponse:
    """The upload form: a file or a photo of a page."""
    return render_form(request, page_lang(lang), is_large(large))


@router.post("/verify", response_class=HTMLResponse)
async def verify_upload(
    request: Request,
    file: Annotated[UploadFile | None, File()] = None,
    lang: LangQ = None,
    large: LargeQ = None,
) -> Response:
    """Verify an uploaded file (any bytes, stamped PDF) or a photo of a page; JSON with
    `Accept: application/json`.

    The work runs in the expensive slots (`NOTARY_EXPENSIVE_CONCURRENCY`), not the verify
    pages': decoding a photo takes tens of MB and CPU for a moment, so uploads must not all
    run at once nor crowd out citizens opening `/v/` pages. Each client may send only so
    many (`NOTARY_RATE_LIMIT_*`, 429 after); a PDF over the anonymous page or inflated-size
    caps is refused (413) before it is parsed; a file without a QR code is looked up in this
    service's own database, never in the chain's history.
    """
    answer = Answer(request, page_lang(lang), is_large(large))
    data, refusal = await read_upload(answer, file)
    if refusal is not None or data is None:
        return refusal or answer.refuse(400, "no_file", "no file uploaded")
    index = database_index(request)
    return await anyio.to_thread.run_sync(
        check_upload, answer, data, index, limiter=expensive_slots(request)
    )
