"""CSRF tokens for every form: itsdangerous-signed, bound to the browser's session.

A token is the server's signature (HMAC with `NOTARY_KEY_SECRET`, its own salt) over a
binding: the session's token hash once signed in, else a random pre-session cookie (the
sign-in form). A form posted without the token, with a token signed for another binding
(another browser, another session, a session since ended) or older than a session lasts is
refused with 403 and changes nothing. The cookies are also `SameSite=Strict`.
"""

from __future__ import annotations

import hmac
import secrets

from fastapi import Request, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

from api.core.errors import Forbidden
from api.pages.web.cookies import set_site_cookie

FIELD = "csrf_token"
PRE_COOKIE = "notary_pre"
SALT = "notary-console-csrf"


class CsrfRefused(Forbidden):
    """A form arrived without a valid CSRF token."""


def _serializer(request: Request) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(request.app.state.settings.key_secret, salt=SALT)


def binding(request: Request, session_token_hash: str | None) -> str | None:
    """What a token must be bound to: the session, else the pre-session cookie."""
    return session_token_hash or request.cookies.get(PRE_COOKIE)


def ensure_pre_session(request: Request, response: Response) -> str:
    """The pre-session cookie's value, set on `response` when the browser has none."""
    value = request.cookies.get(PRE_COOKIE)
    if not value or len(value) > 64:
        value = secrets.token_urlsafe(24)
        set_site_cookie(request, response, PRE_COOKIE, value)
    return value


def make_token(request: Request, bound_to: str) -> str:
    """A token for forms of this browser (bound to `bound_to`)."""
    return _serializer(request).dumps(bound_to)


def check(request: Request, form_token: object, session_token_hash: str | None) -> None:
    """Refuse (403) unless `form_token` is a live token for this browser's binding."""
    expected = binding(request, session_token_hash)
    if not isinstance(form_token, str) or not form_token or expected is None:
        raise CsrfRefused("the form's security token is missing; reload the page and retry")
    max_age = request.app.state.settings.console_session_minutes * 60
    try:
        bound = _serializer(request).loads(form_token, max_age=max_age)
    except BadSignature:
        raise CsrfRefused(
            "the form's security token is wrong or expired; reload and retry"
        ) from None
    if not isinstance(bound, str) or not hmac.compare_digest(bound, expected):
        raise CsrfRefused("the form's security token is not this session's; reload and retry")
