"""Portable column types and the enumerations stored in the database.

Conventions (the same on SQLite and PostgreSQL, no dialect-only types):

- **32-byte values** (hashes, record and office ids, leaves, transaction hashes, Merkle
  roots) are `Hex32`: 64 lowercase hex digits without `0x`, as `sha256sum` prints them, in a
  `VARCHAR(64)`. Readable in `psql`/`sqlite3`, indexable, byte-order-free, and equal values
  compare equal as text. Binding accepts `bytes`, a `notary.formats.hashing.Digest`, or hex with or
  without `0x` in any case; anything else raises `InvalidInput` before it reaches SQL.
- **Timestamps** are `UTCDateTime`: timezone-aware UTC in Python; `TIMESTAMP WITH TIME ZONE`
  on PostgreSQL and ISO text (UTC, sortable) on SQLite. Naive datetimes are refused.
- **Enumerations** are stored as their string values in a `VARCHAR` with a `CHECK`
  constraint (never a native PostgreSQL `ENUM`), so adding a value is a plain migration.
"""

from __future__ import annotations

import enum
import re
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, Dialect, Integer, String
from sqlalchemy import Enum as SAEnum
from sqlalchemy.types import TypeDecorator

from notary.errors import InvalidInput
from notary.formats.metadata import AccessTier as AccessTier  # the one access-tier enum

_HEX64 = re.compile(r"(?:0[xX])?([0-9a-fA-F]{64})")

ENUM_LENGTH = 20
"""Width of every enumeration column (room for longer values without a type change)."""

BigIntPK = BigInteger().with_variant(Integer(), "sqlite")
"""A 64-bit surrogate key that SQLite still treats as its auto-incrementing rowid."""


def hex32(value: object) -> str:
    """Normalise a 32-byte value (bytes, Digest-like, or hex text) to 64 lowercase hex."""
    if isinstance(value, str):
        match = _HEX64.fullmatch(value)
        if match is None:
            raise InvalidInput(f"not a 32-byte hex value: {value[:80]!r}")
        return match.group(1).lower()
    if isinstance(value, bytes | bytearray | memoryview):
        raw = bytes(value)
    elif hasattr(value, "__bytes__"):
        raw = bytes(value)  # type: ignore[call-overload]
    else:
        raise InvalidInput(f"not a 32-byte value: {type(value).__name__}")
    if len(raw) != 32:
        raise InvalidInput(f"expected 32 bytes, got {len(raw)}")
    return raw.hex()


class Hex32(TypeDecorator[str]):
    """A 32-byte value stored as 64 lowercase hex digits (see the module docstring)."""

    impl = String(64)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else hex32(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> str | None:
        return value


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every database (naive input is refused)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise InvalidInput(f"expected a datetime, got {type(value).__name__}")
        if value.tzinfo is None or value.utcoffset() is None:
            raise InvalidInput("naive datetime: give a timezone-aware (UTC) timestamp")
        value = value.astimezone(UTC)
        # SQLite keeps no offset: store UTC wall time so text order is time order.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def str_enum(enum_class: type[enum.Enum], name: str) -> SAEnum:
    """`Enum` stored as VARCHAR of the member *values* with a named CHECK constraint."""
    return SAEnum(
        enum_class,
        name=name,
        native_enum=False,
        create_constraint=True,
        validate_strings=True,
        length=ENUM_LENGTH,
        values_callable=lambda cls: [str(m.value) for m in cls],
    )


# -- enumerations ------------------------------------------------------------------------


class OfficeStatus(enum.StrEnum):
    """Whether an office may publish (mirrors the registry's suspension flag)."""

    ACTIVE = "active"
    SUSPENDED = "suspended"


class RecordKind(enum.StrEnum):
    """What a record is (the registry's `Kind`: 0 disclosure, 1 certificate)."""

    DISCLOSURE = "disclosure"
    CERTIFICATE = "certificate"


class RecordStatus(enum.StrEnum):
    """A record's state over its life; "superseded" is per revision (any below the head)."""

    CURRENT = "current"
    REVOKED = "revoked"
    REPLACED = "replaced"
    EXPIRED = "expired"


class AnchorState(enum.StrEnum):
    """Outbox state of anything the worker puts on chain.

    pending → sending (signed tx recorded *before* broadcast) → anchored; failed when the
    chain refused it (a revert), which needs a human or a re-queue, never a silent resend.
    """

    PENDING = "pending"
    SENDING = "sending"
    ANCHORED = "anchored"
    FAILED = "failed"


class AnchorMode(enum.StrEnum):
    """How a revision went on chain (docs/design.md, "Anchoring")."""

    DIRECT = "direct"
    MANY = "many"
    BATCH = "batch"


class TxPurpose(enum.StrEnum):
    """What an outbox transaction does."""

    REVISIONS = "revisions"
    REVOCATION = "revocation"
    REPLACEMENT = "replacement"
    ACCESS_LOG = "access_log"


class TxState(enum.StrEnum):
    """Life of one signed transaction in the outbox."""

    SIGNED = "signed"  # recorded, maybe broadcast: reconcile by hash/nonce on restart
    SENT = "sent"  # the node accepted it into its pool
    CONFIRMED = "confirmed"  # receipt with status 1 and enough confirmations
    FAILED = "failed"  # receipt with status 0 (reverted)
    DROPPED = "dropped"  # never mined; its nonce was reused by another transaction


class KeyRole(enum.StrEnum):
    """What an API key may do."""

    PUBLISHER = "publisher"
    AUDITOR = "auditor"
    ADMIN = "admin"


class Severity(enum.StrEnum):
    """How urgent an alert is."""

    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"
