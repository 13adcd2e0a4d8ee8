"""The revision model and its leaf, exactly as the registry computes them (docs/formats.md).

A `Revision` is what an office signer submits: it mirrors `INotaryRegistry.Revision` field
for field and refuses values the registry would always reject (wrong lengths, out-of-range
integers, a validity end on a disclosure, a version 1 with a previous leaf). `compute_leaf`
binds a revision to one chain and one registry.

Pure: Keccak-256 comes from `eth_hash` (no web3 import, no I/O).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from enum import IntEnum

from notary.errors import InvalidInput
from notary.formats.hashing import Digest
from notary.formats.keccak import keccak

LEAF_TAG = keccak(b"disclosure-notary/leaf/v1")
"""Domain tag, the first word of every leaf preimage."""

ZERO32 = bytes(32)
UINT32_MAX = 2**32 - 1
UINT64_MAX = 2**64 - 1
UINT256_MAX = 2**256 - 1
RECORD_ID_RANDOM_BYTES = 28

_ADDRESS = re.compile(r"0[xX]([0-9a-fA-F]{40})")
_BYTES32 = re.compile(r"(?:0[xX])?([0-9a-fA-F]{64})")


class Kind(IntEnum):
    """What a record is; the values are the Solidity enum's."""

    DISCLOSURE = 0
    CERTIFICATE = 1


@dataclass(frozen=True, slots=True)
class Revision:
    """One revision of a record, in `INotaryRegistry.Revision` field order.

    Byte fields accept `bytes` (or a `Digest`) of exactly 32 bytes and are stored as
    `bytes`; `kind` accepts a `Kind` or its integer value and is stored as a `Kind`.
    """

    record_id: bytes
    version: int
    kind: Kind
    valid_until: int
    content_hash: bytes
    metadata_hash: bytes
    prev_leaf: bytes

    def __post_init__(self) -> None:
        for name in ("record_id", "content_hash", "metadata_hash", "prev_leaf"):
            object.__setattr__(self, name, as_bytes32(getattr(self, name), name))
        check_uint(self.version, "version", UINT32_MAX)
        if self.version < 1:
            raise InvalidInput("version must be at least 1")
        check_uint(self.valid_until, "valid_until", UINT64_MAX)
        if isinstance(self.kind, bool) or not isinstance(self.kind, int):
            raise InvalidInput(f"kind must be a Kind, not {type(self.kind).__name__}")
        try:
            object.__setattr__(self, "kind", Kind(self.kind))
        except ValueError:
            raise InvalidInput(
                f"unknown kind {self.kind!r} (0 disclosure, 1 certificate)"
            ) from None
        if self.kind is Kind.DISCLOSURE and self.valid_until != 0:
            raise InvalidInput("a disclosure cannot have a validity end (valid_until must be 0)")
        if self.version == 1 and self.prev_leaf != ZERO32:
            raise InvalidInput("version 1 must have a zero prev_leaf")
        if self.version > 1 and self.prev_leaf == ZERO32:
            raise InvalidInput(
                f"version {self.version} needs the leaf of version {self.version - 1}"
            )

    def as_tuple(self) -> tuple[bytes, int, int, int, bytes, bytes, bytes]:
        """The Solidity struct as a tuple, ready to pass to a web3 contract call."""
        return (
            self.record_id,
            self.version,
            int(self.kind),
            self.valid_until,
            self.content_hash,
            self.metadata_hash,
            self.prev_leaf,
        )

    @property
    def office_number(self) -> int:
        """The office number encoded in the record id."""
        return office_number_of(self.record_id)


PREV_LEAF_PREFIX = 23


def compute_leaf(revision: Revision, *, chain_id: int, registry: bytes | str) -> bytes:
    """The revision's leaf on one deployment: keccak256 of ten abi-encoded 32-byte words.

    `registry` is the registry's address as 20 bytes or `0x` hex (an EIP-55 mixed-case
    address must have a valid checksum).
    """
    if not isinstance(revision, Revision):
        raise InvalidInput(f"expected a Revision, not {type(revision).__name__}")
    check_uint(chain_id, "chain_id", UINT256_MAX)
    if chain_id == 0:
        raise InvalidInput("chain_id must be at least 1")
    address = parse_address(registry)
    preimage = b"".join(
        (
            LEAF_TAG,
            chain_id.to_bytes(32, "big"),
            address.rjust(32, b"\x00"),
            revision.record_id,
            revision.version.to_bytes(32, "big"),
            int(revision.kind).to_bytes(32, "big"),
            revision.valid_until.to_bytes(32, "big"),
            revision.content_hash,
            revision.metadata_hash,
            prev_leaf_word(revision.prev_leaf),
        )
    )
    return keccak(preimage)


def prev_leaf_word(prev_leaf: bytes) -> bytes:
    """The prevLeaf word as hashed into a leaf: its first 23 bytes, then 9 zero bytes.

    The registry keeps only a 23-byte prefix of each head, so only those bytes are
    committed; a prevLeaf differing in its tail cannot yield a second, unreplayable leaf.
    """
    return prev_leaf[:PREV_LEAF_PREFIX] + bytes(32 - PREV_LEAF_PREFIX)


# --- record ids -------------------------------------------------------------------------


def new_record_id(office_number: int) -> bytes:
    """A fresh, unguessable record id: the 4-byte office number and 28 random bytes."""
    _check_office_number(office_number)
    return office_number.to_bytes(4, "big") + secrets.token_bytes(RECORD_ID_RANDOM_BYTES)


def office_number_of(record_id: bytes) -> int:
    """The office number a record id belongs to (its first four bytes)."""
    return int.from_bytes(as_bytes32(record_id, "record_id")[:4], "big")


def parse_record_id(text: str) -> bytes:
    """Parse a record id written as 64 hex digits (optionally `0x`-prefixed)."""
    record_id = parse_bytes32(text, "record id")
    if office_number_of(record_id) == 0:
        raise InvalidInput(f"record id {text!r} names no office (office number 0)")
    return record_id


# --- revocation -------------------------------------------------------------------------


def reason_hash(text: str) -> bytes:
    """The on-chain `reasonHash` of a revocation: SHA-256 of the UTF-8 reason text."""
    if not isinstance(text, str):
        raise InvalidInput(f"reason must be a string, not {type(text).__name__}")
    if not text.strip():
        raise InvalidInput("a revocation needs a non-empty reason")
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidInput("reason text is not valid Unicode (lone surrogate)") from exc
    return hashlib.sha256(data).digest()


# --- small parsers shared by the formats -------------------------------------------------


def as_bytes32(value: object, name: str = "value") -> bytes:
    """`value` as exactly 32 `bytes` (accepts bytes-like objects and `Digest`)."""
    if isinstance(value, Digest):
        return value.value
    if not isinstance(value, bytes | bytearray | memoryview):
        raise InvalidInput(f"{name} must be 32 bytes, not {type(value).__name__}")
    data = bytes(value)
    if len(data) != 32:
        raise InvalidInput(f"{name} must be 32 bytes, got {len(data)}")
    return data


def parse_bytes32(text: str, name: str = "value") -> bytes:
    """Parse 64 hex digits (optionally `0x`-prefixed) into 32 bytes."""
    if not isinstance(text, str):
        raise InvalidInput(f"{name} must be a hex string, not {type(text).__name__}")
    match = _BYTES32.fullmatch(text)
    if match is None:
        raise InvalidInput(f"{name} must be 64 hex digits, got {text[:80]!r}")
    return bytes.fromhex(match.group(1))


def parse_address(value: bytes | str) -> bytes:
    """An EVM address as 20 bytes, from 20 bytes or `0x` + 40 hex digits.

    All-lowercase and all-uppercase hex are accepted as is; mixed case must be a valid
    EIP-55 checksum, so a mistyped address is caught rather than silently used.
    """
    if isinstance(value, bytes | bytearray | memoryview):
        data = bytes(value)
        if len(data) != 20:
            raise InvalidInput(f"address must be 20 bytes, got {len(data)}")
        return data
    if not isinstance(value, str):
        raise InvalidInput(f"address must be bytes or hex, not {type(value).__name__}")
    match = _ADDRESS.fullmatch(value)
    if match is None:
        raise InvalidInput(f"not an address (0x + 40 hex digits): {value[:80]!r}")
    digits = match.group(1)
    mixed_case = digits not in (digits.lower(), digits.upper())
    if mixed_case and to_checksum_address(bytes.fromhex(digits)) != "0x" + digits:
        raise InvalidInput(f"address has a wrong EIP-55 checksum: {value}")
    return bytes.fromhex(digits)


def to_checksum_address(address: bytes) -> str:
    """The EIP-55 mixed-case form of a 20-byte address."""
    lower = parse_address(address).hex()
    nibbles = keccak(lower.encode("ascii")).hex()
    return "0x" + "".join(
        c.upper() if c.isalpha() and int(n, 16) >= 8 else c
        for c, n in zip(lower, nibbles, strict=False)
    )


def check_uint(value: object, name: str, maximum: int) -> None:
    """Refuse anything but an `int` (not `bool`) in [0, maximum], naming the field."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"{name} must be an integer, not {type(value).__name__}")
    if not 0 <= value <= maximum:
        raise InvalidInput(f"{name} must be between 0 and {maximum}, got {value}")


def _check_office_number(office_number: int) -> None:
    check_uint(office_number, "office_number", UINT32_MAX)
    if office_number == 0:
        raise InvalidInput("office numbers start at 1")
