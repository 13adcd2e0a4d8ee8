"""The QR payload: what every stamped page's code says, byte for byte (docs/qr-payload.md).

A payload names the chain and registry (chain id + the registry address's first 8 bytes),
the record, the version, the page and the page count, and the first 8 bytes of the
revision's leaf, so a verifier can find the anchor and notice a code swapped between
revisions. Certificates add the salt of the holder commitment; an optional signature by the
office signer lets a verifier without network access say who issued the code. A CRC-16
closes the payload so that a garbled code reads as "not a valid code" rather than as some
other record.

The payload travels as unpadded base64url text, the last path segment of a verify URL
(`https://<host>/v/<payload>`). `decode` is strict: one text per payload, bounded lengths,
no unknown versions or flags, no trailing bytes; everything else raises `InvalidPayload`,
which a verifier turns into a "not a valid code" verdict.

Pure and import-light: the parser needs only the standard library. The signature helpers
import `eth_hash` / `eth_keys` when called.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Literal, Self
from urllib.parse import urlsplit

from notary.errors import InvalidInput
from notary.formats.byte_reader import ByteReader

if TYPE_CHECKING:
    from eth_keys.datatypes import PrivateKey

FORMAT_VERSION = 1
"""The first byte of every payload of this layout."""

REGISTRY_PREFIX_LEN = 8
LEAF_PREFIX_LEN = 8
RECORD_ID_LEN = 32
SIGNATURE_LEN = 65
CRC_LEN = 2
SALT_LENGTHS = {1: 16, 2: 32}
"""Salt length by the value of flag bits 0-1 (0 = no salt, 3 = reserved)."""

FLAG_SALT_MASK = 0b0000_0011
FLAG_SIGNED = 0b0000_0100
KNOWN_FLAGS = FLAG_SALT_MASK | FLAG_SIGNED

CHAIN_ID_MAX = 2**64 - 1
VERSION_MAX = 2**32 - 1
PAGES_MAX = 65_535

MAX_PAYLOAD_BYTES = 2 + 10 + 8 + 32 + 5 + 3 + 3 + 8 + 32 + SIGNATURE_LEN + CRC_LEN
"""The longest valid payload (170 bytes): every varint at its widest, salt and signature."""
MAX_TEXT_LEN = -(-MAX_PAYLOAD_BYTES * 4 // 3)
MAX_URL_LEN = 2048
SIGNATURE_TAG_TEXT = b"disclosure-notary/qr-signature/v1"
"""keccak256 of this is the first 32 bytes of every signed message (domain separation)."""

_SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
_B64URL = re.compile(r"[A-Za-z0-9_-]+")
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_HOST = re.compile(rf"({_LABEL}(?:\.{_LABEL})*)(?::([0-9]{{1,5}}))?")
_HEX_ADDRESS = re.compile(r"0[xX]([0-9a-fA-F]{40})")


class InvalidPayload(InvalidInput):
    """A QR payload or verify URL that is not a valid code of a known format."""


# ---------------------------------------------------------------------------------------
# The payload
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class QrPayload:
    """One page's code: which anchor to look up and which page of it this is.

    Build one with `QrPayload.for_page` (from the full registry address and leaf) or parse
    one with `decode`. Construction validates every field, so a `QrPayload` in hand always
    encodes.
    """

    chain_id: int
    registry_prefix: bytes
    record_id: bytes
    version: int
    page: int
    pages: int
    leaf_prefix: bytes
    salt: bytes | None = None
    signature: bytes | None = None

    def __post_init__(self) -> None:
        _check_int(self.chain_id, "chain id", 1, CHAIN_ID_MAX)
        _check_bytes(self.registry_prefix, "registry prefix", REGISTRY_PREFIX_LEN)
        _check_bytes(self.record_id, "record id", RECORD_ID_LEN)
        if self.record_id[:4] == bytes(4):
            raise InvalidPayload("record id names no office (office number 0)")
        _check_int(self.version, "version", 1, VERSION_MAX)
        _check_int(self.pages, "page count", 1, PAGES_MAX)
        _check_int(self.page, "page", 1, self.pages)
        _check_bytes(self.leaf_prefix, "leaf prefix", LEAF_PREFIX_LEN)
        if self.salt is not None and (
            not isinstance(self.salt, bytes) or len(self.salt) not in SALT_LENGTHS.values()
        ):
            raise InvalidPayload("salt must be 16 or 32 bytes")
        if self.signature is not None:
            _check_bytes(self.signature, "signature", SIGNATURE_LEN)
            _check_signature_shape(self.signature)

    @classmethod
    def for_page(
        cls,
        *,
        chain_id: int,
        registry: bytes | str,
        record_id: bytes,
        version: int,
        leaf: bytes,
        page: int = 1,
        pages: int = 1,
        salt: bytes | None = None,
    ) -> Self:
        """The payload for one page of an anchored revision.

        `registry` is the full 20-byte address (bytes or `0x` hex) and `leaf` the full
        32-byte leaf; the payload keeps their prefixes.
        """
        address = _parse_address(registry)
        _check_bytes(leaf, "leaf", 32)
        return cls(
            chain_id=chain_id,
            registry_prefix=address[:REGISTRY_PREFIX_LEN],
            record_id=record_id,
            version=version,
            page=page,
            pages=pages,
            leaf_prefix=leaf[:LEAF_PREFIX_LEN],
            salt=salt,
        )

    # -- derived views ------------------------------------------------------------------

    @property
    def office_number(self) -> int:
        """The office number: the record id's first 4 bytes."""
        return int.from_bytes(self.record_id[:4], "big")

    @property
    def short_id(self) -> str:
        """A short human label for the record, e.g. `7-3f2a9c1b` (office - random prefix).

        For display next to the code only; it does not identify a record on its own.
        """
        return f"{self.office_number}-{self.record_id[4:8].hex()}"

    @property
    def is_signed(self) -> bool:
        """Whether the payload carries an offline signature."""
        return self.signature is not None

    def matches_registry(self, address: bytes | str) -> bool:
        """Whether the 20-byte `address` starts with this payload's registry prefix."""
        return _parse_address(address)[:REGISTRY_PREFIX_LEN] == self.registry_prefix

    def matches_leaf(self, leaf: bytes) -> bool:
        """Whether the 32-byte `leaf` starts with this payload's leaf prefix."""
        _check_bytes(leaf, "leaf", 32)
        return leaf[:LEAF_PREFIX_LEN] == self.leaf_prefix

    def with_page(self, page: int, pages: int) -> QrPayload:
        """The same payload for another page (drops a signature, which covered the page)."""
        return replace(self, page=page, pages=pages, signature=None)

    def without_signature(self) -> QrPayload:
        """This payload with no signature: what a signature signs."""
        return replace(self, signature=None)

    def with_signature(self, signature: bytes) -> QrPayload:
        """This payload carrying `signature` (65 bytes r || s || v, v = 27 or 28)."""
        return replace(self, signature=signature)

    # -- wire form ----------------------------------------------------------------------

    def body(self) -> bytes:
        """The payload bytes before the CRC (signature included when present)."""
        flags = 0
        if self.salt is not None:
            flags |= 1 if len(self.salt) == 16 else 2
        if self.signature is not None:
            flags |= FLAG_SIGNED
        parts = [
            bytes((FORMAT_VERSION, flags)),
            _varint(self.chain_id),
            self.registry_prefix,
            self.record_id,
            _varint(self.version),
            _varint(self.page),
            _varint(self.pages),
            self.leaf_prefix,
            self.salt or b"",
            self.signature or b"",
        ]
        return b"".join(parts)

    def to_bytes(self) -> bytes:
        """The binary payload: body followed by its CRC-16."""
        body = self.body()
        return body + _crc16(body).to_bytes(CRC_LEN, "big")

    @classmethod
    def from_bytes(cls, data: bytes) -> QrPayload:
        """Parse the binary payload strictly; raise `InvalidPayload` for anything else."""
        return from_bytes(data)

    def encode(self) -> str:
        """The payload as unpadded base64url text (the verify URL's last path segment)."""
        return encode(self)


def encode(payload: QrPayload) -> str:
    """`payload` as unpadded base64url text."""
    if not isinstance(payload, QrPayload):
        raise InvalidInput(f"expected a QrPayload, not {type(payload).__name__}")
    return base64.urlsafe_b64encode(payload.to_bytes()).rstrip(b"=").decode("ascii")


def decode(text: str) -> QrPayload:
    """Parse base64url text into a payload, strictly (see the module docstring)."""
    if not isinstance(text, str):
        raise InvalidPayload(f"payload must be text, not {type(text).__name__}")
    if not text:
        raise InvalidPayload("empty payload")
    if len(text) > MAX_TEXT_LEN:
        raise InvalidPayload(
            f"payload is too long ({len(text)} characters, at most {MAX_TEXT_LEN})"
        )
    if not _B64URL.fullmatch(text):
        raise InvalidPayload("payload is not unpadded base64url (A-Z a-z 0-9 - _)")
    if len(text) % 4 == 1:
        raise InvalidPayload("payload has an impossible base64 length")
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii") != text:
        raise InvalidPayload("payload is not canonical base64url (stray low bits)")
    return from_bytes(data)


def from_bytes(data: bytes) -> QrPayload:
    """Parse the binary payload strictly; raise `InvalidPayload` for anything else."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise InvalidPayload(f"payload must be bytes, not {type(data).__name__}")
    data = bytes(data)
    if len(data) > MAX_PAYLOAD_BYTES:
        raise InvalidPayload(
            f"payload is too long ({len(data)} bytes, at most {MAX_PAYLOAD_BYTES})"
        )
    if not data:
        raise InvalidPayload("empty payload")
    if data[0] != FORMAT_VERSION:
        raise InvalidPayload(f"unknown payload format version {data[0]} (this reader knows 1)")
    if len(data) < 2 + CRC_LEN:
        raise InvalidPayload("payload is truncated")
    body, crc = data[:-CRC_LEN], int.from_bytes(data[-CRC_LEN:], "big")
    reader = ByteReader(body, subject="payload", error=InvalidPayload)
    reader.take(1, "version")
    flags = reader.take(1, "flags")[0]
    if flags & ~KNOWN_FLAGS:
        raise InvalidPayload(f"unknown flags 0x{flags & ~KNOWN_FLAGS:02x}")
    salt_code = flags & FLAG_SALT_MASK
    if salt_code and salt_code not in SALT_LENGTHS:
        raise InvalidPayload("reserved salt length code 3")
    chain_id = reader.varint("chain id", 10, CHAIN_ID_MAX)
    registry_prefix = reader.take(REGISTRY_PREFIX_LEN, "registry prefix")
    record_id = reader.take(RECORD_ID_LEN, "record id")
    version = reader.varint("version", 5, VERSION_MAX)
    page = reader.varint("page", 3, PAGES_MAX)
    pages = reader.varint("page count", 3, PAGES_MAX)
    leaf_prefix = reader.take(LEAF_PREFIX_LEN, "leaf prefix")
    salt = reader.take(SALT_LENGTHS[salt_code], "salt") if salt_code else None
    signature = reader.take(SIGNATURE_LEN, "signature") if flags & FLAG_SIGNED else None
    if reader.remaining():
        # Checked before the CRC so that extra bytes get the more useful message.
        raise InvalidPayload(f"{reader.remaining()} trailing bytes after the payload")
    if _crc16(body) != crc:
        raise InvalidPayload("checksum mismatch: the code is damaged or was altered")
    return QrPayload(
        chain_id=chain_id,
        registry_prefix=registry_prefix,
        record_id=record_id,
        version=version,
        page=page,
        pages=pages,
        leaf_prefix=leaf_prefix,
        salt=salt,
        signature=signature,
    )


# ---------------------------------------------------------------------------------------
# Verify URLs
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class VerifyLink:
    """A parsed verify URL. The host is reported, never trusted: the verdict comes from the
    chain named by the payload and the verifier's own trust list."""

    scheme: str
    host: str
    payload: QrPayload


def verify_url(host: str, payload: QrPayload, *, scheme: Literal["https", "http"] = "https") -> str:
    """`https://<host>/v/<payload>`: the text a stamped page's QR code holds.

    `host` is a DNS name or IP address, optionally with `:port`, no scheme or path. `http`
    exists for a local demo only.
    """
    if scheme not in ("https", "http"):
        raise InvalidInput(f"scheme must be https or http, not {scheme!r}")
    if not isinstance(host, str):
        raise InvalidInput(f"host must be text, not {type(host).__name__}")
    return f"{scheme}://{_check_host(host.lower())}/v/{encode(payload)}"


def parse_verify_url(url: str) -> VerifyLink:
    """Split a verify URL into host and payload, strictly.

    Accepts exactly `http(s)://<host>/v/<payload>`: no user info, query or fragment, no
    other path. Raises `InvalidPayload` for anything else.
    """
    if not isinstance(url, str):
        raise InvalidPayload(f"URL must be text, not {type(url).__name__}")
    if len(url) > MAX_URL_LEN:
        raise InvalidPayload(f"URL is too long ({len(url)} characters)")
    if not url.isascii() or any(c.isspace() or ord(c) < 0x20 for c in url):
        raise InvalidPayload("URL contains spaces, control or non-ASCII characters")
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise InvalidPayload(f"not a URL: {exc}") from exc
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http"):
        raise InvalidPayload(f"not a verify URL: scheme {parts.scheme or '(none)'!r}")
    if "@" in parts.netloc:
        raise InvalidPayload("not a verify URL: it carries user information")
    if parts.query or parts.fragment or url.endswith(("?", "#")):
        raise InvalidPayload("not a verify URL: it has a query or fragment")
    try:
        host = _check_host(parts.netloc.lower())
    except InvalidInput as exc:
        raise InvalidPayload(f"not a verify URL: {exc}") from exc
    segments = parts.path.split("/")
    if len(segments) != 3 or segments[:2] != ["", "v"]:
        raise InvalidPayload("not a verify URL: the path must be /v/<payload>")
    return VerifyLink(scheme=scheme, host=host, payload=decode(segments[2]))


# ---------------------------------------------------------------------------------------
# Offline signature
# ---------------------------------------------------------------------------------------


def signing_digest(payload: QrPayload) -> bytes:
    """The 32-byte hash an office signer signs for `payload`.

    `keccak256(keccak256("disclosure-notary/qr-signature/v1") || body)` where `body` is the
    payload's body without a signature (flag bit 2 clear, no CRC). The tag keeps the
    signature from meaning anything outside this format.
    """
    from notary.formats.keccak import keccak

    if not isinstance(payload, QrPayload):
        raise InvalidInput(f"expected a QrPayload, not {type(payload).__name__}")
    return keccak(keccak(SIGNATURE_TAG_TEXT) + payload.without_signature().body())


def sign(payload: QrPayload, private_key: bytes | str | PrivateKey) -> QrPayload:
    """`payload` signed by `private_key` (32 bytes, `0x` hex, or an eth_keys key).

    The signature is `r || s || v` with low `s` and `v` = 27 or 28, as Ethereum wallets
    print it; signing is deterministic (RFC 6979), so the same payload and key give the same
    text.
    """
    key = _private_key(private_key)
    sig = key.sign_msg_hash(signing_digest(payload))
    raw = sig.r.to_bytes(32, "big") + sig.s.to_bytes(32, "big") + bytes((sig.v + 27,))
    return payload.with_signature(raw)


def recover_signer(payload: QrPayload) -> str:
    """The EIP-55 address that signed `payload`; raise `InvalidPayload` if unsigned or bad.

    Recovery always yields *some* address for a well-formed signature: the caller must
    compare it with the signers its trust list allows for the record's office.
    """
    from eth_keys import keys
    from eth_keys.exceptions import BadSignature, ValidationError

    if not isinstance(payload, QrPayload):
        raise InvalidInput(f"expected a QrPayload, not {type(payload).__name__}")
    if payload.signature is None:
        raise InvalidPayload("the payload carries no signature")
    sig = payload.signature
    try:
        signature = keys.Signature(
            vrs=(sig[64] - 27, int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:64], "big"))
        )
        public_key = signature.recover_public_key_from_msg_hash(signing_digest(payload))
    except (BadSignature, ValidationError, ValueError) as exc:
        raise InvalidPayload(f"the signature cannot be recovered: {exc}") from exc
    return public_key.to_checksum_address()


# ---------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _crc16(data: bytes) -> int:
    """CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF; check value 0x29B1)."""
    return binascii.crc_hqx(data, 0xFFFF)


def _check_int(value: object, name: str, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidPayload(f"{name} must be an integer, not {type(value).__name__}")
    if not low <= value <= high:
        raise InvalidPayload(f"{name} {value} is out of range ({low}..{high})")


def _check_bytes(value: object, name: str, length: int) -> None:
    if not isinstance(value, bytes):
        raise InvalidPayload(f"{name} must be bytes, not {type(value).__name__}")
    if len(value) != length:
        raise InvalidPayload(f"{name} must be {length} bytes, got {len(value)}")


def _check_signature_shape(sig: bytes) -> None:
    """r and s in range, low s, v = 27 or 28: the one canonical form of a signature."""
    r = int.from_bytes(sig[:32], "big")
    s = int.from_bytes(sig[32:64], "big")
    if not (1 <= r < _SECP256K1_N and 1 <= s <= _SECP256K1_N // 2):
        raise InvalidPayload("signature is not canonical (r, s out of range or high s)")
    if sig[64] not in (27, 28):
        raise InvalidPayload(f"signature recovery byte must be 27 or 28, got {sig[64]}")


def _parse_address(value: bytes | str) -> bytes:
    if isinstance(value, bytes | bytearray):
        if len(value) != 20:
            raise InvalidInput(f"registry address must be 20 bytes, got {len(value)}")
        return bytes(value)
    if isinstance(value, str) and (match := _HEX_ADDRESS.fullmatch(value)):
        return bytes.fromhex(match.group(1))
    raise InvalidInput(f"not a registry address (20 bytes or 0x + 40 hex): {value!r:.80}")


def _check_host(host: object) -> str:
    """A lowercase DNS name or IPv4 address with an optional port, as given."""
    if not isinstance(host, str) or not (match := _HOST.fullmatch(host)):
        raise InvalidInput(f"not a host name (name or address, optional :port): {host!r:.80}")
    if len(match.group(1)) > 253:
        raise InvalidInput("host name is longer than 253 characters")
    if match.group(2) is not None and not 1 <= int(match.group(2)) <= 65535:
        raise InvalidInput(f"port out of range in {host!r}")
    return host


def _private_key(value: object) -> PrivateKey:
    from eth_keys import keys

    key_cls = keys.PrivateKey
    if isinstance(value, key_cls):
        return value
    if isinstance(value, str):
        text = value[2:] if value[:2] in ("0x", "0X") else value
        try:
            value = bytes.fromhex(text)
        except ValueError as exc:
            raise InvalidInput("private key is not hex") from exc
    if not isinstance(value, bytes) or len(value) != 32:
        raise InvalidInput("private key must be 32 bytes")
    try:
        return key_cls(value)
    except Exception as exc:  # eth_keys raises ValidationError for 0 or >= n
        raise InvalidInput(f"not a valid secp256k1 private key: {exc}") from exc
