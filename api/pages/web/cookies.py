"""The site's cookies, all with one set of flags: `HttpOnly`, `SameSite=Strict`, `Secure`
outside development, the whole site, and the console session's lifetime."""

from __future__ import annotations

from fastapi import Request, Response


def set_site_cookie(request: Request, response: Response, name: str, value: str) -> None:
    """Set cookie `name` on `response` with the site's flags."""
    settings = request.app.state.settings
    response.set_cookie(
        name,
        value,
        max_age=settings.console_session_minutes * 60,
        httponly=True,
        secure=settings.secure_cookies,
        samesite="strict",
        path="/",
    )


def clear_site_cookie(request: Request, response: Response, name: str) -> None:
    """Remove cookie `name` from the browser (the same flags, so the browser matches it)."""
    settings = request.app.state.settings
    response.delete_cookie(
        name, httponly=True, secure=settings.secure_cookies, samesite="strict", path="/"
    )
