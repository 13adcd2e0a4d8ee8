"""Scanning and masking a string: the detectors together, most specific first."""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Iterator, Mapping, Sequence

from notary.pii.addresses import ADDRESS_NEEDS, address_hits
from notary.pii.model import Finding, Hit
from notary.pii.numbers import (
    CARD_NEEDS,
    ID_NEEDS,
    MOBILE_NEEDS,
    card_hits,
    id_hits,
    mobile_hits,
    normalise,
)

# Most specific first: a valid ID is never also reported as a card or a phone number. Each
# detector comes with a pattern that all its matches contain: one quick search of the text
# for it spares the detector's slower patterns, tried at every position, most of the text.
_DETECTORS: tuple[tuple[Callable[[str, str], Iterator[Hit]], re.Pattern[str]], ...] = (
    (id_hits, ID_NEEDS),
    (card_hits, CARD_NEEDS),
    (mobile_hits, MOBILE_NEEDS),
    (address_hits, ADDRESS_NEEDS),
)


def _hits(text: str) -> list[Hit]:
    """Every detector's hits; where two overlap, the more specific detector's wins."""
    normalised = normalise(text)
    chosen: list[Hit] = []  # sorted by start, never overlapping
    starts: list[int] = []
    for detect, needed in _DETECTORS:
        if not needed.search(normalised):
            continue
        for hit in sorted(detect(text, normalised), key=lambda h: (h.start, -h.end)):
            i = bisect.bisect_left(starts, hit.start)
            if i > 0 and chosen[i - 1].end > hit.start:
                continue
            if i < len(chosen) and chosen[i].start < hit.end:
                continue
            chosen.insert(i, hit)
            starts.insert(i, hit.start)
    return chosen


def _finding(hit: Hit, page: int | None, location: str | None) -> Finding:
    return Finding(hit.kind, hit.start, hit.end, hit.preview, page=page, location=location)


def scan_text(text: str, *, page: int | None = None, location: str | None = None) -> list[Finding]:
    """Every piece of personal data in `text`, in order, with offsets into `text`.

    `page` and `location` are copied into the findings (the PDF page, the XML node).
    """
    return [_finding(h, page, location) for h in _hits(text)]


def _apply(text: str, hits: Sequence[Hit]) -> str:
    parts: list[str] = []
    last = 0
    for hit in hits:
        parts.append(text[last : hit.start])
        parts.append(hit.replacement)
        last = hit.end
    parts.append(text[last:])
    return "".join(parts)


def mask_text(text: str) -> tuple[str, list[Finding]]:
    """`text` with its personal data masked, and the findings (offsets into `text`).

    IDs keep their first 6 and last 4 characters (`110105********1234`), mobiles their
    first 3 and last 4 digits (`138****5678`), bank cards their first 6 and last 4 digits;
    separators stay where they were. An address keeps its administrative part down to the
    community (社区/村) and loses the rest (`北京市朝阳区建外街道永安里社区***`). The result
    scans clean: `scan_text(mask_text(x)[0]) == []` for every `x`.
    """
    hits = _hits(text)
    findings = [_finding(h, None, None) for h in hits]
    masked = _apply(text, hits)
    # Kept digits next to the new stars can, rarely, line up with neighbouring digits into
    # a new number (138****5678 followed by ` 1234 5678 9012`). Mask again until clean;
    # every pass stars at least one digit or numeral, so this ends. Only the first pass is
    # reported: it is what the office's text held.
    while hits := _hits(masked):
        masked = _apply(masked, hits)
    return masked, findings


def scan_fields(fields: Mapping[str, str]) -> list[Finding]:
    """Findings in named text fields (a title, a change note…), each `location` the field's
    name. A text field cannot be masked: callers refuse it, or record an override."""
    return [
        finding
        for name, text in fields.items()
        if isinstance(text, str)
        for finding in scan_text(text, location=name)
    ]
