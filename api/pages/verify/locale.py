"""The verify pages' words (`api/pages/locales/<lang>.json`), read by the site's one loader.

Every page in every language uses the same dicts. Chinese is the default; English has
exactly the same keys (a missing key is a test failure, not a blank on a citizen's screen).
"""

from __future__ import annotations

from api.pages.web.locale import LANGS, VERIFY_LOCALE_DIR, page_lang, strings

STRINGS: dict[str, dict[str, str]] = {lang: strings(lang, VERIFY_LOCALE_DIR) for lang in LANGS}
"""Each language's strings by key."""

__all__ = ["LANGS", "STRINGS", "page_lang"]
