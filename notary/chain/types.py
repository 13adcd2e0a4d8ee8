"""Frozen values answered by the registry's views and by sending transactions.

Pure: no I/O. Byte values are `bytes`, addresses EIP-55 `str`, hashes of transactions and
blocks `0x`-hex `str` (what a database column and a block explorer both take).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from notary.chain.events import RegistryEvent

E = TypeVar("E", bound="RegistryEvent")

OPEN_UNTIL = 2**32 - 1
"""`SignerPeriod.until_block` of a period that is still open."""


class RecordStatus(IntEnum):
    """Stored status of a record (the Solidity `Status` enum)."""

    NONE = 0
    ACTIVE = 1
    REVOKED = 2
    REPLACED = 3


@dataclass(frozen=True, slots=True)
class Head:
    """The head of a record: latest version, its leaf prefix and the record's status."""

    office_id: bytes
    version: int
    status: RecordStatus
    leaf_prefix: bytes
    anchored_block: int
    valid_until: int
    replaced_by: bytes

    @property
    def exists(self) -> bool:
        """False for a record that was never anchored."""
        return self.version != 0

    def matches(self, leaf: bytes) -> bool:
        """True when `leaf` is this head's leaf (its first 23 bytes are stored on chain)."""
        return self.exists and leaf[: len(self.leaf_prefix)] == self.leaf_prefix


@dataclass(frozen=True, slots=True)
class Office:
    """An office as the registry knows it (`number` 0 = not registered)."""

    office_id: bytes
    number: int
    suspended: bool
    name: str

    @property
    def exists(self) -> bool:
        """False when no office with this id is registered."""
        return self.number != 0


@dataclass(frozen=True, slots=True)
class SignerPeriod:
    """A block range (inclusive) during which a signer could sign for an office."""

    office_number: int
    from_block: int
    until_block: int

    @property
    def is_open(self) -> bool:
        """True while the signer still holds this authority."""
        return self.until_block == OPEN_UNTIL

    def covers(self, block_number: int) -> bool:
        """Whether `block_number` falls inside the period."""
        return self.from_block <= block_number <= self.until_block


@dataclass(frozen=True, slots=True)
class BatchInfo:
    """Where a batch root was anchored (`block_number` 0 = unknown root)."""

    root: bytes
    office_id: bytes
    block_number: int

    @property
    def exists(self) -> bool:
        """False for a root that was never anchored."""
        return self.block_number != 0


@dataclass(frozen=True, slots=True)
class SignedTx:
    """A transaction signed locally and not necessarily broadcast yet.

    The outbox worker stores `tx_hash` (and, to rebroadcast after a crash, `raw`) before
    calling `broadcast`, so a crash between the two is recovered by looking the hash up.
    """

    raw: bytes
    tx_hash: str
    sender: str
    nonce: int
    gas: int
    to: str | None
    function: str

    def to_json(self) -> dict[str, Any]:
        """A JSON object for the outbox table; `from_json` reads it back."""
        return {
            "raw": "0x" + self.raw.hex(),
            "tx_hash": self.tx_hash,
            "sender": self.sender,
            "nonce": self.nonce,
            "gas": self.gas,
            "to": self.to,
            "function": self.function,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SignedTx:
        """Parse what `to_json` wrote."""
        return cls(
            raw=bytes.fromhex(str(data["raw"]).removeprefix("0x")),
            tx_hash=str(data["tx_hash"]),
            sender=str(data["sender"]),
            nonce=int(data["nonce"]),
            gas=int(data["gas"]),
            to=None if data.get("to") is None else str(data["to"]),
            function=str(data["function"]),
        )


@dataclass(frozen=True, slots=True)
class TxResult:
    """A mined, successful transaction with the registry events it emitted."""

    tx_hash: str
    block_number: int
    block_hash: str
    gas_used: int
    effective_gas_price: int
    events: tuple[RegistryEvent, ...]
    contract_address: str | None = None

    def events_of(self, kind: type[E]) -> tuple[E, ...]:
        """The events of one type, in log order."""
        return tuple(e for e in self.events if isinstance(e, kind))
