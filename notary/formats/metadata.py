"""Release metadata and its hash: RFC 8785 canonical JSON, then SHA-256 (docs/formats.md).

`Metadata` is validated once, when it is built (types, bounded lengths, text within the
free-text allow-list of `notary.formats.fields`, a BCP 47-looking language tag), so anything that
exists can be hashed. Text is hashed exactly as given: no Unicode normalisation, no trimming
(leading or trailing whitespace is refused instead), because CJK compatibility ideographs
used in names would not survive NFC.

Pure: no web3, database or web framework.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Self

import rfc8785

from notary.errors import InvalidInput
from notary.formats.fields import check_free_text
from notary.formats.hashing import Digest

METADATA_FORMAT = "disclosure-notary/metadata/v1"
"""The `format` member of every canonical metadata document (also a domain tag)."""

MAX_TITLE = 500
MAX_OFFICE = 200
MAX_CATEGORY = 100
MAX_REVIEWER = 100
MAX_LANGUAGE = 35
MAX_EXTRA_ENTRIES = 32
MAX_EXTRA_KEY = 64
MAX_EXTRA_VALUE = 2000
MAX_CANONICAL_BYTES = 64 * 1024

_LANGUAGE = re.compile(r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*")
_EXTRA_KEY = re.compile(r"[a-z][a-z0-9_.-]*")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_KEYS = frozenset(
    {
        "format",
        "title",
        "office",
        "category",
        "publication_date",
        "reviewer",
        "language",
        "access_tier",
        "sm3",
        "extra",
    }
)


class AccessTier(StrEnum):
    """Who may fetch the file; verifying a copy one holds is always open to anyone."""

    PUBLIC = "public"
    RESTRICTED = "restricted"
    INTERNAL = "internal"


@dataclass(frozen=True, slots=True)
class Metadata:
    """What an office says about a release; `metadata_hash()` goes into the revision.

    `access_tier` may be given as an `AccessTier` or its string value, `sm3` as a `Digest`
    or 32 bytes; both are stored in their typed form. `extra` is copied into a read-only
    mapping sorted by key.
    """

    title: str
    office: str
    category: str
    publication_date: date
    reviewer: str
    language: str
    access_tier: AccessTier
    sm3: Digest
    extra: Mapping[str, str] = field(default_factory=dict)
    _canonical: bytes = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _check_text(self.title, "title", MAX_TITLE)
        _check_text(self.office, "office", MAX_OFFICE)
        _check_text(self.category, "category", MAX_CATEGORY)
        _check_text(self.reviewer, "reviewer", MAX_REVIEWER)
        if not isinstance(self.language, str) or not _LANGUAGE.fullmatch(self.language):
            raise InvalidInput(
                f"language must be a BCP 47 tag such as 'zh-CN', got {self.language!r}"
            )
        if len(self.language) > MAX_LANGUAGE:
            raise InvalidInput(f"language tag longer than {MAX_LANGUAGE} characters")
        if isinstance(self.publication_date, datetime) or not isinstance(
            self.publication_date, date
        ):
            raise InvalidInput("publication_date must be a datetime.date (a day, no time)")
        try:
            object.__setattr__(self, "access_tier", AccessTier(self.access_tier))
        except ValueError:
            tiers = ", ".join(t.value for t in AccessTier)
            raise InvalidInput(
                f"access_tier must be one of {tiers}, got {self.access_tier!r}"
            ) from None
        if isinstance(self.sm3, bytes | bytearray):
            object.__setattr__(self, "sm3", Digest(self.sm3))
        elif not isinstance(self.sm3, Digest):
            raise InvalidInput(f"sm3 must be a Digest or 32 bytes, not {type(self.sm3).__name__}")
        object.__setattr__(self, "extra", _check_extra(self.extra))
        canonical = rfc8785.dumps(self.to_dict())
        if len(canonical) > MAX_CANONICAL_BYTES:
            raise InvalidInput(f"metadata exceeds {MAX_CANONICAL_BYTES} bytes as canonical JSON")
        object.__setattr__(self, "_canonical", canonical)

    def __hash__(self) -> int:
        return hash(self._canonical)

    def to_dict(self) -> dict[str, Any]:
        """The JSON document (before canonicalisation), `format` member included."""
        return {
            "format": METADATA_FORMAT,
            "title": self.title,
            "office": self.office,
            "category": self.category,
            "publication_date": self.publication_date.isoformat(),
            "reviewer": self.reviewer,
            "language": self.language,
            "access_tier": self.access_tier.value,
            "sm3": self.sm3.hex(),
            "extra": dict(self.extra),
        }

    def canonical_json(self) -> bytes:
        """The RFC 8785 canonical JSON (UTF-8 bytes) that `metadata_hash` covers."""
        return self._canonical

    def metadata_hash(self) -> bytes:
        """SHA-256 of the canonical JSON: the revision's `metadataHash`."""
        return hashlib.sha256(self._canonical).digest()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """Parse a metadata document strictly: no unknown members, exact types.

        `format` may be omitted (meaning v1); `extra` may be omitted (meaning empty).
        """
        if not isinstance(data, Mapping):
            raise InvalidInput(f"metadata must be a JSON object, not {type(data).__name__}")
        unknown = set(data) - _KEYS
        if unknown:
            raise InvalidInput(
                f"unknown metadata member(s): {', '.join(sorted(map(str, unknown)))}"
            )
        missing = _KEYS - {"format", "extra"} - set(data)
        if missing:
            raise InvalidInput(f"missing metadata member(s): {', '.join(sorted(missing))}")
        fmt = data.get("format", METADATA_FORMAT)
        if fmt != METADATA_FORMAT:
            raise InvalidInput(f"unsupported metadata format {fmt!r}, expected {METADATA_FORMAT!r}")
        return cls(
            title=data["title"],
            office=data["office"],
            category=data["category"],
            publication_date=_parse_date(data["publication_date"]),
            reviewer=data["reviewer"],
            language=data["language"],
            access_tier=data["access_tier"],
            sm3=_parse_sm3(data["sm3"]),
            extra=data.get("extra", {}),
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> Self:
        """Parse a metadata JSON document (duplicate members and NaN are refused)."""
        if len(text) > MAX_CANONICAL_BYTES * 2:
            raise InvalidInput("metadata JSON is too large")
        try:
            data = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
        except (ValueError, UnicodeDecodeError) as exc:
            if isinstance(exc, InvalidInput):
                raise
            raise InvalidInput(f"metadata is not valid JSON: {exc}") from exc
        return cls.from_dict(data)


def metadata_hash(metadata: Metadata) -> bytes:
    """SHA-256 of the metadata's RFC 8785 canonical JSON."""
    return metadata.metadata_hash()


# --- validation -------------------------------------------------------------------------


def _check_text(value: object, name: str, max_len: int) -> None:
    if not isinstance(value, str):
        raise InvalidInput(f"{name} must be a string, not {type(value).__name__}")
    if not value or value.isspace():
        raise InvalidInput(f"{name} must not be empty")
    if value != value.strip():
        raise InvalidInput(f"{name} must not start or end with whitespace")
    if len(value) > max_len:
        raise InvalidInput(f"{name} is longer than {max_len} characters")
    _check_chars(value, name, multiline=False)


def _check_chars(value: str, name: str, *, multiline: bool) -> None:
    """The one free-text rule (`notary.formats.fields`), with lone surrogates named as such."""
    if any(unicodedata.category(ch) == "Cs" for ch in value):
        raise InvalidInput(f"{name} contains a lone surrogate (not valid Unicode)")
    check_free_text(value, name, multiline=multiline)


def _check_extra(extra: object) -> Mapping[str, str]:
    if not isinstance(extra, Mapping):
        raise InvalidInput(f"extra must be a mapping of strings, not {type(extra).__name__}")
    if len(extra) > MAX_EXTRA_ENTRIES:
        raise InvalidInput(f"extra has more than {MAX_EXTRA_ENTRIES} entries")
    checked: dict[str, str] = {}
    for key in sorted(extra, key=str):
        value = extra[key]
        if not isinstance(key, str) or not _EXTRA_KEY.fullmatch(key):
            raise InvalidInput(f"extra key must match [a-z][a-z0-9_.-]*, got {key!r}")
        if len(key) > MAX_EXTRA_KEY:
            raise InvalidInput(f"extra key longer than {MAX_EXTRA_KEY} characters: {key[:20]}…")
        if not isinstance(value, str):
            raise InvalidInput(f"extra[{key!r}] must be a string, not {type(value).__name__}")
        if len(value) > MAX_EXTRA_VALUE:
            raise InvalidInput(f"extra[{key!r}] is longer than {MAX_EXTRA_VALUE} characters")
        _check_chars(value, f"extra[{key!r}]", multiline=True)
        checked[key] = value
    return MappingProxyType(checked)


def _parse_date(value: object) -> date:
    if not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
        raise InvalidInput(f"publication_date must be YYYY-MM-DD, got {value!r}")
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise InvalidInput(f"publication_date is not a real day: {value!r}") from exc


def _parse_sm3(value: object) -> Digest:
    if not isinstance(value, str) or len(value) != 64:
        raise InvalidInput("sm3 must be 64 hex digits")
    return Digest.from_hex(value)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise InvalidInput(f"duplicate JSON member {key!r}")
        result[key] = value
    return result


def _no_constant(name: str) -> Any:
    raise InvalidInput(f"{name} is not allowed in metadata JSON")
