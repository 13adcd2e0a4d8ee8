"""The relational schema of the notary service (SQLAlchemy 2 typed declarative models).

One schema for SQLite and PostgreSQL, created only through the Alembic migrations in
`notary/migrations/` (a test checks that the migrated schema equals this module). Column
conventions are in `notary.db.types`: 32-byte values as 64 lowercase hex digits (`Hex32`),
timezone-aware UTC timestamps (`UTCDateTime`), enumerations as checked VARCHARs.

Foreign keys to an office are named `office_pk` (the integer surrogate `offices.id`) so they
are never confused with `offices.office_id`, the bytes32 id the registry knows.

Tables, by who writes them:

- governance/API: `offices`, `api_keys`
- publishing (API, CLI): `records`, `revisions`, `revocations`, `replacements`, `blobs`,
  `pii_overrides`, `idempotency_keys`
- the anchoring worker: the anchor columns of `revisions`/`revocations`/`replacements`,
  `anchor_txs` (the transaction outbox), `access_log_anchors`
- every request: `access_log` (append-only, hash-chained per office)
- the audit: `alerts`
- the web console: `people`, `console_sessions`
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    event,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from notary.db.types import (
    AccessTier,
    AnchorMode,
    AnchorState,
    BigIntPK,
    Hex32,
    KeyRole,
    OfficeStatus,
    RecordKind,
    RecordStatus,
    Severity,
    TxPurpose,
    TxState,
    UTCDateTime,
    str_enum,
    utcnow,
)
from notary.errors import Conflict

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
"""Deterministic constraint names, so later migrations (and SQLite batch mode) can name them."""

ZERO32 = "0" * 64
"""The all-zero bytes32 (the `prevLeaf` of version 1, the first access-log `prev_hash`)."""


class Base(DeclarativeBase):
    """Declarative base carrying the shared metadata and naming convention."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _anchor_state(name: str = "anchor_state") -> Any:
    return str_enum(AnchorState, name)


# -- offices and keys --------------------------------------------------------------------


class Office(Base):
    """A publishing office, registered on chain by governance."""

    __tablename__ = "offices"
    __table_args__ = (CheckConstraint("number BETWEEN 1 AND 4294967295", name="number_uint32"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    office_id: Mapped[str] = mapped_column(Hex32, unique=True)
    """The registry's bytes32 `officeId`."""
    number: Mapped[int] = mapped_column(BigInteger, unique=True)
    """The registry's uint32 office number: the first 4 bytes of each of its record ids."""
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[OfficeStatus] = mapped_column(
        str_enum(OfficeStatus, "office_status"), default=OfficeStatus.ACTIVE
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ApiKey(Base):
    """An API key: shown once, stored as a keyed hash; admin keys belong to no office."""

    __tablename__ = "api_keys"
    __table_args__ = (
        CheckConstraint(
            "(role = 'admin' AND office_pk IS NULL) OR (role <> 'admin' AND office_pk IS NOT NULL)",
            name="admin_has_no_office",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    office_pk: Mapped[int | None] = mapped_column(ForeignKey("offices.id"), index=True)
    role: Mapped[KeyRole] = mapped_column(str_enum(KeyRole, "key_role"))
    label: Mapped[str | None] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(32), unique=True)
    """Public lookup part of the key (finds the row; the hash is then compared)."""
    key_hash: Mapped[str] = mapped_column(Hex32)
    """HMAC-SHA256 of the whole key with the server secret (`api.core.security.hash_key`)."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    office: Mapped[Office | None] = relationship()


# -- records and revisions ---------------------------------------------------------------


class Record(Base):
    """One disclosure or certificate over its whole life.

    `title`, `category` and `published_on` are copied from the metadata of the head revision
    so search needs no JSON functions; `head_version` is the latest accepted version (the
    row lock on it serialises revisions of one record).
    """

    __tablename__ = "records"
    __table_args__ = (
        CheckConstraint("head_version >= 1", name="head_version_positive"),
        CheckConstraint("kind = 'certificate' OR valid_until IS NULL", name="validity_on_cert"),
        CheckConstraint(
            "(status = 'replaced' AND replaced_by IS NOT NULL) "
            "OR (status <> 'replaced' AND replaced_by IS NULL)",
            name="replaced_by_iff_replaced",
        ),
        CheckConstraint(
            "replaced_by IS NULL OR replaced_by <> record_id", name="not_self_replaced"
        ),
        Index("ix_records_office_category_published", "office_pk", "category", "published_on"),
        Index("ix_records_office_published", "office_pk", "published_on"),
        Index("ix_records_office_created", "office_pk", "created_at"),
    )

    record_id: Mapped[str] = mapped_column(Hex32, primary_key=True)
    """bytes32: office number (4 bytes, big-endian) then 28 random bytes."""
    office_pk: Mapped[int] = mapped_column(ForeignKey("offices.id"))
    kind: Mapped[RecordKind] = mapped_column(str_enum(RecordKind, "record_kind"))
    access_tier: Mapped[AccessTier] = mapped_column(str_enum(AccessTier, "access_tier"))
    status: Mapped[RecordStatus] = mapped_column(
        str_enum(RecordStatus, "record_status"), default=RecordStatus.CURRENT
    )
    head_version: Mapped[int] = mapped_column(Integer, default=1)
    title: Mapped[str] = mapped_column(String(500))
    category: Mapped[str | None] = mapped_column(String(100))
    published_on: Mapped[date | None] = mapped_column(Date)
    replaced_by: Mapped[str | None] = mapped_column(Hex32, ForeignKey("records.record_id"))
    valid_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """Certificates only: the registry's `validUntil` (whole seconds)."""
    holder_cap_sha256: Mapped[str | None] = mapped_column(Hex32)
    """Certificates only: `sha256(capability)` of the holder's link, never the capability
    nor the salt (`notary.formats.certificate.holder_capability`, docs/privacy.md)."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    office: Mapped[Office] = relationship()
    revisions: Mapped[list[Revision]] = relationship(
        back_populates="record", order_by="Revision.version"
    )
    revocation: Mapped[Revocation | None] = relationship(back_populates="record")


class Revision(Base):
    """Version 1, 2, 3 … of a record, and the state of its anchor (the outbox row).

    `leaf`/`prev_leaf` may be filled at acceptance (they are pure functions of the inputs,
    the chain id and the registry) or by the worker; once set they never change.
    """

    __tablename__ = "revisions"
    __table_args__ = (
        UniqueConstraint("record_id", "version", name="uq_revisions_record_version"),
        CheckConstraint("version >= 1", name="version_positive"),
        CheckConstraint(
            "anchor_state <> 'anchored' OR "
            "(tx_hash IS NOT NULL AND block_number IS NOT NULL AND leaf IS NOT NULL)",
            name="anchored_has_tx",
        ),
        Index("ix_revisions_anchor_state_id", "anchor_state", "id"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    record_id: Mapped[str] = mapped_column(Hex32, ForeignKey("records.record_id"))
    version: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(Hex32, index=True)
    """SHA-256 of the exact published bytes (the blob's name when the file is stored)."""
    sm3: Mapped[str | None] = mapped_column(Hex32)
    metadata_json: Mapped[str] = mapped_column(Text)
    """The RFC 8785 canonical JSON text, exactly the bytes `metadata_hash` covers."""
    metadata_hash: Mapped[str] = mapped_column(Hex32)
    prev_leaf: Mapped[str | None] = mapped_column(Hex32)
    leaf: Mapped[str | None] = mapped_column(Hex32, unique=True)
    change_note: Mapped[str | None] = mapped_column(Text)
    accepted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    anchor_state: Mapped[AnchorState] = mapped_column(_anchor_state(), default=AnchorState.PENDING)
    anchor_mode: Mapped[AnchorMode | None] = mapped_column(str_enum(AnchorMode, "anchor_mode"))
    tx_hash: Mapped[str | None] = mapped_column(Hex32, index=True)
    block_number: Mapped[int | None] = mapped_column(BigInteger)
    log_index: Mapped[int | None] = mapped_column(Integer)
    batch_root: Mapped[str | None] = mapped_column(Hex32, index=True)
    merkle_proof: Mapped[list[str] | None] = mapped_column(JSON)
    """Batch mode: sibling hashes (64-hex strings) from the leaf up to `batch_root`."""
    anchored_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    anchor_error: Mapped[str | None] = mapped_column(Text)

    record: Mapped[Record] = relationship(back_populates="revisions")


class Revocation(Base):
    """A record's revocation: reason text here, its SHA-256 on chain."""

    __tablename__ = "revocations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    record_id: Mapped[str] = mapped_column(Hex32, ForeignKey("records.record_id"), unique=True)
    reason: Mapped[str] = mapped_column(Text)
    reason_hash: Mapped[str] = mapped_column(Hex32)
    """sha256(utf8(reason)) as docs/formats.md says."""
    revoked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_by_key: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"))
    anchor_state: Mapped[AnchorState] = mapped_column(
        _anchor_state(), default=AnchorState.PENDING, index=True
    )
    tx_hash: Mapped[str | None] = mapped_column(Hex32)
    block_number: Mapped[int | None] = mapped_column(BigInteger)
    anchored_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    record: Mapped[Record] = relationship(back_populates="revocation")


class Replacement(Base):
    """`record_id` was replaced (superseded) by another record of the same office."""

    __tablename__ = "replacements"
    __table_args__ = (CheckConstraint("by_record_id <> record_id", name="not_self"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    record_id: Mapped[str] = mapped_column(Hex32, ForeignKey("records.record_id"), unique=True)
    by_record_id: Mapped[str] = mapped_column(Hex32, ForeignKey("records.record_id"), index=True)
    replaced_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    replaced_by_key: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"))
    reason: Mapped[str | None] = mapped_column(Text)
    """The supersede reason as given (None when none was)."""
    reason_hash: Mapped[str | None] = mapped_column(Hex32)
    """sha256(utf8(reason)), anchored in `RecordReplaced`; None (zero on chain) for none."""
    anchor_state: Mapped[AnchorState] = mapped_column(
        _anchor_state(), default=AnchorState.PENDING, index=True
    )
    tx_hash: Mapped[str | None] = mapped_column(Hex32)
    block_number: Mapped[int | None] = mapped_column(BigInteger)
    anchored_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Blob(Base):
    """A stored file, content-addressed (see `notary.storage.blobstore`)."""

    __tablename__ = "blobs"
    __table_args__ = (CheckConstraint("size >= 0", name="size_non_negative"),)

    sha256: Mapped[str] = mapped_column(Hex32, primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    path: Mapped[str] = mapped_column(String(300))
    """Relative to the blob store's root: `ab/cd/<sha256>`."""
    media_type: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PiiOverride(Base):
    """A publication that went ahead despite PII findings, with who and why."""

    __tablename__ = "pii_overrides"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    revision_id: Mapped[int] = mapped_column(ForeignKey("revisions.id"), unique=True)
    findings: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    reason: Mapped[str] = mapped_column(Text)
    api_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# -- the transaction outbox --------------------------------------------------------------


class AnchorTx(Base):
    """One signed transaction, recorded *before* it is broadcast.

    After a crash the worker finds every `signed`/`sent` row, asks the chain about its hash
    (and the signer's nonce), and either records the receipt or re-broadcasts `raw_tx`
    unchanged: the same nonce can never carry two different anchors of one revision.
    """

    __tablename__ = "anchor_txs"
    __table_args__ = (
        CheckConstraint("nonce >= 0", name="nonce_non_negative"),
        Index("ix_anchor_txs_signer_nonce", "signer", "nonce"),
        Index("ix_anchor_txs_state_id", "state", "id"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    purpose: Mapped[TxPurpose] = mapped_column(str_enum(TxPurpose, "tx_purpose"))
    mode: Mapped[AnchorMode | None] = mapped_column(str_enum(AnchorMode, "anchor_mode"))
    signer: Mapped[str] = mapped_column(String(42))
    """Sender address, `0x` + 40 lowercase hex."""
    nonce: Mapped[int] = mapped_column(BigInteger)
    tx_hash: Mapped[str] = mapped_column(Hex32, unique=True)
    raw_tx: Mapped[str] = mapped_column(Text)
    """The signed transaction, lowercase hex without `0x`, ready to re-broadcast."""
    state: Mapped[TxState] = mapped_column(str_enum(TxState, "tx_state"), default=TxState.SIGNED)
    batch_root: Mapped[str | None] = mapped_column(Hex32)
    item_count: Mapped[int] = mapped_column(Integer, default=0)
    block_number: Mapped[int | None] = mapped_column(BigInteger)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


# -- access log --------------------------------------------------------------------------


class AccessLogEntry(Base):
    """One entry of an office's append-only, hash-chained access log.

    Each office has its own chain (the registry anchors heads per office): `seq` counts 1, 2,
    3 … per office and `prev_hash` is the previous entry's `entry_hash` (zero for the first).
    The unique `(office_pk, prev_hash)` makes a fork impossible even under concurrent
    appenders; the ORM refuses UPDATE and DELETE of loaded entries.
    """

    __tablename__ = "access_log"
    __table_args__ = (
        UniqueConstraint("office_pk", "prev_hash", name="uq_access_log_office_prev"),
        CheckConstraint("seq >= 1", name="seq_positive"),
        Index("ix_access_log_office_record", "office_pk", "record_id"),
    )

    office_pk: Mapped[int] = mapped_column(ForeignKey("offices.id"), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    api_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"))
    """None for an anonymous caller."""
    action: Mapped[str] = mapped_column(String(64))
    record_id: Mapped[str | None] = mapped_column(Hex32)
    """The record asked about (no foreign key: unknown ids are logged too)."""
    outcome: Mapped[str] = mapped_column(String(32))
    prev_hash: Mapped[str] = mapped_column(Hex32)
    entry_hash: Mapped[str] = mapped_column(Hex32, unique=True)


@event.listens_for(AccessLogEntry, "before_update")
@event.listens_for(AccessLogEntry, "before_delete")
def _append_only(mapper: Any, connection: Any, target: AccessLogEntry) -> None:
    raise Conflict(f"the access log is append-only (office {target.office_pk}, seq {target.seq})")


class AccessLogAnchor(Base):
    """An office's access-log head anchored (or to be anchored) on chain."""

    __tablename__ = "access_log_anchors"
    __table_args__ = (
        UniqueConstraint("office_pk", "up_to_seq", name="uq_access_log_anchors_office_seq"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    office_pk: Mapped[int] = mapped_column(ForeignKey("offices.id"))
    up_to_seq: Mapped[int] = mapped_column(BigInteger)
    head: Mapped[str] = mapped_column(Hex32)
    """`entry_hash` of entry `up_to_seq`."""
    anchor_state: Mapped[AnchorState] = mapped_column(
        _anchor_state(), default=AnchorState.PENDING, index=True
    )
    tx_hash: Mapped[str | None] = mapped_column(Hex32)
    block_number: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    anchored_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


# -- API bookkeeping and audit -----------------------------------------------------------


class IdempotencyKey(Base):
    """The first result of a POST with an `Idempotency-Key`, replayed on retries."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("api_key_id", "key", name="uq_idempotency_keys_key"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    api_key_id: Mapped[int] = mapped_column(ForeignKey("api_keys.id"))
    key: Mapped[str] = mapped_column(String(200))
    request_hash: Mapped[str] = mapped_column(Hex32)
    """SHA-256 of method, path and body: a reuse with another request is a 409/422."""
    status_code: Mapped[int | None] = mapped_column(Integer)
    """None while the first request is still in flight."""
    response_json: Mapped[Any | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class Alert(Base):
    """An anomaly the audit found; `fingerprint` lets a re-run skip alerts already raised."""

    __tablename__ = "alerts"
    __table_args__ = (
        Index("ix_alerts_office_created", "office_pk", "created_at"),
        Index("ix_alerts_rule_created", "rule", "created_at"),
        Index("ix_alerts_ack_rule", "acknowledged", "rule"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    rule: Mapped[str] = mapped_column(String(64))
    severity: Mapped[Severity] = mapped_column(str_enum(Severity, "severity"))
    office_pk: Mapped[int | None] = mapped_column(ForeignKey("offices.id"))
    record_id: Mapped[str | None] = mapped_column(Hex32)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    fingerprint: Mapped[str | None] = mapped_column(Hex32, unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    acknowledged: Mapped[bool] = mapped_column(Boolean, default=False)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_by: Mapped[str | None] = mapped_column(String(200))
    """`key:<id>` of the auditor's API key, or `cli:<name>` for `notary audit ack`."""
    ack_note: Mapped[str | None] = mapped_column(Text)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """The last audit run that raised the same fingerprint again."""
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """When the webhook took it; None: not yet (the scheduled audit retries)."""


# -- the web console ---------------------------------------------------------------------


class Person(Base):
    """Office staff or an administrator who signs in to the console with a password.

    A person acts through an API key of their own: its role and office are theirs, the
    access log names it, and revoking it ends their sessions at once.
    """

    __tablename__ = "people"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(200))
    """argon2id, with its parameters and salt (`api.services.people`)."""
    api_key_id: Mapped[int] = mapped_column(ForeignKey("api_keys.id"), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    api_key: Mapped[ApiKey] = relationship()


class ConsoleSession(Base):
    """One signed-in browser: the cookie holds a random token, this row its SHA-256."""

    __tablename__ = "console_sessions"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    token_hash: Mapped[str] = mapped_column(Hex32, unique=True)
    api_key_id: Mapped[int] = mapped_column(ForeignKey("api_keys.id"), index=True)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
