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


@dataclass(frozen=True, slots=True)
class RevokeEvent:
    """One `RecordRevoked` event."""

    record_id: bytes
    signer: str
    reason_hash: bytes
    block: int


@dataclass(frozen=True, slots=True)
class ReplaceEvent:
    """One `RecordReplaced` event."""

    record_id: bytes
    by_record_id: bytes
    block: int


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

    def revisions(self, record_id: bytes, *, head_version: int | None = None) -> list[AnchorEvent]:
        """Every `RevisionAnchored` event of the record, in chain order (`head_version` lets
        an implementation cache them: events only change when the head moves)."""
        ...

    def revocation(self, record_id: bytes) -> RevokeEvent | None:
        """The record's `RecordRevoked` event, if any."""
        ...

    def replacement(self, record_id: bytes) -> ReplaceEvent | None:
        """The record's `RecordReplaced` event, if any."""
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
        """Every `RevisionAnchored` event whose contentHash is `content_hash` (log scan)."""
        ...
