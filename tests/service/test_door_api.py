"""The API door refuses what the chain or the leaf encoder would refuse, and free text that
could mislead a reader, with a 4xx naming the field (real app, SQLite and PostgreSQL)."""

from __future__ import annotations

import json

import pytest
from support.api_client import MD, Api, sql

# The API suite's fixtures (a module-level name is how pytest finds them).

HOLDER = json.dumps({"name": "Zhang San"})


def _issue(api: Api, office, *, holder: str = HOLDER, md: dict | None = None, **form: str):
    return api.c.post(
        "/api/v1/certificates",
        data={"holder": holder, "metadata": json.dumps(md or MD), **form},
        headers=office.publisher,
    )


def _count(api: Api, table: str) -> int:
    return sql(api, f"SELECT count(*) FROM {table}")[0][0]


@pytest.mark.parametrize(
    "valid_until",
    [
        "1969-12-31T23:59:59Z",
        "1900-01-01T00:00:00Z",
        "0001-01-01T00:00:00Z",
        "1970-01-01T00:00:00Z",  # would be anchored as "no end"
        "1970-01-01T00:00:00.500Z",  # whole seconds: the same as the epoch
        "1970-01-01T08:00:00+08:00",  # the epoch in Beijing time
    ],
)
def test_certificate_validity_end_at_or_before_the_epoch_is_refused(
    api: Api, valid_until: str
) -> None:
    office = api.office()
    r = _issue(api, office, valid_until=valid_until)
    assert r.status_code == 400, r.text
    assert "valid_until must be after 1970-01-01T00:00:00Z" in r.json()["detail"]
    assert _count(api, "records") == 0 and _count(api, "revisions") == 0


def test_certificate_validity_end_just_after_the_epoch_is_accepted(api: Api) -> None:
    office = api.office()
    r = _issue(api, office, valid_until="1970-01-01T00:00:01Z")
    assert r.status_code == 201, r.text
    assert r.json()["valid_until"].startswith("1970-01-01T00:00:01")


# --- free text: one allow-list --------------------------------------------------------------

# Characters the old spoofing list missed, then the ones it had (for every other field).
SNEAKY = {
    "lrm": "\u200e",  # LEFT-TO-RIGHT MARK (Cf)
    "zwj": "\u200d",  # ZERO WIDTH JOINER (Cf)
    "soft-hyphen": "\u00ad",  # SOFT HYPHEN (Cf): invisible
    "private-use": "\ue000",  # Co
    "unassigned": "\u0378",  # Cn
}
BIDI = {"rlo": "\u202e", "rli": "\u2067", "zwsp": "\u200b", "bom": "\ufeff"}


@pytest.mark.parametrize("ch", SNEAKY.values(), ids=SNEAKY.keys())
def test_title_category_reviewer_and_extra_refuse_invisible_characters(api: Api, ch: str) -> None:
    office = api.office()
    for field, md in [
        ("title", {**MD, "title": f"budget{ch}2026"}),
        ("category", {**MD, "category": f"bud{ch}get"}),
        ("reviewer", {**MD, "reviewer": f"Li{ch}Wei"}),
        ("extra.doc_no", {**MD, "extra": {"doc_no": f"财〔2024〕{ch}1号"}}),
    ]:
        r = api.publish(office, md=md)
        assert r.status_code == 400, (field, r.text)
        detail = r.json()["detail"]
        assert f"metadata {field}" in detail and f"U+{ord(ch):04X}" in detail, detail
    assert _count(api, "records") == 0


def test_a_line_break_is_refused_in_a_single_line_field(api: Api) -> None:
    office = api.office()
    for ch in ("\n", "\u2028", "\u2029"):
        r = api.publish(office, md={**MD, "title": f"budget{ch}2026"})
        assert r.status_code == 400 and f"U+{ord(ch):04X}" in r.json()["detail"], r.text
    assert _count(api, "records") == 0


def test_free_text_keeps_what_scripts_and_layout_need(api: Api) -> None:
    office = api.office()
    md = {
        **MD,
        "title": "二〇二六年度 «预算» — №1 ½ €5 ١٢٣ Ελλάδα café",
        "extra": {"abstract": "第一段\n\t第二段"},
    }
    r = api.publish(office, md=md)
    assert r.status_code == 201, r.text
    assert r.json()["title"] == md["title"]


@pytest.mark.parametrize("ch", [*BIDI.values(), *SNEAKY.values()], ids=[*BIDI, *SNEAKY])
def test_revocation_reason_refuses_bidi_and_invisible_characters(api: Api, ch: str) -> None:
    office = api.office()
    record = api.published(office)["id"]
    r = api.c.post(
        f"/api/v1/records/{record}/revoke",
        json={"reason": f"wrong figures{ch}gpj.exe"},
        headers=office.publisher,
    )
    assert r.status_code == 422, r.text
    (error,) = r.json()["detail"]
    assert error["loc"][-1] == "reason" and f"U+{ord(ch):04X}" in error["msg"]
    assert _count(api, "revocations") == 0


def test_change_note_refuses_a_bidi_override(api: Api) -> None:
    office = api.office()
    record = api.published(office)["id"]
    r = api.c.post(
        f"/api/v1/records/{record}/revisions",
        data={"change_note": "fixed \u202eexe.gpj", "metadata": json.dumps({"title": "t2"})},
        headers=office.publisher,
    )
    assert r.status_code == 422, r.text
    (error,) = r.json()["detail"]
    assert error["loc"][-1] == "change_note" and "U+202E" in error["msg"]
    assert _count(api, "revisions") == 1
    ok = api.c.post(
        f"/api/v1/records/{record}/revisions",
        data={"change_note": "line one\nline two", "metadata": json.dumps({"title": "t2"})},
        headers=office.publisher,
    )
    assert ok.status_code == 201, ok.text


def test_supersede_reason_office_name_and_key_label_refuse_bidi(api: Api) -> None:
    office = api.office()
    a, b = api.published(office, b"a")["id"], api.published(office, b"b")["id"]
    r = api.c.post(
        f"/api/v1/records/{a}/supersede",
        json={"by": b, "reason": "newer\u2066 one"},
        headers=office.publisher,
    )
    assert r.status_code == 422 and "U+2066" in r.text, r.text
    r = api.c.post(
        "/api/v1/offices",
        json={"office_id": "ee" * 32, "number": 99, "name": "Tax\u202e office"},
        headers=api.admin,
    )
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"][-1] == "name" and "U+202E" in r.text
    r = api.c.post(
        f"/api/v1/offices/{office.id}/keys",
        json={"role": "publisher", "label": "ops\u200bkey"},
        headers=api.admin,
    )
    assert r.status_code == 422 and "U+200B" in r.text, r.text
    assert _count(api, "offices") == 1 and _count(api, "replacements") == 0


def test_certificate_holder_text_refuses_bidi(api: Api) -> None:
    office = api.office()
    r = _issue(api, office, holder=json.dumps({"name": "Zhang\u202eSan"}))
    assert r.status_code == 400, r.text
    assert "holder.name" in r.json()["detail"] and "U+202E" in r.json()["detail"]
    r = _issue(api, office, holder=json.dumps({"na\u200dme": "Zhang San"}))
    assert r.status_code == 400 and "U+200D" in r.json()["detail"], r.text
    assert _count(api, "records") == 0


def test_database_text_is_isolated_on_the_verify_page() -> None:
    """Titles, office names and reasons are wrapped in <bdi>, so even a right-to-left run
    (an office name read from the chain may hold one) cannot reorder the page around it."""
    from types import SimpleNamespace

    from api.pages.templating import templates
    from api.pages.verify import STRINGS, RecordExtras

    result = SimpleNamespace(
        verdict=SimpleNamespace(value="revoked"),
        office_name="Tax \u202eoffice",
        issuer_name="Test chain",
        record_id="ab" * 32,
        revoked_reason_hash=None,
        kind=None,
        version=1,
        current_version=1,
        page=None,
    )
    html = templates.env.get_template("verify_result.html").render(
        t=STRINGS["en"],
        r=result,
        extras=RecordExtras(title="Budget", revocation_reason="wrong figures"),
        steps=[],
        timeline=[],
    )
    for text in ("Budget", "wrong figures", "Tax \u202eoffice", "Test chain"):
        assert f"<bdi>{text}</bdi>" in html, text
