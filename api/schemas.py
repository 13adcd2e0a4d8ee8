"""Wire schemas: `…Create` for what clients send, `…Public` for what they get back.

Internal columns (key hashes, holder data, blob paths) never appear in a `…Public` schema.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from notary.formats.fields import bad_character, free_text_error

Role = Literal["publisher", "auditor", "admin"]
Tier = Literal["public", "restricted", "internal"]
AnchorState = Literal["pending", "sending", "anchored", "failed"]
RecordStatus = Literal["current", "replaced", "revoked", "expired", "not_yet_valid"]


def _no_nul(value: str | None) -> str | None:
    if value is not None and "\x00" in value:
        raise ValueError("must not contain NUL characters (PostgreSQL cannot store them)")
    return value


NoNul = AfterValidator(_no_nul)
"""For every free-text field: a NUL is refused with a 422, not stored (SQLite) or a 500."""


def _free_text(multiline: bool) -> AfterValidator:
    """The one free-text rule (`notary.formats.fields`) as a validator: a 422 whose `loc` names the
    field and whose message names the refused character's code point."""

    def check(value: str | None) -> str | None:
        if value is not None and (bad := bad_character(value, multiline=multiline)):
            raise ValueError(free_text_error("the text", bad, multiline=multiline))
        return value

    return AfterValidator(check)


Line = _free_text(multiline=False)
"""Single-line free text: names, labels."""
Lines = _free_text(multiline=True)
"""Multi-line free text (line feed and tab allowed): notes and reasons."""

Hex32 = Annotated[str, StringConstraints(pattern=r"^(0x)?[0-9a-fA-F]{64}$")]
Text = Annotated[
    str, StringConstraints(min_length=1, max_length=2000, strip_whitespace=True), NoNul, Lines
]
Name = Annotated[
    str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True), NoNul, Line
]


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


# --- offices and keys -------------------------------------------------------------------


class OfficeCreate(BaseModel):
    """An office admitted by governance; `number` is the one the registry assigned."""

    model_config = ConfigDict(extra="forbid")

    office_id: Hex32 = Field(description="The registry's bytes32 officeId (64 hex digits).")
    number: int = Field(ge=1, le=2**32 - 1)
    name: Name


class OfficePublic(_Out):
    id: str
    number: int
    name: str
    suspended: bool
    created_at: dt.datetime


class SignerPublic(_Out):
    address: str
    from_block: int
    until_block: int | None
    active: bool


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Literal["publisher", "auditor"]
    label: Annotated[str, StringConstraints(max_length=100), NoNul, Line] = ""


class ApiKeyPublic(_Out):
    id: str
    office_id: str | None
    role: Role
    label: str
    prefix: str
    created_at: dt.datetime
    revoked_at: dt.datetime | None


class ApiKeyCreated(ApiKeyPublic):
    """The only response that ever carries the plain key."""

    key: str


# --- records and revisions --------------------------------------------------------------


class RevisionPublic(_Out):
    id: str
    record_id: str
    version: int
    kind: Literal["disclosure", "certificate"]
    content_hash: str
    metadata_hash: str
    leaf: str | None
    size: int | None
    content_type: str | None
    change_note: str | None
    anchor_state: AnchorState
    tx_hash: str | None
    block_number: int | None
    created_at: dt.datetime
    anchored_at: dt.datetime | None
    metadata: dict[str, Any] | None = Field(
        default=None,
        description="The revision's metadata document (office, reviewer, publication_date, "
        "category, extra.document_number …) exactly as hashed into metadataHash; the bytes "
        "themselves: GET /api/v1/records/{id}/metadata?version=N.",
    )


class RecordPublic(_Out):
    id: str
    office_id: str
    kind: Literal["disclosure", "certificate"]
    tier: Tier
    status: RecordStatus
    title: str
    category: str
    published_on: dt.date | None
    current_version: int
    current: RevisionPublic
    superseded_by: str | None
    revocation_reason: str | None
    valid_until: dt.datetime | None = None
    valid_from: dt.datetime | None = None
    document_number: str | None = None
    """The current revision's `extra.document_number` (文号), searchable with `q`."""
    created_at: dt.datetime


class RecordPage(BaseModel):
    items: list[RecordPublic]
    total: int
    limit: int
    offset: int


class HistoryEvent(BaseModel):
    """One line of a record's history: a revision, a revocation or a supersession."""

    event: Literal["revision", "revocation", "supersession"]
    at: dt.datetime
    version: int | None = None
    revision: RevisionPublic | None = None
    reason: str | None = None
    reason_hash: str | None = None
    superseded_by: str | None = None
    anchor_state: AnchorState | None = None


class RecordHistory(BaseModel):
    record: RecordPublic
    events: list[HistoryEvent]


class RevokeCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Text


class SupersedeCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    by: Annotated[str, StringConstraints(min_length=1, max_length=80)]
    reason: Annotated[str, StringConstraints(max_length=2000), NoNul, Lines] = ""


# --- certificates -----------------------------------------------------------------------


class CertificatePublic(_Out):
    record: RecordPublic
    valid_from: dt.datetime | None
    valid_until: dt.datetime | None
    holder: dict | None = Field(
        default=None, description="Holder data; present only for the issuing office."
    )


class CertificateIssued(CertificatePublic):
    """Issue response: the only one that carries the commitment salt."""

    salt: str = Field(description="32-byte salt (hex) of both commitments; shown only here.")
    document_url: str = Field(
        description="The certificate document (office keys): contentHash = sha256(salt || it)."
    )
    holder_url: str = Field(
        description="The holder's link, `<base>/holder/<record id>#<salt hex>`: hand it to the "
        "holder (it carries the salt); shown only here."
    )


# --- receipts, access log ---------------------------------------------------------------


class ReceiptPublic(BaseModel):
    revision_id: str
    record_id: str
    version: int
    state: AnchorState
    leaf: str | None
    content_hash: str
    tx_hash: str | None = None
    block_number: int | None = None
    anchored_at: dt.datetime | None = None
    verify_url: str | None = Field(
        default=None,
        description="Once anchored: the verify URL of the revision (page 1 of 1; certificates'"
        " salt is never included). Null while pending or without a chain config.",
    )


class ContentAnchorPublic(BaseModel):
    """One anchored revision holding some bytes, as this service's database knows it: a hint
    the independent verifier checks on chain in that one block."""

    chain_id: int
    registry: str
    record_id: str
    version: int
    block_number: int | None = Field(
        default=None, description="The block the worker saw the revision anchored in."
    )


class ContentLookupPublic(BaseModel):
    sha256: str
    anchors: list[ContentAnchorPublic] = Field(
        description="Newest first, at most 8; never a record of the internal tier."
    )


class AccessLogEntryPublic(_Out):
    seq: int
    at: dt.datetime
    key_id: str | None
    action: str
    record_id: str | None
    outcome: str
    prev_hash: str
    entry_hash: str


class AccessLogPage(BaseModel):
    items: list[AccessLogEntryPublic]
    head: str | None


class AccessLogVerdict(BaseModel):
    ok: bool
    entries: int
    head: str | None
    first_bad_seq: int | None = None
    reason: str | None = None
    anchored_heads_checked: int = 0


class ErrorBody(BaseModel):
    """Every error answer: what was wrong, and for the PII guard each finding."""

    detail: Any
    findings: list[dict[str, Any]] | None = None


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody, "description": text}
    for code, text in {
        400: "Bad input",
        401: "Missing, invalid or revoked API key",
        403: "The key's role or office may not do this",
        404: "Unknown id (or not visible to this caller)",
        409: "Conflicts with the current state (duplicate, reused Idempotency-Key, closed record)",
        413: "Body or file over the upload limit",
        415: "Unsupported file type",
        422: "Invalid request, or personal data found (with findings)",
        503: "Database or storage unavailable; retry",
    }.items()
}
"""Documented on every `/api/v1` operation, so clients and schemathesis know the error shape."""


class Health(BaseModel):
    status: str
