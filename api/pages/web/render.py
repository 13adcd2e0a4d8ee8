"""Rendering a site page: the shared context, the security headers, errors as pages.

Every page gets `t` (its language's strings), `lang`, `large`, links to switch language and
size, `me` (the live session or None) and `csrf` (a token for its forms). A library or API
error raised by a page becomes that error's status with the page explaining it, never a
traceback or a JSON body; a page that needs a session redirects to the sign-in form.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException

from api.core.errors import status_for
from api.pages.templating import templates
from api.pages.web import csrf
from api.pages.web.auth import SignInNeeded
from api.pages.web.cookies import set_site_cookie
from api.pages.web.locale import query, request_look, strings, toggled
from api.services.console_sessions import SignedIn
from notary.errors import NotaryError

log = logging.getLogger(__name__)

CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
"""No script at all: the pages work with HTML forms and links alone."""


CHINA_TZ = dt.timezone(dt.timedelta(hours=8))


def when(value: Any, lang: str = "zh") -> str:
    """A timestamp (datetime or ISO text) as Beijing time, in the page's language."""
    if value in (None, ""):
        return ""
    try:
        moment = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return str(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    local = moment.astimezone(CHINA_TZ)
    return local.strftime("%Y年%m月%d日 %H:%M" if lang == "zh" else "%Y-%m-%d %H:%M (UTC+8)")


templates.env.filters["when"] = when


def secure(response: Response) -> Response:
    """The headers every site page carries (no caching of staff pages, no framing)."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = CSP
    return response


def render(
    request: Request,
    name: str,
    context: dict[str, Any] | None = None,
    *,
    me: SignedIn | None = None,
    status: int = 200,
) -> HTMLResponse:
    """The template `name` with the shared context (see the module docstring)."""
    lang, large = request_look(request)
    pre_new = None
    if me is None:
        pre = request.cookies.get(csrf.PRE_COOKIE)
        if not pre or len(pre) > 64:
            pre = pre_new = secrets.token_urlsafe(24)
        bound = pre
    else:
        bound = me.token_hash
    ctx = {
        "t": strings(lang),
        "lang": lang,
        "large": large,
        "q": functools.partial(query, lang, large),
        "lang_link": toggled(request, lang="zh" if lang == "en" else "en"),
        "large_link": toggled(request, large=not large),
        "me": me,
        "csrf": csrf.make_token(request, bound),
        "csrf_field": csrf.FIELD,
        **(context or {}),
    }
    response = templates.TemplateResponse(request, name, ctx, status_code=status)
    if pre_new is not None:
        set_site_cookie(request, response, csrf.PRE_COOKIE, pre_new)
    return secure(response)


def redirect(request: Request, path: str, **params: str | int | None) -> RedirectResponse:
    """A 303 to `path` keeping the language and size."""
    lang, large = request_look(request)
    return RedirectResponse(path + query(lang, large, **params), status_code=303)


def error_page(request: Request, exc: Exception, me: SignedIn | None = None) -> HTMLResponse:
    """The page for a refused request: its status and its reason."""
    status = status_for(exc) if isinstance(exc, NotaryError) else 500
    if isinstance(exc, HTTPException):
        status = exc.status_code
    detail = str(exc) if status < 500 else ""
    return render(
        request, "web/error.html", {"status": status, "detail": detail}, me=me, status=status
    )


P = ParamSpec("P")


def page(fn: Callable[P, Awaitable[Response]]) -> Callable[P, Awaitable[Response]]:
    """Turn a page's refusals into pages: sign-in redirects, 4xx pages with the reason,
    and a plain 500 page (logged) for anything unexpected."""

    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> Response:
        request = kwargs.get("request")
        assert isinstance(request, Request), "a page takes `request` as a keyword"
        started = time.perf_counter()
        try:
            response = await fn(*args, **kwargs)
        except SignInNeeded as need:
            response = redirect(request, "/signin", next=need.next_path)
        except (NotaryError, HTTPException) as exc:
            response = error_page(request, exc, getattr(request.state, "signed_in", None))
        except Exception as exc:  # a page never shows a traceback
            log.exception("page %s failed", request.url.path)
            response = error_page(request, exc, getattr(request.state, "signed_in", None))
        # the server's own time on the page (reads, writes, rendering): what bench_pages reads
        spent = (time.perf_counter() - started) * 1e3
        response.headers["Server-Timing"] = f"page;dur={spent:.2f}"
        return response

    return wrapper
