"""The worker's settings, its crash-test hook, and `TxRef` (a recorded transaction)."""

from __future__ import annotations

import os
import random
from dataclasses import dataclass, field
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address

from notary.anchoring.plan import ARCHIVE_CATEGORIES, ModeName
from notary.audit.schedule import ScheduleConfig
from notary.chain.config import ChainConfig
from notary.chain.types import SignedTx
from notary.db import repo
from notary.db.models import AnchorTx
from notary.db.types import AnchorMode, TxPurpose
from notary.errors import InvalidInput

CRASH_EXIT_CODE = 137
IDEMPOTENCY_TTL_ENV = "NOTARY_IDEMPOTENCY_TTL_HOURS"
HEAD_EVERY_ENV = "NOTARY_ACCESS_LOG_ANCHOR_EVERY"
HEAD_EVERY_S_ENV = "NOTARY_ACCESS_LOG_ANCHOR_EVERY_S"


def _positive_env(name: str, default: float, kind: type = float) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = kind(raw)
    except ValueError:
        value = float("nan")
    if not value > 0:  # NaN fails too
        raise InvalidInput(f"{name} must be a positive number; got {raw!r}")
    return value


def head_every_entries_from_env() -> int:
    """Entries between access-log head anchors: `NOTARY_ACCESS_LOG_ANCHOR_EVERY` (10,000)."""
    return int(_positive_env(HEAD_EVERY_ENV, 10_000, int))


def head_every_s_from_env() -> float:
    """Seconds the access log's unanchored tail may age: `…_ANCHOR_EVERY_S` (600)."""
    return _positive_env(HEAD_EVERY_S_ENV, 600.0)


def idempotency_ttl_from_env() -> float:
    """Seconds an Idempotency-Key answer is kept: `NOTARY_IDEMPOTENCY_TTL_HOURS` (the API
    reads the same variable), default 24 h."""
    raw = os.environ.get(IDEMPOTENCY_TTL_ENV, "").strip()
    if not raw:
        return repo.IDEMPOTENCY_TTL_HOURS * 3600
    try:
        hours = float(raw)
    except ValueError:
        hours = float("nan")
    if not 0 < hours <= 24 * 366:  # NaN fails too
        raise InvalidInput(f"{IDEMPOTENCY_TTL_ENV} must be hours in (0, 8784]; got {raw!r}")
    return hours * 3600


@dataclass(frozen=True)
class WorkerSettings:
    """What the worker needs: a database, a chain, the office signer keys, and tuning."""

    db_url: str
    chain: ChainConfig
    signers: tuple[LocalAccount, ...]
    mode: ModeName = "auto"
    many_size: int = 100
    batch_size: int = 1000
    max_jobs: int = 16
    fetch_limit: int = 2000
    archive_categories: frozenset[str] = ARCHIVE_CATEGORIES
    idle_sleep: float = 0.2
    max_backoff: float = 5.0
    idempotency_ttl_s: float = field(default_factory=idempotency_ttl_from_env)
    """Idempotency-Key answers older than this are purged (`NOTARY_IDEMPOTENCY_TTL_HOURS`)."""
    purge_every_s: float = 60.0
    head_every_entries: int = field(default_factory=head_every_entries_from_env)
    """Queue an access-log head once this many entries are unanchored (`notary.anchoring.heads`)."""
    head_every_s: float = field(default_factory=head_every_s_from_env)
    """…or once the oldest unanchored entry is this old, whichever comes first."""
    head_check_s: float = 5.0
    """How often the worker looks for due heads."""
    audit: ScheduleConfig = field(default_factory=ScheduleConfig.from_env)
    """The audit the worker runs by itself (`notary.audit.schedule`)."""
    extra: dict[str, Any] = field(default_factory=dict)


def crash_point(name: str) -> None:
    """Test hook: maybe exit at once (no cleanup) here; see the package docstring."""
    points = os.environ.get("NOTARY_TEST_CRASH_POINT")
    if not points:
        return
    wanted = {p.strip() for p in points.split(",")}
    chance = float(os.environ.get("NOTARY_TEST_CRASH_PROB", "0.1"))
    if (name in wanted or "any" in wanted) and random.random() < chance:
        os._exit(CRASH_EXIT_CODE)


@dataclass(frozen=True, slots=True)
class TxRef:
    """A recorded transaction, detached from its session."""

    tx_hash: str
    purpose: TxPurpose
    mode: AnchorMode | None
    signer: str
    nonce: int
    raw: bytes
    batch_root: str | None

    @classmethod
    def of(cls, row: AnchorTx) -> TxRef:
        """From an `anchor_txs` row."""
        return cls(
            tx_hash=row.tx_hash,
            purpose=row.purpose,
            mode=row.mode,
            signer=row.signer,
            nonce=row.nonce,
            raw=bytes.fromhex(row.raw_tx),
            batch_root=row.batch_root,
        )

    @classmethod
    def of_signed(
        cls,
        signed: SignedTx,
        purpose: TxPurpose,
        mode: AnchorMode = AnchorMode.DIRECT,
        batch_root: str | None = None,
    ) -> TxRef:
        """From a transaction this process just signed."""
        return cls(
            tx_hash=signed.tx_hash.removeprefix("0x"),
            purpose=purpose,
            mode=mode,
            signer=signed.sender.lower(),
            nonce=signed.nonce,
            raw=signed.raw,
            batch_root=batch_root,
        )

    def signed(self, registry: str) -> SignedTx:
        """As the chain client's `SignedTx` (to wait for or re-broadcast it)."""
        return SignedTx(
            raw=self.raw,
            tx_hash="0x" + self.tx_hash,
            sender=to_checksum_address(self.signer),
            nonce=self.nonce,
            gas=0,
            to=registry,
            function=self.purpose.value,
        )
