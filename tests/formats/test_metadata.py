"""Metadata: strict model, RFC 8785 canonical JSON, SHA-256 of it as `metadataHash`."""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from notary.errors import InvalidInput
from notary.formats.hashing import Digest, sm3_bytes
from notary.formats.metadata import (
    MAX_EXTRA_ENTRIES,
    MAX_TITLE,
    METADATA_FORMAT,
    AccessTier,
    Metadata,
    metadata_hash,
)

SM3 = sm3_bytes(b"content")


def _meta(**change: Any) -> Metadata:
    fields: dict[str, Any] = {
        "title": "关于2024年度部门预算的公告",
        "office": "示范市财政局",
        "category": "预算决算",
        "publication_date": date(2024, 2, 29),
        "reviewer": "王五",
        "language": "zh-CN",
        "access_tier": AccessTier.PUBLIC,
        "sm3": SM3,
    }
    fields.update(change)
    return Metadata(**fields)


def test_canonical_json_is_sorted_compact_utf8() -> None:
    m = _meta(extra={"zeta": "1", "alpha": "2"})
    raw = m.canonical_json()
    text = raw.decode("utf-8")
    assert text.startswith('{"access_tier":"public","category":"预算决算","extra":{"alpha":"2"')
    assert " " not in text.replace("关于2024年度部门预算的公告", "")
    assert "\\u" not in text  # non-ASCII stays as UTF-8, not escaped
    assert json.loads(text)["format"] == METADATA_FORMAT
    assert m.metadata_hash() == hashlib.sha256(raw).digest() == metadata_hash(m)


def test_hash_depends_on_every_field() -> None:
    base = _meta().metadata_hash()
    changes: list[dict[str, Any]] = [
        {"title": "关于2024年度部门预算的公告 "[:-1] + "。"},
        {"office": "示范市税务局"},
        {"category": "政策文件"},
        {"publication_date": date(2024, 3, 1)},
        {"reviewer": "赵六"},
        {"language": "zh-TW"},
        {"access_tier": "restricted"},
        {"sm3": Digest(bytes(32))},
        {"extra": {"doc_no": "1"}},
    ]
    hashes = {_meta(**c).metadata_hash() for c in changes}
    assert base not in hashes and len(hashes) == len(changes)


def test_extra_is_immutable_and_order_independent() -> None:
    a = _meta(extra={"b": "2", "a": "1"})
    b = _meta(extra={"a": "1", "b": "2"})
    assert a == b and hash(a) == hash(b) and a.canonical_json() == b.canonical_json()
    with pytest.raises(TypeError):
        a.extra["c"] = "3"  # type: ignore[index]
    source = {"a": "1"}
    c = _meta(extra=source)
    source["a"] = "changed"
    assert c.extra["a"] == "1"


def test_text_is_hashed_exactly_as_given() -> None:
    """No NFC: a CJK compatibility ideograph stays distinct from its unified twin."""
    assert _meta(reviewer="金\uf90a").metadata_hash() != _meta(reviewer="金金").metadata_hash()
    assert "\uf90a" in _meta(reviewer="金\uf90a").canonical_json().decode()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"title": ""}, "title must not be empty"),
        ({"title": "   "}, "title must not be empty"),
        ({"title": " lead"}, "whitespace"),
        ({"title": "x" * (MAX_TITLE + 1)}, "longer than"),
        ({"title": "a\nb"}, "control character U\\+000A"),
        ({"title": "a\x00b"}, "control character"),
        ({"title": "a\ud800b"}, "surrogate"),
        ({"title": 5}, "title must be a string"),
        ({"office": None}, "office must be a string"),
        ({"category": ""}, "category"),
        ({"reviewer": "r\x7f"}, "control character"),
        ({"language": "chinese!"}, "BCP 47"),
        ({"language": "z"}, "BCP 47"),
        ({"language": "zh-" + "-".join(["abcdefgh"] * 4)}, "longer than"),
        ({"publication_date": "2024-01-01"}, "datetime.date"),
        ({"publication_date": datetime(2024, 1, 1)}, "datetime.date"),
        ({"access_tier": "secret"}, "access_tier must be one of"),
        ({"sm3": "00" * 32}, "sm3 must be"),
        ({"sm3": bytes(31)}, "32 bytes"),
        ({"extra": [("a", "b")]}, "mapping"),
        ({"extra": {"A": "b"}}, "extra key"),
        ({"extra": {"": "b"}}, "extra key"),
        ({"extra": {"a" * 65: "b"}}, "longer than"),
        ({"extra": {"k": 1}}, "must be a string"),
        ({"extra": {"k": "x" * 2001}}, "longer than"),
        ({"extra": {"k": "bell\x07"}}, "control character"),
        ({"extra": {f"k{i}": "v" for i in range(MAX_EXTRA_ENTRIES + 1)}}, "entries"),
    ],
)
def test_invalid_metadata_is_refused(change: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        _meta(**change)


def test_extra_values_may_span_lines() -> None:
    assert _meta(extra={"abstract": "第一段\n\t第二段"}).extra["abstract"] == "第一段\n\t第二段"


def test_from_dict_round_trips_and_accepts_omitted_format_and_extra() -> None:
    m = _meta(extra={"doc_no": "财〔2024〕1号"})
    assert Metadata.from_dict(m.to_dict()) == m
    assert Metadata.from_json(m.canonical_json()) == m
    bare = _meta().to_dict()
    del bare["format"], bare["extra"]
    assert Metadata.from_dict(bare) == _meta()


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.update(colour="red"), "unknown metadata member"),
        (lambda d: d.pop("title"), "missing metadata member"),
        (lambda d: d.update(format="disclosure-notary/metadata/v2"), "unsupported metadata format"),
        (lambda d: d.update(publication_date="2024-2-29"), "YYYY-MM-DD"),
        (lambda d: d.update(publication_date="20240229"), "YYYY-MM-DD"),
        (lambda d: d.update(publication_date="2023-02-29"), "not a real day"),
        (lambda d: d.update(access_tier=1), "access_tier must be one of"),
        (lambda d: d.update(access_tier="PUBLIC"), "access_tier must be one of"),
        (lambda d: d.update(sm3="0x" + "00" * 32), "sm3 must be 64 hex"),
        (lambda d: d.update(sm3="zz" * 32), "hex digest"),
        (lambda d: d.update(title=["list"]), "title must be a string"),
    ],
)
def test_from_dict_is_strict(mutate: Any, message: str) -> None:
    data = _meta().to_dict()
    mutate(data)
    with pytest.raises(InvalidInput, match=message):
        Metadata.from_dict(data)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"title": "a", "title": "b"}', "duplicate JSON member"),
        ('{"title": NaN}', "NaN is not allowed"),
        ("{", "not valid JSON"),
        (b"\xff\xfe", "not valid JSON"),
        ("[]", "JSON object"),
        ("x" * 200_000, "too large"),
    ],
)
def test_from_json_is_strict(text: str | bytes, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        Metadata.from_json(text)


# The free-text allow-list (notary.formats.fields): no C* (controls, format, private use,
# unassigned, surrogates) and no line or paragraph separators.
REFUSED = ("Cc", "Cf", "Co", "Cn", "Cs", "Zl", "Zp")
TEXT = st.text(
    alphabet=st.characters(blacklist_categories=REFUSED), min_size=1, max_size=40
).filter(lambda s: s == s.strip() and not s.isspace())


@settings(max_examples=100, deadline=None)
@given(
    title=TEXT,
    office=TEXT,
    reviewer=TEXT,
    day=st.dates(),
    tier=st.sampled_from(AccessTier),
    sm3=st.binary(min_size=32, max_size=32),
    extra=st.dictionaries(
        st.from_regex(r"[a-z][a-z0-9_.-]{0,10}", fullmatch=True),
        st.text(
            alphabet=st.characters(blacklist_categories=REFUSED) | st.sampled_from("\n\t"),
            max_size=30,
        ),
        max_size=5,
    ),
)
def test_any_valid_metadata_round_trips_through_canonical_json(
    title: str, office: str, reviewer: str, day: date, tier: AccessTier, sm3: bytes, extra: dict
) -> None:
    m = Metadata(title, office, "c", day, reviewer, "zh-CN", tier, Digest(sm3), extra)
    again = Metadata.from_json(m.canonical_json())
    assert again == m
    assert again.canonical_json() == m.canonical_json()
    assert again.metadata_hash() == m.metadata_hash()
