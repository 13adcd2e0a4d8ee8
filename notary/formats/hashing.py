"""Content hashing: SHA-256 (what the chain commits to) and SM3 (kept in the metadata).

`contentHash` is the SHA-256 of the exact published bytes, so anyone can recompute it with
`sha256sum`. Files and streams are read in 1 MiB chunks straight into one reused buffer and
never loaded whole (measured by `scripts/bench_hash.py`). SM3 (GB/T 32905, China's national
standard hash) is computed in the same pass when asked, for long-term preservation.

Pure: no web3, database or web framework; the only I/O is reading the file or stream given.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from typing import BinaryIO, Self

from notary.errors import InvalidInput

DIGEST_SIZE = 32
CHUNK_SIZE = 1 << 20  # large enough that syscall and interpreter overhead vanish

_HEX64 = re.compile(r"(?:0[xX])?([0-9a-fA-F]{64})")


@dataclass(frozen=True, slots=True)
class Digest:
    """A 32-byte hash value (SHA-256, SM3 or Keccak-256), shown as lowercase hex."""

    value: bytes

    def __post_init__(self) -> None:
        if not isinstance(self.value, bytes | bytearray | memoryview):
            raise InvalidInput(f"digest must be bytes, not {type(self.value).__name__}")
        value = bytes(self.value)
        if len(value) != DIGEST_SIZE:
            raise InvalidInput(f"digest must be {DIGEST_SIZE} bytes, got {len(value)}")
        object.__setattr__(self, "value", value)

    @classmethod
    def from_hex(cls, text: str) -> Self:
        """Parse exactly 64 hex digits, optionally prefixed with `0x` (either case)."""
        if not isinstance(text, str):
            raise InvalidInput(f"hex digest must be a string, not {type(text).__name__}")
        match = _HEX64.fullmatch(text)
        if match is None:
            raise InvalidInput(f"not a 32-byte hex digest: {text[:80]!r}")
        return cls(bytes.fromhex(match.group(1)))

    def hex(self) -> str:
        """Lowercase hex without prefix, as `sha256sum` prints it."""
        return self.value.hex()

    def hex0x(self) -> str:
        """Lowercase hex with a `0x` prefix, as web3 and block explorers print a bytes32."""
        return "0x" + self.value.hex()

    def __bytes__(self) -> bytes:
        return self.value

    def __str__(self) -> str:
        return self.value.hex()


ContentHash = Digest
"""The SHA-256 of a published file's exact bytes: a revision's `contentHash`."""


@dataclass(frozen=True, slots=True)
class ContentDigests:
    """What one pass over a file yields: SHA-256, SM3 (`None` unless asked) and the size."""

    sha256: Digest
    sm3: Digest | None
    size: int


def sha256_bytes(data: bytes | bytearray | memoryview) -> Digest:
    """SHA-256 of bytes already in memory."""
    return Digest(hashlib.sha256(data).digest())


def sm3_bytes(data: bytes | bytearray | memoryview) -> Digest:
    """SM3 of bytes already in memory."""
    h = hashlib.new("sm3")
    h.update(data)
    return Digest(h.digest())


def hash_stream(stream: BinaryIO, *, sm3: bool = False) -> ContentDigests:
    """Hash everything left in a binary stream in one pass: SHA-256, and SM3 if `sm3`."""
    hashers = [hashlib.sha256()]
    if sm3:
        hashers.append(hashlib.new("sm3"))
    size = 0
    readinto = getattr(stream, "readinto", None)
    if readinto is not None:
        buf = bytearray(CHUNK_SIZE)
        view = memoryview(buf)
        while n := readinto(buf):
            chunk = view[:n]
            for h in hashers:
                h.update(chunk)
            size += n
    else:
        while data := stream.read(CHUNK_SIZE):
            if not isinstance(data, bytes | bytearray):
                raise InvalidInput("stream must be opened in binary mode")
            for h in hashers:
                h.update(data)
            size += len(data)
    return ContentDigests(
        sha256=Digest(hashers[0].digest()),
        sm3=Digest(hashers[1].digest()) if sm3 else None,
        size=size,
    )


def hash_file(path: str | os.PathLike[str], *, sm3: bool = False) -> ContentDigests:
    """Hash a file's exact bytes in one streamed pass: SHA-256, and SM3 if `sm3`."""
    try:
        # Unbuffered: readinto() then fills our buffer directly, with no extra copy.
        with open(path, "rb", buffering=0) as f:
            return hash_stream(f, sm3=sm3)
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as exc:
        raise InvalidInput(f"cannot hash {os.fspath(path)!r}: {exc.strerror}") from exc


def sha256_stream(stream: BinaryIO) -> Digest:
    """SHA-256 of everything left in a binary stream."""
    return hash_stream(stream).sha256


def sha256_file(path: str | os.PathLike[str]) -> Digest:
    """SHA-256 of a file's exact bytes, equal to what `sha256sum` prints."""
    return hash_file(path).sha256
