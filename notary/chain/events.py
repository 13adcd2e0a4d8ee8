"""The registry's events as frozen, typed values, decoded from raw logs.

Each event carries where it happened (`block_number`, `block_hash`, `tx_hash`, `log_index`)
so replay can order events exactly as the chain did. Events of the registry's ABI that have
no class here (OpenZeppelin's `RoleGranted`, …) decode to `OtherEvent`.

Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from eth_abi.exceptions import DecodingError

from notary.chain.abi import ContractAbi
from notary.errors import InvalidInput
from notary.formats.revision import Kind


@dataclass(frozen=True, slots=True, kw_only=True)
class RegistryEvent:
    """Base of every decoded registry event: where it sits in the chain."""

    name: ClassVar[str] = ""
    block_number: int
    block_hash: str
    tx_hash: str
    log_index: int

    @property
    def position(self) -> tuple[int, int]:
        """(block number, log index): the chain's order of events."""
        return (self.block_number, self.log_index)


@dataclass(frozen=True, slots=True, kw_only=True)
class OfficeRegistered(RegistryEvent):
    """Governance registered an office."""

    name: ClassVar[str] = "OfficeRegistered"
    office_id: bytes
    number: int
    office_name: str


@dataclass(frozen=True, slots=True, kw_only=True)
class OfficeSuspendedBy(RegistryEvent):
    """Governance suspended an office."""

    name: ClassVar[str] = "OfficeSuspendedBy"
    office_id: bytes
    by: str


@dataclass(frozen=True, slots=True, kw_only=True)
class OfficeReinstated(RegistryEvent):
    """Governance reinstated a suspended office."""

    name: ClassVar[str] = "OfficeReinstated"
    office_id: bytes
    by: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SignerGranted(RegistryEvent):
    """`signer` may sign for the office from this block on."""

    name: ClassVar[str] = "SignerGranted"
    office_id: bytes
    signer: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SignerRevoked(RegistryEvent):
    """`signer` may no longer sign for the office after this block."""

    name: ClassVar[str] = "SignerRevoked"
    office_id: bytes
    signer: str


@dataclass(frozen=True, slots=True, kw_only=True)
class RevisionAnchored(RegistryEvent):
    """A revision was anchored (with the previous leaf, enough to recompute its leaf)."""

    name: ClassVar[str] = "RevisionAnchored"
    record_id: bytes
    signer: str
    version: int
    kind: Kind
    valid_until: int
    content_hash: bytes
    metadata_hash: bytes
    prev_head: bytes | None = None
    """The record's head word before this revision (None in a format-1 registry's log)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordRevoked(RegistryEvent):
    """A record was revoked; `reason_hash` is the SHA-256 of the reason text."""

    name: ClassVar[str] = "RecordRevoked"
    record_id: bytes
    signer: str
    reason_hash: bytes
    prev_head: bytes | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordReplaced(RegistryEvent):
    """`record_id` was replaced by the record `by_record_id`; `reason_hash` is the SHA-256
    of the supersede reason (zero when none, and in a format-1 registry's log)."""

    name: ClassVar[str] = "RecordReplaced"
    record_id: bytes
    by_record_id: bytes
    signer: str
    reason_hash: bytes = bytes(32)
    prev_head: bytes | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class BatchAnchored(RegistryEvent):
    """A Merkle root over `leaf_count` leaves was anchored."""

    name: ClassVar[str] = "BatchAnchored"
    root: bytes
    office_id: bytes
    signer: str
    leaf_count: int


@dataclass(frozen=True, slots=True, kw_only=True)
class AccessLogAnchored(RegistryEvent):
    """An office anchored the head of its access log after `entries` entries."""

    name: ClassVar[str] = "AccessLogAnchored"
    office_id: bytes
    signer: str
    head: bytes
    entries: int


@dataclass(frozen=True, slots=True, kw_only=True)
class OtherEvent(RegistryEvent):
    """An event of the registry's ABI without a class of its own (e.g. `RoleGranted`)."""

    event_name: str
    args: tuple[tuple[str, Any], ...]


EVENT_TYPES: dict[str, type[RegistryEvent]] = {
    cls.name: cls
    for cls in (
        OfficeRegistered,
        OfficeSuspendedBy,
        OfficeReinstated,
        SignerGranted,
        SignerRevoked,
        RevisionAnchored,
        RecordRevoked,
        RecordReplaced,
        BatchAnchored,
        AccessLogAnchored,
    )
}

# Solidity argument name -> field name, where snake case alone does not give it.
_FIELD = {
    "officeId": "office_id",
    "recordId": "record_id",
    "byRecordId": "by_record_id",
    "validUntil": "valid_until",
    "contentHash": "content_hash",
    "metadataHash": "metadata_hash",
    "reasonHash": "reason_hash",
    "prevHead": "prev_head",
    "leafCount": "leaf_count",
    "name": "office_name",
}


def decode_log(abi: ContractAbi, log: Mapping[str, Any]) -> RegistryEvent | None:
    """Decode one raw log (as `eth_getLogs` or a receipt returns it) of the registry.

    Returns None for a log whose topic 0 is not an event of the ABI. Raises `InvalidInput`
    for a log that claims a known event but does not decode (never from a correct node).
    """
    topics = [bytes(t) for t in log.get("topics", ())]
    if not topics:
        return None
    event = abi.events.get(topics[0])
    if event is None:
        return None
    try:
        values = event.decode(topics[1:], bytes(log.get("data", b"")))
    except (DecodingError, ValueError, TypeError) as exc:
        raise InvalidInput(f"malformed {event.name} log: {exc}") from None
    meta = {
        "block_number": int(log["blockNumber"]),
        "block_hash": _hex(log["blockHash"]),
        "tx_hash": _hex(log["transactionHash"]),
        "log_index": int(log["logIndex"]),
    }
    cls = EVENT_TYPES.get(event.name)
    if cls is None:
        return OtherEvent(**meta, event_name=event.name, args=tuple(values.items()))
    fields = {_FIELD.get(k, k): v for k, v in values.items()}
    if cls is RevisionAnchored:
        fields["kind"] = Kind(fields["kind"])
    return cls(**meta, **fields)


def _hex(value: Any) -> str:
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    text = str(value)
    return text if text.startswith("0x") else "0x" + text
