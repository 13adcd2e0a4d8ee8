"""The PII guard at the API's edge: `notary.publishing.content`'s, the one every door uses.

Detection and masking are `notary.pii`'s; what happens to a request (block, mask, or a
recorded override) is decided in `notary.publishing.content`, so the CLI cannot skip it.
"""

from notary.publishing.content import (
    TEXT_PII,
    Guarded,
    guard,
    guard_text,
    metadata_texts,
    with_text_findings,
)

__all__ = ["TEXT_PII", "Guarded", "guard", "guard_text", "metadata_texts", "with_text_findings"]
