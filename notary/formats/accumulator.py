"""The registry's running accumulator over every anchored leaf and batch root.

One storage slot holds `bytes24 hash || uint64 count`, starting at zero (docs/formats.md):

    revision:  hash = bytes24(keccak256(hash || 0x00 || leaf)),  count += 1
    batch:     hash = bytes24(keccak256(hash || 0x01 || root)),  count += leafCount

Replaying `RevisionAnchored` and `BatchAnchored` events in (block, log index) order through
`fold` must give what `accumulator()` answers on chain; signed checkpoints quote it.
Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from notary.errors import InvalidInput
from notary.formats.keccak import keccak
from notary.formats.revision import UINT32_MAX, UINT64_MAX, as_bytes32, check_uint

HASH_SIZE = 24
REVISION_TAG = b"\x00"
BATCH_TAG = b"\x01"


@dataclass(frozen=True, slots=True)
class RevisionStep:
    """One revision anchored directly (`anchor` or `anchorMany`), by its leaf."""

    leaf: bytes


@dataclass(frozen=True, slots=True)
class BatchStep:
    """One Merkle root anchored by `anchorBatch`, with its declared leaf count."""

    root: bytes
    leaf_count: int


Step = RevisionStep | BatchStep


@dataclass(frozen=True, slots=True)
class Accumulator:
    """An accumulator value: the 24-byte hash and the count of leaves folded in."""

    hash: bytes = bytes(HASH_SIZE)
    count: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.hash, bytes) or len(self.hash) != HASH_SIZE:
            raise InvalidInput(f"accumulator hash must be {HASH_SIZE} bytes")
        check_uint(self.count, "count", UINT64_MAX)

    def add_revision(self, leaf: bytes) -> Accumulator:
        """The accumulator after one more directly anchored revision."""
        digest = keccak(self.hash + REVISION_TAG + as_bytes32(leaf, "leaf"))
        return Accumulator(digest[:HASH_SIZE], _add(self.count, 1))

    def add_batch(self, root: bytes, leaf_count: int) -> Accumulator:
        """The accumulator after one more batch root over `leaf_count` leaves."""
        check_uint(leaf_count, "leaf_count", UINT32_MAX)
        if leaf_count == 0:
            raise InvalidInput("a batch has at least one leaf")
        digest = keccak(self.hash + BATCH_TAG + as_bytes32(root, "root"))
        return Accumulator(digest[:HASH_SIZE], _add(self.count, leaf_count))

    def apply(self, step: Step) -> Accumulator:
        """The accumulator after one step of either kind."""
        if isinstance(step, RevisionStep):
            return self.add_revision(step.leaf)
        if isinstance(step, BatchStep):
            return self.add_batch(step.root, step.leaf_count)
        raise InvalidInput(f"not an accumulator step: {type(step).__name__}")

    def as_tuple(self) -> tuple[bytes, int]:
        """`(hash24, count)`, as the registry's `accumulator()` view returns them."""
        return (self.hash, self.count)


def fold(steps: Iterable[Step], start: Accumulator | None = None) -> tuple[bytes, int]:
    """Fold steps (in event order) into the accumulator, from zero or from `start`."""
    acc = start if start is not None else Accumulator()
    for step in steps:
        acc = acc.apply(step)
    return acc.as_tuple()


def _add(count: int, n: int) -> int:
    total = count + n
    if total > UINT64_MAX:
        raise InvalidInput("accumulator count overflows uint64")
    return total
