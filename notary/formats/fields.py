"""The rules every door applies to what goes into a leaf or onto a public page.

One module, so that the API, the certificate issue path, the CLI and the leaf encoder
(`notary.db.leaf.to_struct`) refuse exactly the same values, and the worker never meets a
row the door would have refused (docs/formats.md, "Field rules").

- **Validity end** (`valid_until`): absent means "no end" and is encoded as 0; a given end
  must be timezone-aware, whole seconds, and strictly after the Unix epoch (the registry
  reads `validUntil == 0` as "no end", so an end *at* the epoch would silently become one,
  and an end before it has no `uint64` encoding at all).
- **Version**: 1 … 2^32 − 1 (the registry's `uint32`).
- **Free text** (titles, categories, reviewers, office names, key labels, change notes,
  revocation and supersede reasons, `extra` values, holder data): one allow-list of
  Unicode general categories, see `check_free_text`.

Pure: no database, web framework or chain.
"""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime

from notary.errors import InvalidInput
from notary.formats.revision import UINT32_MAX, UINT64_MAX, check_uint

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
NO_END = 0
"""`validUntil` of a record without a validity end."""

MAX_NOTE = 2000
"""Change notes, revocation and supersede reasons: characters at most."""

ALLOWED_CATEGORIES = frozenset(
    {
        *("Lu", "Ll", "Lt", "Lm", "Lo"),  # letters
        *("Mn", "Mc", "Me"),  # combining marks (scripts need them)
        *("Nd", "Nl", "No"),  # numbers
        *("Pc", "Pd", "Ps", "Pe", "Pi", "Pf", "Po"),  # punctuation
        *("Sm", "Sc", "Sk", "So"),  # symbols
        "Zs",  # space separators (U+0020, U+00A0, U+3000 …)
    }
)
"""Unicode general categories free text may use. Everything else is refused: controls
(Cc), format characters (Cf: bidi embeddings, overrides and isolates U+202A–202E and
U+2066–2069, marks U+200E/U+200F, zero-width U+200B–200D, U+2060, U+FEFF …), private use
(Co), unassigned (Cn), surrogates (Cs) and the line/paragraph separators (Zl, Zp)."""

MULTILINE_EXTRA = frozenset("\n\t\u2028\u2029")
"""What a multi-line field may use beyond `ALLOWED_CATEGORIES`: line feed, tab, and the
line and paragraph separators U+2028/U+2029 (line breaks: they neither hide nor reorder
text, and metadata format v1 has always accepted them in `extra`)."""


_KINDS = {
    "Cc": "control character",
    "Cf": "format character",
    "Co": "private-use character",
    "Cn": "unassigned code point",
    "Cs": "lone surrogate",
    "Zl": "line separator",
    "Zp": "paragraph separator",
}


def _describe(ch: str) -> str:
    """`format character U+202E RIGHT-TO-LEFT OVERRIDE (Cf)`, for an error message."""
    category = unicodedata.category(ch)
    name = unicodedata.name(ch, "")
    label = f"U+{ord(ch):04X}" + (f" {name}" if name else "")
    return f"{_KINDS.get(category, 'character')} {label} ({category})"


def bad_character(value: str, *, multiline: bool = False) -> str | None:
    """The first character of `value` the free-text rule refuses, described; else None."""
    for ch in value:
        if multiline and ch in MULTILINE_EXTRA:
            continue
        if unicodedata.category(ch) not in ALLOWED_CATEGORIES:
            return _describe(ch)
    return None


def check_free_text(value: str, name: str, *, multiline: bool = False) -> str:
    """Refuse text a page could show as something else; returns `value` unchanged.

    Allowed: letters, marks, numbers, punctuation, symbols and space separators (the
    categories of `ALLOWED_CATEGORIES`, as Python's `unicodedata` classifies them), plus
    line feed, tab, U+2028 and U+2029 where the field is `multiline`. The error names the
    field and the first refused character's code point.
    """
    if not isinstance(value, str):
        raise InvalidInput(f"{name} must be a string, not {type(value).__name__}")
    if (bad := bad_character(value, multiline=multiline)) is not None:
        raise InvalidInput(free_text_error(name, bad, multiline=multiline))
    return value


def free_text_error(name: str, bad: str, *, multiline: bool) -> str:
    """The message for a refused character (shared with the API's schema validators)."""
    where = "in free text" if multiline else "in a single-line field"
    return f"{name} contains a {bad}, which is not allowed {where}"


def check_note(value: str, name: str, *, required: bool = True) -> str:
    """A change note or reason: non-empty if `required`, at most `MAX_NOTE` characters,
    multi-line free text. Returns `value` unchanged."""
    check_free_text(value, name, multiline=True)
    if required and not value.strip():
        raise InvalidInput(f"{name} must not be empty")
    if len(value) > MAX_NOTE:
        raise InvalidInput(f"{name} is longer than {MAX_NOTE} characters")
    return value


# --- leaf values ------------------------------------------------------------------------


def valid_until_seconds(when: datetime | None) -> int:
    """The registry's `validUntil` for a validity end: `NO_END` for None, else its seconds.

    Refuses a naive or fractional time, and any end at or before the epoch (at the epoch it
    would read as "no end"; before it, it has no `uint64` encoding).
    """
    if when is None:
        return NO_END
    if not isinstance(when, datetime):
        raise InvalidInput(f"valid_until must be a datetime, not {type(when).__name__}")
    if when.tzinfo is None:
        raise InvalidInput("valid_until needs a timezone (e.g. 2030-01-01T00:00:00Z)")
    if when.microsecond:
        raise InvalidInput("valid_until must be whole seconds (the chain stores seconds)")
    delta = when - EPOCH
    seconds = delta.days * 86400 + delta.seconds  # exact: no float rounding
    if seconds <= 0:
        raise InvalidInput(
            f"valid_until must be after 1970-01-01T00:00:00Z, got {when.isoformat()}"
            " (omit it for a certificate without an end)"
        )
    check_uint(seconds, "valid_until", UINT64_MAX)
    return seconds


def check_validity(valid_from: datetime | None, valid_until: datetime | None) -> int:
    """A certificate's validity window: `valid_until` as `valid_until_seconds` says, and a
    start (kept in the metadata, not on chain) that is timezone-aware and before the end.
    Returns the encoded `validUntil`."""
    seconds = valid_until_seconds(valid_until)
    if valid_from is not None:
        if not isinstance(valid_from, datetime) or valid_from.tzinfo is None:
            raise InvalidInput("valid_from needs a timezone (e.g. 2030-01-01T00:00:00Z)")
        if valid_until is not None and valid_until <= valid_from:
            raise InvalidInput("valid_until must be after valid_from")
    return seconds


def check_version(version: int) -> int:
    """A revision's version: 1 … 2^32 − 1 (the registry's `uint32`). Returns it."""
    check_uint(version, "version", UINT32_MAX)
    if version < 1:
        raise InvalidInput("version must be at least 1")
    return version
