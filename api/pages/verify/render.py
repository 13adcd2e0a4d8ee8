"""Rendering the verify pages: the verdict page (its view model) and the upload form.

Server-rendered HTML, no JavaScript, Chinese by default (`?lang=en` for English) and a
large-font high-contrast mode (`?large=1`). The verdict's mark and tone come from
`verifier.result.VERDICT_LOOK`, the words from the locale files.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, Response

from api.pages.templating import templates
from api.pages.verify.extras import anonymous_view, extras_for, shown_extras, shown_result
from api.pages.verify.images import upload_page_images
from api.pages.verify.locale import STRINGS
from verifier.metadata import check_metadata, public_record
from verifier.result import STEP_LOOK, VERDICT_LOOK, Verdict, VerificationResult

CHINA_TZ = timezone(timedelta(hours=8))
STATUS_CODES = {Verdict.INVALID_CODE: 400, Verdict.UNKNOWN: 404, Verdict.UNAVAILABLE: 503}
"""The HTTP status of a verdict page (200 for every other verdict)."""


def fmt_time(ts: int | None, lang: str) -> str | None:
    """A block time as the page shows it (China time)."""
    if not ts:
        return None
    dt = datetime.fromtimestamp(ts, CHINA_TZ)
    return dt.strftime("%Y年%m月%d日 %H:%M" if lang == "zh" else "%Y-%m-%d %H:%M (UTC+8)")


def query(lang: str, large: bool, **extra: str) -> str:
    """The query string that keeps a page's language and text size (`""` for the default)."""
    q: dict[str, str] = {}
    if lang == "en":
        q["lang"] = "en"
    if large:
        q["large"] = "1"
    q.update(extra)
    return ("?" + urlencode(q)) if q else ""


def _current_link(result: VerificationResult, lang: str, large: bool) -> str | None:
    """A verify link for the record's current version, built from the chain's own leaf."""
    if result.verdict is not Verdict.SUPERSEDED or not result.timeline or not result.registry:
        return None
    if result.replaced_by:  # replaced by another record: its id is shown instead
        return None
    try:
        from notary.formats.qr_payload import QrPayload, encode

        latest = result.timeline[-1]
        payload = QrPayload.for_page(
            chain_id=int(result.chain_id or 0),
            registry=result.registry,
            record_id=bytes.fromhex((result.record_id or "")[2:]),
            version=latest.version,
            leaf=bytes.fromhex(latest.leaf[2:]),
        )
        return "/v/" + quote(encode(payload), safe="") + query(lang, large)
    except Exception:  # a missing link is better than a broken page
        return None


def render_result(
    request: Request,
    result: VerificationResult,
    *,
    lang: str,
    large: bool,
    code: str | None = None,
    status: int | None = None,
    note: str | None = None,
    foreign: tuple[str, ...] = (),
) -> HTMLResponse:
    """The verdict page for `result`: what the tier view lets an anonymous reader see."""
    t = STRINGS[lang]
    raw = extras_for(request, result)
    # The stored metadata counts only if it hashes to the chain's metadataHash (and a
    # certificate's valid_from in it is enforced whatever the tier lets the page show).
    result = check_metadata(result, raw.metadata_json if raw is not None else None)
    view = anonymous_view(result, raw)
    extras = shown_extras(raw, view)
    current_link = _current_link(result, lang, large)
    if code is None and view is not None and not view.visible:
        current_link = None  # its code would name the record id the view withholds
    here = request.url.path
    if code:
        has_page = bool(view is not None and view.file and extras.is_pdf())
        page_images = [here.rstrip("/") + "/page.png"] if has_page else []
    else:  # an upload: the authentic pages of the revision it matched, to compare
        page_images = upload_page_images(result, extras) if view and view.file else []
    result = shown_result(result, view)
    look = VERDICT_LOOK[result.verdict]
    icon, tone = look.mark, look.tone
    headline = t[result.verdict.value]
    if foreign and tone == "ok":  # the chain backs the bytes, but never plain green
        icon, tone, headline = "⚠", "foreign", t["foreign_label"]
    context: dict[str, Any] = {
        "t": t,
        "lang": lang,
        "large": large,
        "r": result,
        "verdict": result.verdict.value,
        "icon": icon,
        "tone": tone,
        "headline": headline,
        "host_warning": t["foreign_host"].format(hosts=", ".join(foreign)) if foreign else None,
        "explain": t["explain_" + result.verdict.value],
        "note": note,
        "extras": extras,
        "reason_withheld": view is not None and view.reason_withheld,
        "replacement_withheld": view is not None and view.replacement_withheld,
        "kind_label": t.get(result.kind or "", result.kind),
        "anchored_at": fmt_time(result.anchored_at, lang),
        "revoked_at": fmt_time(result.revoked_at, lang),
        "valid_until": fmt_time(result.valid_until, lang),
        "valid_from": fmt_time(result.valid_from, lang),
        "public_record": public_record(result),
        "updated_at": fmt_time(result.current_anchored_at or result.anchored_at, lang),
        "replacement_link": (
            extras.replacement_link + query(lang, large) if extras.replacement_link else None
        ),
        "timeline": [
            {
                "version": rev.version,
                "when": fmt_time(rev.anchored_at, lang),
                "this": rev.version == result.version,
                "latest": rev.version == result.current_version,
            }
            for rev in reversed(result.timeline)
        ],
        "current_link": current_link,
        "page_images": page_images,
        "steps": [(STEP_LOOK[s.status][0], s) for s in result.steps],
        "lang_link": here + query("zh" if lang == "en" else "en", large),
        "large_link": here + query(lang, not large),
        "verify_link": "/verify" + query(lang, large),
    }
    response = templates.TemplateResponse(
        request,
        "verify_result.html",
        context,
        status_code=status or STATUS_CODES.get(result.verdict, 200),
    )
    secure(response)
    return response


def secure(response: Response) -> None:
    """The headers every verify page carries: never cached, no referrer, a strict CSP."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; "
        "base-uri 'none'; frame-ancestors 'none'"
    )


def render_form(
    request: Request, lang: str, large: bool, note: str | None = None, status: int = 200
) -> HTMLResponse:
    """The upload form; with `note` saying why an upload was not checked."""
    response = templates.TemplateResponse(
        request,
        "verify_form.html",
        {
            "t": STRINGS[lang],
            "lang": lang,
            "large": large,
            "note": note,
            "action": "/verify" + query(lang, large),
            "lang_link": "/verify" + query("zh" if lang == "en" else "en", large),
            "large_link": "/verify" + query(lang, not large),
        },
        status_code=status,
    )
    secure(response)
    return response
