"""Digit-based personal data: resident ID numbers, mobile numbers, bank card numbers."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date

from notary.errors import InvalidInput
from notary.pii.model import Hit, PiiKind

# Full-width ASCII (０-９, Ｘ, ＋, －, （ …) and the ideographic space map one-to-one onto ASCII,
# and dashes onto '-', so offsets in the normalised text are offsets in the original.
_NORMALISE = str.maketrans(
    {
        **{chr(c): chr(c - 0xFEE0) for c in range(0xFF01, 0xFF5F)},
        "\u3000": " ",
        "\u00a0": " ",
        "\u2010": "-",
        "\u2011": "-",
        "\u2012": "-",
        "\u2013": "-",
        "\u2014": "-",
        "\u2212": "-",
    }
)

_DIGITISH = frozenset("0123456789Xx")


def normalise(text: str) -> str:
    """`text` with full-width digits, letters and dashes as ASCII, same length."""
    return text.translate(_NORMALISE)


def _mask_digits(original: str, normalised: str, start: int, end: int, head: int, tail: int) -> str:
    """`original[start:end]` with every digit but the first `head` and last `tail` starred.

    Separators (spaces, dashes) stay, so the masked copy keeps the layout of the original.
    """
    positions = [i for i in range(start, end) if normalised[i] in _DIGITISH]
    hidden = set(positions[head : len(positions) - tail])
    return "".join("*" if i in hidden else original[i] for i in range(start, end))


# ---------------------------------------------------------------- resident ID numbers

_ID_WEIGHTS = tuple(pow(2, 17 - i, 11) for i in range(17))
_ID_CHECK = "10X98765432"
# Province-level codes of GB/T 2260, plus 71 (Taiwan) and 81/82/83 (residence permits for
# Hong Kong, Macao and Taiwan residents, whose region part is 810000/820000/830000).
_PROVINCES = frozenset(
    {"11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37"}
    | {"41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64"}
    | {"65", "71"}
)
_PERMITS = frozenset({"81", "82", "83"})
_EARLIEST_BIRTH = date(1850, 1, 1)  # the standard's own example is born in 1880
_ID_RE = re.compile(r"(?<![0-9])[0-9]{17}[0-9Xx](?![0-9])")
ID_NEEDS = re.compile(r"[0-9]{17}")  # in every match: text without it skips the detector


def resident_id_check_digit(first17: str) -> str:
    """The GB 11643-1999 (ISO 7064 MOD 11-2) check character for 17 digits: 0-9 or X."""
    if len(first17) != 17 or not first17.isascii() or not first17.isdigit():
        raise InvalidInput("a resident ID body is exactly 17 ASCII digits")
    return _ID_CHECK[sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS, strict=True)) % 11]


def _plausible_region(number: str) -> bool:
    head = number[:2]
    if head in _PERMITS:
        return True
    if head in _PROVINCES:
        return number[2:4] != "00"
    # Foreigners' permanent residence ID (2023): 9, province code, nationality code.
    return number[0] == "9" and number[1:3] in _PROVINCES


def _plausible_birth(number: str, today: date) -> bool:
    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return False
    return _EARLIEST_BIRTH <= born <= today


def is_resident_id(value: str, *, today: date | None = None) -> bool:
    """True for an 18-character mainland resident ID number that could really be issued.

    Checks the check digit (upper- or lower-case X), a real province-level region code and
    a real birth date between 1850 and `today`.
    """
    value = normalise(value)
    if not _ID_RE.fullmatch(value):
        return False
    if value[17].upper() != resident_id_check_digit(value[:17]):
        return False
    return _plausible_region(value) and _plausible_birth(value, today or date.today())


def id_hits(original: str, normalised: str) -> Iterator[Hit]:
    """Resident ID numbers that pass `is_resident_id`, not part of a longer digit run."""
    today = date.today()
    for m in _ID_RE.finditer(normalised):
        value = m.group()
        if not is_resident_id(value, today=today):
            continue
        preview = f"{value[:6]}{'*' * 8}{value[14:].upper()}"
        replacement = _mask_digits(original, normalised, m.start(), m.end(), 6, 4)
        yield Hit(PiiKind.ID_CARD, m.start(), m.end(), preview, replacement)


# ---------------------------------------------------------------- mobile numbers

_MOBILE_RE = re.compile(
    r"""
    (?<![0-9+])
    (?:\(?(?:\+|00)86\)?[ -]?)?          # optional +86 / 0086 / (+86)
    (?P<core>1[3-9][0-9](?:[ -]?[0-9]{4}){2})
    (?![0-9])
    """,
    re.VERBOSE,
)
MOBILE_NEEDS = re.compile(r"1[3-9][0-9][ -]?[0-9]{4}")


def mobile_hits(original: str, normalised: str) -> Iterator[Hit]:
    """Mainland mobile numbers (1[3-9]x, 11 digits, optional +86, spaces or dashes)."""
    for m in _MOBILE_RE.finditer(normalised):
        start, end = m.span("core")
        digits = re.sub(r"[^0-9]", "", m.group("core"))
        preview = f"{digits[:3]}****{digits[7:]}"
        replacement = original[m.start() : start] + _mask_digits(
            original, normalised, start, end, 3, 4
        )
        yield Hit(PiiKind.MOBILE, m.start(), m.end(), preview, replacement)


# ---------------------------------------------------------------- bank card numbers

_CARD_RE = re.compile(
    r"""
    (?<![0-9])
    (?:
        [0-9]{16,19}
      | [0-9]{4}(?P<sep>[ -])[0-9]{4}(?P=sep)[0-9]{4}(?P=sep)[0-9]{4}(?:(?P=sep)[0-9]{1,3})?
    )
    (?![0-9])
    """,
    re.VERBOSE,
)
CARD_NEEDS = re.compile(r"[0-9]{4}[ -]?[0-9]{4}")


def luhn_valid(digits: str) -> bool:
    """True if `digits` (ASCII digits only) passes the Luhn (mod 10) check."""
    if not digits or not digits.isascii() or not digits.isdigit():
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _card_issuer_plausible(digits: str) -> bool:
    # UnionPay 62, Visa 4, Mastercard 51-55 and 2221-2720, JCB 35, domestic 60 and 9xxx
    # (e.g. 9558): what cards issued in China start with.
    return digits[0] in "34569" or 2221 <= int(digits[:4]) <= 2720


def card_hits(original: str, normalised: str) -> Iterator[Hit]:
    """Luhn-valid card numbers of 16-19 digits, plain or in groups of four."""
    for m in _CARD_RE.finditer(normalised):
        digits = re.sub(r"[^0-9]", "", m.group())
        if not (_card_issuer_plausible(digits) and luhn_valid(digits)):
            continue
        preview = f"{digits[:6]}{'*' * (len(digits) - 10)}{digits[-4:]}"
        replacement = _mask_digits(original, normalised, m.start(), m.end(), 6, 4)
        yield Hit(PiiKind.BANK_CARD, m.start(), m.end(), preview, replacement)
