"""The PII guard at the publishing edge: block, mask, or record an override.

Detection and masking are `notary.pii`'s; this module decides what happens to a request.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from api.core.errors import PiiFound
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


TEXT_PII = (
    "personal data found in {fields}: a text field cannot be masked; remove it, or pass "
    "pii_override_reason where the request takes one"
)


def guard_text(
    fields: Mapping[str, str | None], *, override_reason: str | None
) -> list[dict[str, Any]] | None:
    """Scan text that becomes public (titles, notes, reasons…) with the file guard's
    detectors; raise `PiiFound` (422, findings located by field name) unless an override
    reason is given, in which case the findings are returned for the override record.
    """
    findings = [f.as_dict() for f in pii.scan_fields({k: v for k, v in fields.items() if v})]
    if not findings:
        return None
    if override_reason and override_reason.strip():
        return findings
    names = ", ".join(dict.fromkeys(str(f["location"]) for f in findings))
    raise PiiFound(findings, TEXT_PII.format(fields=names))


def with_text_findings(guarded: Guarded, findings: list[dict[str, Any]] | None) -> Guarded:
    """`guarded` with overridden text findings added to those its override records."""
    if not findings:
        return guarded
    return replace(guarded, overridden_findings=[*(guarded.overridden_findings or []), *findings])


def metadata_texts(client: Mapping[str, Any] | None) -> dict[str, str]:
    """The client's metadata text that is published, by field name (`extra.<key>` too)."""
    client = client or {}
    out = {
        f"metadata.{k}": client[k]
        for k in ("title", "category", "reviewer")
        if isinstance(client.get(k), str)
    }
    extra = client.get("extra")
    if isinstance(extra, Mapping):
        out |= {f"metadata.extra.{k}": v for k, v in extra.items() if isinstance(v, str)}
    return out
