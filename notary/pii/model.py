"""What the PII guard reports: the kinds of personal data, findings and errors."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from notary.errors import InvalidInput


class UnsupportedDocument(InvalidInput):
    """A format the guard cannot read text from (images, OFD, office files, archives)."""


class UnreadableDocument(InvalidInput):
    """A document of a supported format that is malformed, encrypted or undecodable."""


class UnsafeXml(InvalidInput):
    """XML with entity declarations or external entities (XXE, billion laughs): refused."""


class MaskingUnsupported(InvalidInput):
    """The guard cannot produce a masked copy of this document; the office must mask it."""


class PiiKind(StrEnum):
    """What kind of personal data a finding is (the values are the wire names)."""

    ID_CARD = "id_card"
    MOBILE = "mobile"
    BANK_CARD = "bank_card"
    ADDRESS = "address"


@dataclass(frozen=True, slots=True)
class Finding:
    """One piece of personal data, located but never quoted.

    `start`/`end` are character offsets into the text that was scanned: the decoded plain
    text, the extracted text of PDF page `page` (1-based), or for XML the value of the node
    that `location` names (`/root/person[2]/@id`, `/root/note/text()`), after entity
    decoding. `masked_preview` is what the masked copy shows instead of the value.
    """

    kind: PiiKind
    start: int
    end: int
    masked_preview: str
    page: int | None = None
    location: str | None = None

    @property
    def span(self) -> tuple[int, int]:
        """`(start, end)` of the finding in the scanned text."""
        return (self.start, self.end)

    def as_dict(self) -> dict[str, Any]:
        """The finding as JSON-ready data (no raw personal data in it)."""
        return {
            "kind": self.kind.value,
            "page": self.page,
            "location": self.location,
            "start": self.start,
            "end": self.end,
            "masked_preview": self.masked_preview,
        }


@dataclass(frozen=True, slots=True)
class Hit:
    """A finding plus the text that replaces it in a masked copy (internal only)."""

    kind: PiiKind
    start: int
    end: int
    preview: str
    replacement: str


class DocumentTooLarge(UnreadableDocument):
    """A document over one of the scan's bounds (decompressed size, pages, page text,
    nesting depth or time): refused before it can exhaust memory or time."""
