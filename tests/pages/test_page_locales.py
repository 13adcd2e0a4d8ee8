"""The verify pages' words and the verdict looks: one table, every key in every language."""

from __future__ import annotations

import re

from support import paths

from api.pages.verify.locale import LANGS, STRINGS, page_lang
from verifier.result import STEP_LOOK, VERDICT_LOOK, StepStatus, Verdict

TEMPLATES = paths.ROOT / "api" / "pages" / "templates"


def test_every_language_has_the_same_keys_and_no_blank() -> None:
    keys = {lang: set(STRINGS[lang]) for lang in LANGS}
    assert keys["zh"] == keys["en"], keys["zh"] ^ keys["en"]
    for lang in LANGS:
        assert all(v.strip() for v in STRINGS[lang].values()), lang


def test_every_key_the_templates_use_is_in_the_locales() -> None:
    used = set()
    for path in TEMPLATES.glob("verify_*.html"):
        used |= set(re.findall(r"\bt\.([a-z_]+)", path.read_text(encoding="utf-8")))
    assert used, "the templates use no locale key: the pattern is wrong"
    assert used <= set(STRINGS["zh"]), used - set(STRINGS["zh"])


def test_every_verdict_has_one_look_a_headline_and_an_explanation() -> None:
    assert set(VERDICT_LOOK) == set(Verdict) and set(STEP_LOOK) == set(StepStatus)
    assert [v for v, look in VERDICT_LOOK.items() if look.tone == "ok"] == [
        Verdict.AUTHENTIC_CURRENT
    ]
    for lang in LANGS:
        for verdict in Verdict:
            assert STRINGS[lang][verdict.value] and STRINGS[lang]["explain_" + verdict.value]


def test_odd_language_values_fall_back_to_chinese() -> None:
    assert [page_lang(v) for v in (None, "", "EN-gb", "fr", "zh")] == ["zh", "zh", "en", "zh", "zh"]
