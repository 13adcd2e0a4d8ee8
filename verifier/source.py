"""What the verifier needs to know about a registry, as plain frozen values.

`Registry` is the port the verification steps read through; `verifier.chainsource` implements
it over JSON-RPC (web3), and tests may implement it in memory. Any failure to read the chain
is raised as `SourceUnavailable` and becomes the UNAVAILABLE verdict, never a crash.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from notary.chain.types import Head as HeadState
from notary.chain.types import RecordStatus  # noqa: F401 - re-exported for verifier.verify


class SourceUnavailable(ConnectionError):
    """The registry could not be read (node down, wrong chain, timeout, bad answer)."""


@dataclass(frozen=True, slots=True)
class AnchorEvent:
    """One `RevisionAnchored` event with where it was mined."""

    record_id: bytes
    signer: str
    version: int
    kind: int
    valid_until: int
    content_hash: bytes
    metadata_hash: bytes
    block: int
    log_index: int
    prev_head: bytes | None = None
    """The head word this revision replaced (docs/formats.md, "Head word"): the previous
    leaf's first 23 bytes and the previous anchor's block. None from a format-1 registry."""
    block_time: int | None = None
    """The block's timestamp when the node's log carried it (saves a block read)."""

    @property
    def prev_leaf_prefix(self) -> bytes | None:
        """The previous leaf's first 23 bytes (zero for version 1), None when unknown."""
        return None if self.prev_head is None else self.prev_head[:23]

    @property
    def prev_block(self) -> int | None:
        """The block of the previous version's anchor (0 for version 1), None when unknown."""
        return None if self.prev_head is None else int.from_bytes(self.prev_head[28:], "big")


@dataclass(frozen=True, slots=True)
class RevokeEvent:
    """One `RecordRevoked` event."""

    record_id: bytes
    signer: str
    reason_hash: bytes
    block: int
    prev_head: bytes | None = None
    block_time: int | None = None


@dataclass(frozen=True, slots=True)
class ReplaceEvent:
    """One `RecordReplaced` event (`reason_hash` zero when no reason was anchored)."""

    record_id: bytes
    by_record_id: bytes
    block: int
    reason_hash: bytes = bytes(32)
    prev_head: bytes | None = None
    block_time: int | None = None


@dataclass(frozen=True, slots=True)
class OfficeState:
    """`INotaryRegistry.office(officeId)`."""

    office_id: bytes
    number: int
    suspended: bool
    name: str


class Registry(Protocol):
    """Read-only view of one trusted registry deployment."""

    chain_id: int
    address: str

    def head(self, record_id: bytes) -> HeadState:
        """The record's head (version 0 when unknown)."""
        ...

    def revisions(
        self, record_id: bytes, *, head: HeadState, from_version: int = 1
    ) -> list[AnchorEvent]:
        """The record's `RevisionAnchored` events of versions `from_version` … `head.version`,
        in version order, read back from the head's block (a bounded number of reads)."""
        ...

    def anchor_in_block(self, record_id: bytes, version: int, block: int) -> AnchorEvent | None:
        """The anchor of `version` of the record if it is in `block` (an index's hint)."""
        ...

    def closing(self, record_id: bytes, *, head: HeadState) -> RevokeEvent | ReplaceEvent | None:
        """The event that closed the record (revocation or replacement), None while open."""
        ...

    def office(self, office_id: bytes) -> OfficeState:
        """The office (name from the registry, never from a payload)."""
        ...

    def signer_authorised_at(self, office_id: bytes, signer: str, block: int) -> bool:
        """Whether `signer` could sign for the office at `block`."""
        ...

    def block_time(self, block: int) -> int:
        """Timestamp of a block (unix seconds)."""
        ...

    def find_content(self, content_hash: bytes) -> list[AnchorEvent]:
        """Every `RevisionAnchored` event whose contentHash is `content_hash` (a scan of the
        whole history: only `verifier check FILE` without an index uses it)."""
        ...
