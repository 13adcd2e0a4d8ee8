"""Merkle trees for batch mode: RFC 6962 shape, Keccak-256, sorted pairs (docs/formats.md).

    leafNode(leaf) = keccak256(0x00 || leaf)
    node(a, b)     = keccak256(0x01 || min(a, b) || max(a, b))
    MTH(D[0:n])    = node(MTH(D[0:k]), MTH(D[k:n])), k the largest power of two < n

Nothing is duplicated to pad a level. Pairs are sorted, so a proof is just the sibling
hashes from the bottom up (no left/right bits) and OpenZeppelin's `MerkleProof` with a
custom hasher checks it on chain.

The RFC 6962 tree is the same as building level by level, pairing neighbours and promoting
a level's odd last node unchanged; `MerkleTree` does that once, so all n proofs together
cost O(n log n). Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from notary.errors import InvalidInput
from notary.formats.keccak import keccak

LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
MAX_PROOF_LENGTH = 32
"""Longest proof accepted: `anchorBatch` takes a uint32 leaf count, so depth ≤ 32."""


def leaf_node(leaf: bytes) -> bytes:
    """The tree node of a leaf: keccak256(0x00 || leaf)."""
    return keccak(LEAF_PREFIX + _check32(leaf, "leaf"))


def node_hash(a: bytes, b: bytes) -> bytes:
    """The parent of two nodes: keccak256(0x01 || min || max), compared as uint256."""
    return _node(_check32(a, "node"), _check32(b, "node"))


def _node(a: bytes, b: bytes) -> bytes:
    # Equal-length big-endian byte strings compare like the uint256 values they encode.
    return keccak(NODE_PREFIX + a + b if a <= b else NODE_PREFIX + b + a)


class MerkleTree:
    """A tree over a fixed list of leaves, built once; proofs are read off its levels."""

    __slots__ = ("_levels",)

    def __init__(self, leaves: Iterable[bytes]) -> None:
        """Build the tree over `leaves` (revision leaves, 32 bytes each, at least one)."""
        if isinstance(leaves, bytes | bytearray | str):
            raise InvalidInput("a Merkle tree needs a list of 32-byte leaves, not one string")
        level = [leaf_node(leaf) for leaf in leaves]
        if not level:
            raise InvalidInput("a Merkle tree needs at least one leaf")
        levels = [level]
        while len(level) > 1:
            parents = [_node(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
            if len(level) % 2:
                parents.append(level[-1])  # promoted, never duplicated
            level = parents
            levels.append(level)
        self._levels: list[list[bytes]] = levels

    def __len__(self) -> int:
        return len(self._levels[0])

    @property
    def root(self) -> bytes:
        """The root to anchor with `anchorBatch`."""
        return self._levels[-1][0]

    def proof(self, index: int) -> list[bytes]:
        """Sibling hashes from leaf `index`'s level up to the root."""
        n = len(self)
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < n:
            raise InvalidInput(f"leaf index must be in [0, {n}), got {index!r}")
        path = []
        for level in self._levels[:-1]:
            sibling = index ^ 1
            if sibling < len(level):
                path.append(level[sibling])
            index //= 2
        return path

    def proofs(self) -> Iterator[list[bytes]]:
        """Every leaf's proof, in leaf order."""
        for index in range(len(self)):
            yield self.proof(index)


def merkle_root(leaves: Iterable[bytes]) -> bytes:
    """The root of the tree over `leaves`."""
    return MerkleTree(leaves).root


def inclusion_proof(leaves: Iterable[bytes], index: int) -> list[bytes]:
    """The proof for `leaves[index]`; build a `MerkleTree` when you need many proofs."""
    return MerkleTree(leaves).proof(index)


def root_from_proof(leaf: bytes, proof: Sequence[bytes]) -> bytes:
    """The root that `leaf` and `proof` lead to."""
    if isinstance(proof, bytes | bytearray | str) or len(proof) > MAX_PROOF_LENGTH:
        raise InvalidInput(f"a proof is a list of at most {MAX_PROOF_LENGTH} hashes")
    node = leaf_node(leaf)
    for sibling in proof:
        node = _node(node, _check32(sibling, "proof element"))
    return node


def verify_inclusion(root: bytes, leaf: bytes, proof: Sequence[bytes]) -> bool:
    """True when `proof` shows that `leaf` is in the tree with this `root`.

    Raises `InvalidInput` only for malformed arguments (not 32 bytes, too long a proof).
    """
    return root_from_proof(leaf, proof) == _check32(root, "root")


def _check32(value: object, name: str) -> bytes:
    if not isinstance(value, bytes) or len(value) != 32:
        got = len(value) if isinstance(value, bytes) else type(value).__name__
        raise InvalidInput(f"{name} must be 32 bytes, got {got}")
    return value
