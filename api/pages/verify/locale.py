"""The verify pages' words, one JSON file per language (`api/pages/locales/<lang>.json`).

Read once at import: every page in every language uses the same dicts. Chinese is the
default; English has exactly the same keys (a missing key is a test failure, not a blank on a
citizen's screen).
"""

from __future__ import annotations

import json
from pathlib import Path

LOCALE_DIR = Path(__file__).resolve().parent.parent / "locales"
LANGS = ("zh", "en")


def _load(lang: str) -> dict[str, str]:
    with (LOCALE_DIR / f"{lang}.json").open(encoding="utf-8") as f:
        return json.load(f)


STRINGS: dict[str, dict[str, str]] = {lang: _load(lang) for lang in LANGS}
"""Each language's strings by key."""


def page_lang(lang: str | None) -> str:
    """The language a `?lang=` value asks for, read leniently: `en…` is English, anything
    else Chinese (a citizen's odd link still gets a page)."""
    return "en" if (lang or "").lower().startswith("en") else "zh"
