"""The PII guard at the publishing edge: block, mask, or record an override.

Detection and masking are `notary.pii`'s; this module decides what happens to a request.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from api.errors import PiiFound
from notary import pii
from notary.pii.limits import DEFAULT_LIMITS, ScanLimits


@dataclass(frozen=True, slots=True)
class Guarded:
    """What to publish after the guard, and the findings an override must record."""

    data: bytes
    masked: bool
    overridden_findings: list[dict[str, Any]] | None


def guard(
    data: bytes,
    content_type: str,
    *,
    mask: bool,
    override_reason: str | None,
    filename: str | None = None,
    limits: ScanLimits = DEFAULT_LIMITS,
) -> Guarded:
    """Scan `data`; raise `PiiFound` (422) unless masking or an override was asked for.

    Masking wins over an override: the masked copy is what gets hashed and published. A
    document over `limits` raises `DocumentTooLarge` (413) before the work is done.
    """
    findings = pii.scan_document(data, content_type, filename=filename, limits=limits)
    if not findings:
        return Guarded(data=data, masked=False, overridden_findings=None)
    if mask:
        masked = pii.mask_document(data, content_type, findings, filename=filename, limits=limits)
        return Guarded(data=masked, masked=True, overridden_findings=None)
    listed = [f.as_dict() for f in findings]
    if override_reason and override_reason.strip():
        return Guarded(data=data, masked=False, overridden_findings=listed)
    raise PiiFound(listed)
