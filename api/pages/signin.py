"""Sign-in and sign-out for office staff and administrators.

Two ways in: a person's username and password (argon2id, `api.services.people`), or an
office's API key pasted once (the session then acts as that key). Either opens a session
(`api.services.console_sessions`) whose token goes into the `notary_session` cookie
(`api.pages.web.auth`); both forms carry a CSRF token bound to the browser's pre-session
cookie, and attempts are rate-limited per client like the other expensive anonymous work.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from api.core.deps import Caller, lookup_caller
from api.core.errors import Forbidden, Unauthenticated
from api.core.limits import RateLimiter, client_address, retry_after
from api.pages.web import auth, csrf, forms
from api.pages.web.render import page, redirect, render
from api.services import console_sessions, people
from notary.db.types import KeyRole

router = APIRouter(tags=["pages"], include_in_schema=False)

HOME_OF = {KeyRole.PUBLISHER: "/console", KeyRole.AUDITOR: "/desk", KeyRole.ADMIN: "/admin"}


def safe_next(value: str | None) -> str | None:
    """A local path to go to after signing in, or None (never another site)."""
    if not value or len(value) > 200 or not value.startswith("/") or value.startswith("//"):
        return None
    if "\\" in value or any(ord(c) < 33 for c in value):
        return None
    return value


def _limiter(request: Request) -> RateLimiter:
    state = request.app.state
    limiter = getattr(state, "signin_limiter", None)
    if limiter is None:
        settings = state.settings
        limiter = RateLimiter(settings.rate_limit_per_minute, settings.rate_limit_burst)
        state.signin_limiter = limiter
    return limiter


def _form(request: Request, *, note: str | None = None, status: int = 200, next_path=None):
    return render(
        request, "web/signin.html", {"note": note, "next": next_path or ""}, status=status
    )


@router.get("/signin", response_class=HTMLResponse)
@page
async def signin_form(request: Request) -> Response:
    """The two sign-in forms (or a link on, for a browser already signed in)."""

    def work() -> Response:
        with request.app.state.db.session() as session:
            me = auth.who(request, session)
        if me is not None:
            return redirect(request, HOME_OF[me.role])
        return _form(request, next_path=safe_next(request.query_params.get("next")))

    return await run_in_threadpool(work)


@router.post("/signin", response_class=HTMLResponse)
@page
async def signin(request: Request) -> Response:
    """Check the credentials; on success open a session and go to the role's home page."""
    form = await request.form()
    csrf.check(request, form.get(csrf.FIELD), None)
    t_next = safe_next(forms.text(form, "next", max_len=200))
    settings = request.app.state.settings
    proxies = frozenset(settings.trusted_proxies or ())
    if (wait := _limiter(request).take(client_address(request.scope, proxies))) is not None:
        response = _form(request, note="too_many", status=429, next_path=t_next)
        response.headers["Retry-After"] = retry_after(wait)
        return response
    username = forms.text(form, "username", max_len=64)
    password = form.get("password")
    api_key = forms.text(form, "api_key", max_len=200)

    def work() -> Response:
        db = request.app.state.db
        person_id = None
        try:
            if api_key:
                caller: Caller = lookup_caller(db, settings, api_key)
                assert caller.key_id is not None
                key_id = caller.key_id
            elif username and isinstance(password, str) and password:
                with db.session() as session:
                    person = people.authenticate(session, username, password)
                    key_id, person_id = person.api_key_id, person.id
            else:
                return _form(request, note="signin_missing", status=400, next_path=t_next)
        except (Unauthenticated, Forbidden):
            return _form(request, note="signin_wrong", status=401, next_path=t_next)
        with db.session() as session:
            token = console_sessions.open_session(
                session,
                api_key_id=key_id,
                person_id=person_id,
                minutes=settings.console_session_minutes,
            )
            me = console_sessions.resolve(session, token)
            session.rollback()
        if me is None:  # revoked between the check and the session: refused all the same
            return _form(request, note="signin_wrong", status=401, next_path=t_next)
        response = redirect(request, t_next or HOME_OF[me.role])
        auth.set_cookie(request, response, token)
        return response

    return await run_in_threadpool(work)


@router.post("/signout", response_class=HTMLResponse)
@page
async def signout(request: Request) -> Response:
    """End this browser's session (its row is revoked, the cookie removed)."""
    form = await request.form()

    def work() -> Response:
        with request.app.state.db.session() as session:
            me = auth.who(request, session)
            csrf.check(request, form.get(csrf.FIELD), me.token_hash if me else None)
            console_sessions.end_session(session, request.cookies.get(auth.COOKIE))
        response = redirect(request, "/", signed_out=1)
        auth.clear_cookie(request, response)
        return response

    return await run_in_threadpool(work)
