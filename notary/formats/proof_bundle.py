"""Proof bundles: everything an offline verifier needs about one anchored revision.

A bundle names the deployment (chain id, registry), carries the revision's leaf inputs,
where it was anchored (transaction, block, log index) and, for batch mode, the batch root
and the Merkle path. The binary layout is in docs/formats.md ("Proof bundle"); parsing is
strict: wrong magic, an unknown version, truncation, out-of-range fields and trailing bytes
all raise `ProofBundleError` (an `InvalidInput`) with a message saying what is wrong where.

A bundle proves nothing by itself: a verifier recomputes the leaf (`leaf()`), checks the
Merkle path (`batch_path_valid()`) and then asks a trusted chain about the leaf or root.
Pure: no I/O.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from typing import Self

from notary.errors import InvalidInput
from notary.formats.byte_reader import ByteReader
from notary.formats.merkle import MAX_PROOF_LENGTH, verify_inclusion
from notary.formats.revision import (
    UINT32_MAX,
    UINT64_MAX,
    UINT256_MAX,
    Kind,
    Revision,
    as_bytes32,
    check_uint,
    compute_leaf,
    parse_address,
)

MAGIC = b"NPB"
FORMAT_VERSION = 1
ANCHOR_REVISION = 0
"""The revision was anchored by `anchor`/`anchorMany`; the log is its `RevisionAnchored`."""
ANCHOR_BATCH = 1
"""The leaf is in a batch; the log is the batch's `BatchAnchored`, a Merkle path follows."""

DIRECT_SIZE = 242
"""Size of a bundle without batch part."""
MAX_SIZE = DIRECT_SIZE + 32 + 1 + 32 * MAX_PROOF_LENGTH
MAX_TEXT_LENGTH = (MAX_SIZE * 4 + 2) // 3

_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")


class ProofBundleError(InvalidInput):
    """A proof bundle that is malformed, truncated, too long or out of range."""


class UnsupportedBundleVersion(ProofBundleError):
    """A proof bundle in a format version this code does not know."""


@dataclass(frozen=True, slots=True)
class BatchInclusion:
    """Where a batched leaf sits: the anchored root and the sibling path up to it."""

    root: bytes
    path: tuple[bytes, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", as_bytes32(self.root, "batch root"))
        if isinstance(self.path, bytes | bytearray | str):
            raise InvalidInput("Merkle path must be a sequence of 32-byte hashes")
        path = tuple(as_bytes32(node, "Merkle path element") for node in self.path)
        if len(path) > MAX_PROOF_LENGTH:
            raise InvalidInput(f"Merkle path longer than {MAX_PROOF_LENGTH} hashes")
        object.__setattr__(self, "path", path)


@dataclass(frozen=True, slots=True)
class ProofBundle:
    """The offline evidence for one revision on one deployment."""

    chain_id: int
    registry: bytes
    revision: Revision
    tx_hash: bytes
    block_number: int
    log_index: int
    batch: BatchInclusion | None = None

    def __post_init__(self) -> None:
        check_uint(self.chain_id, "chain_id", UINT256_MAX)
        if self.chain_id == 0:
            raise InvalidInput("chain_id must be at least 1")
        object.__setattr__(self, "registry", parse_address(self.registry))
        if not isinstance(self.revision, Revision):
            raise InvalidInput(f"revision must be a Revision, not {type(self.revision).__name__}")
        object.__setattr__(self, "tx_hash", as_bytes32(self.tx_hash, "tx_hash"))
        check_uint(self.block_number, "block_number", UINT64_MAX)
        check_uint(self.log_index, "log_index", UINT32_MAX)
        if self.batch is not None and not isinstance(self.batch, BatchInclusion):
            raise InvalidInput(f"batch must be a BatchInclusion, not {type(self.batch).__name__}")

    # --- what a verifier computes -------------------------------------------------------

    def leaf(self) -> bytes:
        """The revision's leaf on the bundle's chain and registry."""
        return compute_leaf(self.revision, chain_id=self.chain_id, registry=self.registry)

    def batch_path_valid(self) -> bool:
        """True when the Merkle path leads from the leaf to the batch root (batched only)."""
        if self.batch is None:
            return False
        return verify_inclusion(self.batch.root, self.leaf(), self.batch.path)

    # --- binary form --------------------------------------------------------------------

    def encode(self) -> bytes:
        """The binary form (docs/formats.md, "Proof bundle")."""
        r = self.revision
        parts = [
            MAGIC,
            bytes((FORMAT_VERSION, ANCHOR_BATCH if self.batch else ANCHOR_REVISION)),
            self.chain_id.to_bytes(32, "big"),
            self.registry,
            r.record_id,
            r.version.to_bytes(4, "big"),
            bytes((int(r.kind),)),
            r.valid_until.to_bytes(8, "big"),
            r.content_hash,
            r.metadata_hash,
            r.prev_leaf,
            self.tx_hash,
            self.block_number.to_bytes(8, "big"),
            self.log_index.to_bytes(4, "big"),
        ]
        if self.batch is not None:
            parts += [self.batch.root, bytes((len(self.batch.path),)), *self.batch.path]
        return b"".join(parts)

    @classmethod
    def decode(cls, data: bytes) -> Self:
        """Parse the binary form strictly; raises `ProofBundleError` on anything amiss."""
        if not isinstance(data, bytes | bytearray | memoryview):
            raise ProofBundleError(f"proof bundle must be bytes, not {type(data).__name__}")
        data = bytes(data)
        if len(data) > MAX_SIZE:
            raise ProofBundleError(f"proof bundle is {len(data)} bytes, at most {MAX_SIZE} allowed")
        rd = ByteReader(data, subject="proof bundle", error=ProofBundleError)
        if rd.take(3, "magic") != MAGIC:
            raise ProofBundleError("not a proof bundle (magic is not 'NPB')")
        version = rd.uint(1, "format version")
        if version != FORMAT_VERSION:
            raise UnsupportedBundleVersion(
                f"proof bundle format version {version} is not supported "
                f"(this verifier reads version {FORMAT_VERSION})"
            )
        mode = rd.uint(1, "anchor mode")
        if mode not in (ANCHOR_REVISION, ANCHOR_BATCH):
            raise ProofBundleError(f"unknown anchor mode {mode} at offset 4 (0 revision, 1 batch)")
        chain_id = rd.uint(32, "chain id")
        registry = rd.take(20, "registry")
        record_id = rd.take(32, "record id")
        rev_version = rd.uint(4, "version")
        kind = rd.uint(1, "kind")
        if kind not in (Kind.DISCLOSURE, Kind.CERTIFICATE):
            raise ProofBundleError(f"unknown kind {kind} at offset {rd.pos - 1}")
        valid_until = rd.uint(8, "valid until")
        content_hash = rd.take(32, "content hash")
        metadata_hash = rd.take(32, "metadata hash")
        prev_leaf = rd.take(32, "previous leaf")
        tx_hash = rd.take(32, "transaction hash")
        block_number = rd.uint(8, "block number")
        log_index = rd.uint(4, "log index")
        batch_fields: tuple[bytes, list[bytes]] | None = None
        if mode == ANCHOR_BATCH:
            root = rd.take(32, "batch root")
            count = rd.uint(1, "path length")
            if count > MAX_PROOF_LENGTH:
                raise ProofBundleError(
                    f"Merkle path of {count} hashes at offset {rd.pos - 1}, "
                    f"at most {MAX_PROOF_LENGTH} allowed"
                )
            batch_fields = (root, [rd.take(32, f"path hash {i}") for i in range(count)])
        rd.end()
        try:
            return cls(
                chain_id=chain_id,
                registry=registry,
                revision=Revision(
                    record_id=record_id,
                    version=rev_version,
                    kind=Kind(kind),
                    valid_until=valid_until,
                    content_hash=content_hash,
                    metadata_hash=metadata_hash,
                    prev_leaf=prev_leaf,
                ),
                tx_hash=tx_hash,
                block_number=block_number,
                log_index=log_index,
                batch=BatchInclusion(batch_fields[0], tuple(batch_fields[1]))
                if batch_fields
                else None,
            )
        except ProofBundleError:
            raise
        except InvalidInput as exc:
            raise ProofBundleError(f"proof bundle holds an invalid value: {exc}") from exc

    # --- text form ----------------------------------------------------------------------

    def to_text(self) -> str:
        """The binary form as unpadded base64url (RFC 4648 §5), safe in URLs and JSON."""
        return base64.urlsafe_b64encode(self.encode()).rstrip(b"=").decode("ascii")

    @classmethod
    def from_text(cls, text: str) -> Self:
        """Parse the unpadded base64url form strictly (no padding, spaces or other chars)."""
        if not isinstance(text, str):
            raise ProofBundleError(f"proof bundle text must be a string, not {type(text).__name__}")
        if len(text) > MAX_TEXT_LENGTH:
            raise ProofBundleError(f"proof bundle text longer than {MAX_TEXT_LENGTH} characters")
        if not _BASE64URL.fullmatch(text) or len(text) % 4 == 1:
            raise ProofBundleError("proof bundle text is not unpadded base64url")
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        if base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii") != text:
            raise ProofBundleError("proof bundle text is not canonical base64url (stray bits)")
        return cls.decode(data)
