"""Language and large print for every page (the verify pages, the register, the console).

Chinese by default, `?lang=en` for English, `?large=1` for large print; any other value is
read leniently (an odd link still gets the page). The words are JSON files, one per
language with the same keys (tests check they match), in two books: the citizen's verify
pages (`api/pages/locales/<lang>.json`) and the rest of the site
(`api/pages/web/locales/<lang>.json`).
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from urllib.parse import urlencode

from fastapi import Request

LANGS = ("zh", "en")
LOCALE_DIR = Path(__file__).resolve().parent / "locales"
"""The site's book (landing page, register, sign-in, console, desk, admin)."""
VERIFY_LOCALE_DIR = Path(__file__).resolve().parent.parent / "locales"
"""The verify pages' book."""


def page_lang(value: str | None) -> str:
    """`en` for any value starting with "en", else `zh`."""
    return "en" if (value or "").lower().startswith("en") else "zh"


def is_large(value: str | None) -> bool:
    """Whether the large-print flag is on ("1", "true", "yes", "on")."""
    return (value or "").lower() in ("1", "true", "yes", "on")


@functools.cache
def strings(lang: str, book: Path = LOCALE_DIR) -> dict[str, str]:
    """The strings of a language in a book (read once)."""
    return json.loads((book / f"{page_lang(lang)}.json").read_text(encoding="utf-8"))


def query(lang: str, large: bool, **extra: str | int | None) -> str:
    """The query string keeping the language and size (and `extra`, None values left out)."""
    q: dict[str, str] = {}
    if lang == "en":
        q["lang"] = "en"
    if large:
        q["large"] = "1"
    q.update({k: str(v) for k, v in extra.items() if v not in (None, "")})
    return ("?" + urlencode(q)) if q else ""


def request_look(request: Request) -> tuple[str, bool]:
    """The language and size a request asks for (query string first, then form fields
    carried over in the URL of the form's action)."""
    params = request.query_params
    return page_lang(params.get("lang")), is_large(params.get("large"))


def toggled(request: Request, *, lang: str | None = None, large: bool | None = None) -> str:
    """This page's URL with the language or the size switched, other parameters kept."""
    params = dict(request.query_params)
    cur_lang, cur_large = request_look(request)
    new_lang = cur_lang if lang is None else lang
    new_large = cur_large if large is None else large
    params.pop("lang", None)
    params.pop("large", None)
    return request.url.path + query(new_lang, new_large, **params)
