"""What a caller may learn about a record, decided by its access tier, in one place.

Every route that shows a record to someone who is not its office (the JSON API's reads, the
`/v/` pages, `/verify` upload results) asks `record_view` what it may show. The tiers:

| tier | title, office, metadata, reasons | replacement id, title | published file |
| --- | --- | --- | --- |
| `public` | shown | shown unless the replacement is internal | shown |
| `restricted` | shown | shown unless the replacement is internal | its office only |
| `internal` | its office only | its office only | nobody |
| not in the database | never | never | never |

"Reasons" are the revocation and the supersede reason. A view that withholds a revocation
reason says "revoked by the office"; one that withholds a replacement says "replaced by
another record" (docs/privacy.md).
"""

from __future__ import annotations

from dataclasses import dataclass

from api.core.deps import Caller
from notary.db.types import AccessTier

METADATA_TIERS = frozenset({AccessTier.PUBLIC, AccessTier.RESTRICTED})
"""Tiers whose metadata (title, office, reasons) anyone may read."""


@dataclass(frozen=True, slots=True)
class RecordFacts:
    """What the office database says about a record (`tier` None: it does not know it)."""

    tier: AccessTier | None
    office_pk: int | None = None
    title: str | None = None
    revocation_reason: str | None = None
    replaced_by: str | None = None
    replacement_tier: AccessTier | None = None
    """The replacing record's tier (None: the database does not know that record)."""
    supersede_reason: str | None = None
    """Why the office replaced the record (stored in `replacements.reason`, hash on chain)."""
    replacement_title: str | None = None


@dataclass(frozen=True, slots=True)
class RecordView:
    """The parts of a record one caller may be shown; withheld parts are None."""

    visible: bool
    """The record's metadata may be shown: its title, its office, its record id."""
    title: str | None
    revocation_reason: str | None
    reason_withheld: bool
    """A revocation reason exists (or may exist) that this caller is not shown."""
    replaced_by: str | None
    replacement_withheld: bool
    """The record was replaced by a record this caller may not be told of."""
    supersede_reason: str | None
    """Why it was replaced: shown with the record's metadata (the reason is about this
    record), withheld with it."""
    replacement_title: str | None
    """The replacing record's title: shown exactly when its id is."""
    file: bool
    """The published file (and its page images) may be served to this caller."""


def _own(caller: Caller | None, office_pk: int | None) -> bool:
    return caller is not None and office_pk is not None and caller.of_office(office_pk)


def record_view(facts: RecordFacts, caller: Caller | None = None) -> RecordView:
    """The view of a record for `caller` (None: an anonymous caller), by the tier table above.

    The replacement is always of the same office (supersede requires it), so the record's
    office may see it whatever its tier.
    """
    own = _own(caller, facts.office_pk)
    visible = own or facts.tier in METADATA_TIERS
    replacement_shown = facts.replaced_by is not None and (
        own or (visible and facts.replacement_tier in METADATA_TIERS)
    )
    return RecordView(
        visible=visible,
        title=facts.title if visible else None,
        revocation_reason=facts.revocation_reason if visible else None,
        reason_withheld=not visible,
        replaced_by=facts.replaced_by if replacement_shown else None,
        replacement_withheld=facts.replaced_by is not None and not replacement_shown,
        supersede_reason=facts.supersede_reason if visible else None,
        replacement_title=facts.replacement_title if replacement_shown else None,
        file=facts.tier is AccessTier.PUBLIC or (facts.tier is AccessTier.RESTRICTED and own),
    )
