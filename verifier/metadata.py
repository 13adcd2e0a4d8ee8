"""A revision's metadata, checked against the chain's `metadataHash`, and what it adds.

The chain anchors only the SHA-256 of the metadata's canonical JSON (docs/formats.md,
"Metadata"); the document itself is served by the office (`GET /api/v1/records/{id}/metadata`)
or held by whoever verifies. `check_metadata` takes those bytes exactly as served, recomputes
the hash and, only when it matches the verified revision's, adds the document to the result:
the public record (office, reviewer, publication date, category, document number) is then
as trustworthy as the anchor itself.

A certificate's `extra.valid_from` is inside that hash, so it is enforced here: an authentic
current certificate whose validity has not begun is NOT_YET_VALID. Without metadata the
verifier cannot know `valid_from`; the result then carries a `check_metadata` warning for a
certificate, never a silent green (docs/verifier.md, "Metadata and valid_from").

Pure apart from `notary.formats.metadata` (no network): the caller fetches the bytes.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from verifier.result import Step, StepStatus, Verdict, VerificationResult

STEP = "check_metadata"
MAX_METADATA_BYTES = 128 * 1024
"""More than the format allows (64 KiB canonical): anything larger is refused unread."""

PUBLIC_FIELDS = ("office", "category", "publication_date", "reviewer", "language", "title")
"""The members the public record shows (with `extra.document_number`)."""

NO_METADATA = "no metadata given: the certificate's valid_from was not checked"


def check_metadata(
    result: VerificationResult, body: bytes | None, *, now: int | None = None
) -> VerificationResult:
    """`result` with the revision's metadata added when `body` hashes to its `metadataHash`.

    A mismatch, an unparsable document or a result with no anchored metadata hash adds a
    warning step and no metadata (the verdict about the file stands; the record's details are
    simply not shown). A matching certificate whose `valid_from` is later than `now` turns
    AUTHENTIC_CURRENT into NOT_YET_VALID.
    """
    anchored = (result.metadata_hash or "").removeprefix("0x").lower()
    if body is None:
        if result.kind == "certificate" and result.verdict is Verdict.AUTHENTIC_CURRENT:
            return _with_step(result, Step(STEP, StepStatus.WARN, NO_METADATA))
        return result
    if not anchored:
        return _with_step(result, Step(STEP, StepStatus.SKIP, "no anchored metadata hash"))
    if not isinstance(body, bytes | bytearray) or len(body) > MAX_METADATA_BYTES:
        return _with_step(result, Step(STEP, StepStatus.WARN, "metadata too large or not bytes"))
    digest = hashlib.sha256(bytes(body)).hexdigest()
    if digest != anchored:
        detail = f"metadata sha256 {digest[:16]}… differs from the anchored metadataHash"
        return _with_step(result, Step(STEP, StepStatus.WARN, detail))
    try:
        document = _parse(bytes(body))
        valid_from = _valid_from(document)
    except ValueError as exc:
        return _with_step(result, Step(STEP, StepStatus.WARN, f"metadata unreadable: {exc}"))
    ok = Step(STEP, StepStatus.PASS, f"metadata sha256 {digest[:16]}… matches the chain")
    checked = replace(result, metadata=document, valid_from=valid_from)
    clock = int(time.time()) if now is None else now
    if (
        valid_from is not None
        and valid_from > clock
        and result.verdict is Verdict.AUTHENTIC_CURRENT
    ):
        when = datetime.fromtimestamp(valid_from, UTC).isoformat(timespec="minutes")
        return replace(
            checked,
            verdict=Verdict.NOT_YET_VALID,
            reason=f"the certificate is authentic but valid only from {when}",
            steps=(*checked.steps, ok, Step("check_validity", StepStatus.FAIL, "not yet valid")),
        )
    return _with_step(checked, ok)


def public_record(result: VerificationResult) -> dict[str, str]:
    """The hash-checked public record of a result (empty without checked metadata):
    office, category, publication date, reviewer, language, title, document number."""
    doc = result.metadata or {}
    out = {k: doc[k] for k in PUBLIC_FIELDS if isinstance(doc.get(k), str)}
    number = (doc.get("extra") or {}).get("document_number")
    if isinstance(number, str):
        out["document_number"] = number
    return out


def _with_step(result: VerificationResult, step: Step) -> VerificationResult:
    return replace(result, steps=(*result.steps, step))


def _parse(body: bytes) -> dict[str, Any]:
    """The document, strictly (`notary.formats.metadata`: the format's own rules)."""
    from notary.errors import InvalidInput
    from notary.formats.metadata import Metadata  # pure module

    try:
        return Metadata.from_json(body).to_dict()
    except InvalidInput as exc:
        raise ValueError(str(exc)) from None


def _valid_from(document: dict[str, Any]) -> int | None:
    """`extra.valid_from` (ISO 8601 with a zone, as the service writes it) in unix seconds."""
    text = (document.get("extra") or {}).get("valid_from")
    if text is None:
        return None
    try:
        stamp = datetime.fromisoformat(str(text))
    except ValueError:
        raise ValueError(f"valid_from is not an ISO 8601 time: {text!r}") from None
    if stamp.tzinfo is None:
        raise ValueError("valid_from has no time zone")
    return int(stamp.timestamp())
