"""A browser-like client of the site's pages: its own cookie jar, CSRF tokens read from the
forms it was served, and sign-in helpers (used by the console's page tests)."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
IDEM = re.compile(r'name="idem" value="([^"]+)"')


class Web:
    """One browser: a TestClient on the app with a cookie jar of its own."""

    def __init__(self, app: Any) -> None:
        self.c = TestClient(app, follow_redirects=False)
        self.token: str | None = None

    def get(self, path: str, **kw: Any):
        r = self.c.get(path, **kw)
        if m := TOKEN.search(r.text if "html" in r.headers.get("content-type", "") else ""):
            self.token = m.group(1)
        return r

    def post(self, path: str, data: dict | None = None, *, token: bool = True, **kw: Any):
        body = dict(data or {})
        if token and "csrf_token" not in body:
            assert self.token, "no form served yet"
            body["csrf_token"] = self.token
        r = self.c.post(path, data=body, **kw)
        if m := TOKEN.search(r.text if "html" in r.headers.get("content-type", "") else ""):
            self.token = m.group(1)
        return r

    def form_value(self, html: str, name: str) -> str:
        m = re.search(rf'name="{re.escape(name)}" value="([^"]*)"', html)
        assert m, f"no field {name}"
        return m.group(1)

    def sign_in_key(self, key: str) -> None:
        self.get("/signin")
        r = self.post("/signin", {"api_key": key})
        assert r.status_code == 303, r.text
        self.get(r.headers["location"])

    def sign_in(self, username: str, password: str):
        self.get("/signin")
        return self.post("/signin", {"username": username, "password": password})


def plain_key(headers: dict[str, str]) -> str:
    """The plain key of a bearer header."""
    return headers["Authorization"].removeprefix("Bearer ")


RELEASE_FIELDS = {
    "title": "2026 district budget",
    "category": "budget",
    "reviewer": "Li Wei",
    "publication_date": "2026-01-15",
    "language": "zh-CN",
    "tier": "public",
    "document_number": "区府发〔2026〕1号",
}
