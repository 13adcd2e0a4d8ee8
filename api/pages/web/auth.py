"""The signed-in session of a page: its cookie, who it is, and what role a page needs.

The cookie (`notary_session`) is `HttpOnly`, `SameSite=Strict`, `Secure` outside
development, and lasts `NOTARY_CONSOLE_SESSION_MINUTES`; the session it names is resolved
again on every page (`api.services.console_sessions.resolve`), so it ends at sign-out, at
expiry, and the moment its key is revoked or its office suspended.
"""

from __future__ import annotations

from fastapi import Request, Response
from sqlalchemy.orm import Session

from api.core.errors import Forbidden
from api.pages.web.cookies import clear_site_cookie, set_site_cookie
from api.services import console_sessions
from api.services.console_sessions import SignedIn
from notary.db.types import KeyRole

COOKIE = "notary_session"


class SignInNeeded(Exception):
    """The page needs a live session and the browser has none (redirect to sign-in)."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


def who(request: Request, session: Session) -> SignedIn | None:
    """The live session of this browser, or None (read once per request)."""
    if hasattr(request.state, "signed_in"):
        return request.state.signed_in
    found = console_sessions.resolve(session, request.cookies.get(COOKIE))
    session.rollback()  # a read: no transaction left open on SQLite
    request.state.signed_in = found
    return found


def require(request: Request, session: Session, *roles: KeyRole) -> SignedIn:
    """The live session, of one of `roles`; else sign in (none) or 403 (another role)."""
    found = who(request, session)
    if found is None:
        raise SignInNeeded(request.url.path)
    if roles and found.role not in roles:
        names = " or ".join(r.value for r in roles)
        raise Forbidden(f"this page is for {names} accounts")
    return found


def signed_in_as(request: Request, *roles: KeyRole) -> SignedIn:
    """`require` in a database session of its own (for pages that make no other read)."""
    with request.app.state.db.session() as session:
        return require(request, session, *roles)


def set_cookie(request: Request, response: Response, token: str) -> None:
    """Put the session token in the browser (the rules in the module docstring)."""
    set_site_cookie(request, response, COOKIE, token)


def clear_cookie(request: Request, response: Response) -> None:
    """Remove the session cookie from the browser."""
    clear_site_cookie(request, response, COOKIE)
