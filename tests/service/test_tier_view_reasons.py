"""The supersede reason and the replacing record's title follow the tier table
(`api/services/tier_view.py`): the reason with the record's metadata, the title with the
replacement's id. Pure: the one function every door asks."""

from __future__ import annotations

import pytest

from api.services.tier_view import RecordFacts, record_view
from notary.db.types import AccessTier

REASON = "政策调整，由新办法替代"
NEW_TITLE = "新办法（2026）"


def _facts(tier: AccessTier, replacement_tier: AccessTier | None) -> RecordFacts:
    return RecordFacts(
        tier=tier,
        office_pk=1,
        title="旧办法",
        replaced_by="ab" * 32,
        replacement_tier=replacement_tier,
        supersede_reason=REASON,
        replacement_title=NEW_TITLE,
    )


@pytest.mark.parametrize(
    ("tier", "replacement_tier", "reason", "title"),
    [
        (AccessTier.PUBLIC, AccessTier.PUBLIC, REASON, NEW_TITLE),
        (AccessTier.RESTRICTED, AccessTier.PUBLIC, REASON, NEW_TITLE),
        (AccessTier.PUBLIC, AccessTier.INTERNAL, REASON, None),
        (AccessTier.PUBLIC, None, REASON, None),
        (AccessTier.INTERNAL, AccessTier.PUBLIC, None, None),
    ],
)
def test_an_anonymous_caller_sees_the_reason_and_new_title_only_as_the_tiers_allow(
    tier: AccessTier, replacement_tier: AccessTier | None, reason: str | None, title: str | None
) -> None:
    view = record_view(_facts(tier, replacement_tier))
    assert (view.supersede_reason, view.replacement_title) == (reason, title)
    assert (view.replaced_by is None) == (title is None)
    assert view.replacement_withheld == (title is None)
