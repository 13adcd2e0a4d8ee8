"""Merkle trees: RFC 6962 shape with sorted Keccak pairs; every proof verifies, no forgery does."""

from __future__ import annotations

import pytest
from eth_hash.auto import keccak
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from notary.errors import InvalidInput
from notary.formats import merkle
from notary.formats.merkle import (
    MAX_PROOF_LENGTH,
    MerkleTree,
    inclusion_proof,
    leaf_node,
    merkle_root,
    node_hash,
    root_from_proof,
    verify_inclusion,
)

B32 = st.binary(min_size=32, max_size=32)
LEAVES = st.lists(B32, min_size=1, max_size=70)


def _rfc6962_root(leaves: list[bytes]) -> bytes:
    """The recursive definition from docs/formats.md, written independently."""
    n = len(leaves)
    if n == 1:
        return keccak(b"\x00" + leaves[0])
    k = 1
    while k * 2 < n:
        k *= 2
    a, b = _rfc6962_root(leaves[:k]), _rfc6962_root(leaves[k:])
    return keccak(b"\x01" + min(a, b) + max(a, b))


def _rfc6962_path(leaves: list[bytes], m: int) -> list[bytes]:
    """RFC 6962 §2.1.1 PATH(m, D[n]), bottom-up."""
    n = len(leaves)
    if n == 1:
        return []
    k = 1
    while k * 2 < n:
        k *= 2
    if m < k:
        return [*_rfc6962_path(leaves[:k], m), _rfc6962_root(leaves[k:])]
    return [*_rfc6962_path(leaves[k:], m - k), _rfc6962_root(leaves[:k])]


@settings(max_examples=150, deadline=None)
@given(LEAVES)
def test_tree_matches_the_recursive_rfc6962_definition(leaves: list[bytes]) -> None:
    tree = MerkleTree(leaves)
    assert tree.root == _rfc6962_root(leaves) == merkle_root(leaves)
    for i in range(len(leaves)):
        assert tree.proof(i) == _rfc6962_path(leaves, i)


@settings(max_examples=150, deadline=None)
@given(LEAVES)
def test_every_index_verifies(leaves: list[bytes]) -> None:
    tree = MerkleTree(leaves)
    proofs = list(tree.proofs())
    assert len(proofs) == len(leaves)
    for i, proof in enumerate(proofs):
        assert verify_inclusion(tree.root, leaves[i], proof)
        assert inclusion_proof(leaves, i) == proof


@settings(max_examples=150, deadline=None)
@given(LEAVES, st.data())
def test_a_wrong_leaf_does_not_verify(leaves: list[bytes], data: st.DataObject) -> None:
    tree = MerkleTree(leaves)
    i = data.draw(st.integers(0, len(leaves) - 1))
    other = data.draw(B32)
    assume(other != leaves[i])
    assert not verify_inclusion(tree.root, other, tree.proof(i))


@settings(max_examples=150, deadline=None)
@given(st.lists(B32, min_size=2, max_size=70), st.data())
def test_a_tampered_proof_does_not_verify(leaves: list[bytes], data: st.DataObject) -> None:
    tree = MerkleTree(leaves)
    i = data.draw(st.integers(0, len(leaves) - 1))
    proof = tree.proof(i)
    j = data.draw(st.integers(0, len(proof) - 1))
    bit = data.draw(st.integers(0, 255))
    flipped = bytearray(proof[j])
    flipped[bit // 8] ^= 1 << (bit % 8)
    bad = [*proof[:j], bytes(flipped), *proof[j + 1 :]]
    assert not verify_inclusion(tree.root, leaves[i], bad)
    assert not verify_inclusion(tree.root, leaves[i], proof[:-1])
    assert not verify_inclusion(tree.root, leaves[i], [*proof, proof[-1]])


@settings(max_examples=50, deadline=None)
@given(st.lists(B32, min_size=2, max_size=40, unique=True))
def test_an_inner_node_cannot_pose_as_a_leaf(leaves: list[bytes]) -> None:
    """Domain separation: the parent of two leaf nodes with the rest of a path is no proof."""
    tree = MerkleTree(leaves)
    proof = tree.proof(0)
    inner = node_hash(leaf_node(leaves[0]), proof[0])
    assert not verify_inclusion(tree.root, inner, proof[1:])


def test_odd_levels_promote_instead_of_duplicating() -> None:
    a, b, c = (bytes([x]) * 32 for x in (1, 2, 3))
    la, lb, lc = map(leaf_node, (a, b, c))
    assert merkle_root([a, b, c]) == node_hash(node_hash(la, lb), lc)
    assert merkle_root([a, b, c]) != merkle_root([a, b, c, c])
    assert MerkleTree([a, b, c]).proof(2) == [node_hash(la, lb)]
    assert merkle_root([a]) == la and MerkleTree([a]).proof(0) == []


def test_pairs_are_sorted_so_order_of_two_does_not_matter() -> None:
    a, b = b"\x01" * 32, b"\x02" * 32
    assert node_hash(a, b) == node_hash(b, a) == keccak(b"\x01" + a + b)
    assert merkle_root([a, b]) == merkle_root([b, a])


def test_large_tree_hashes_each_node_once_and_proofs_hash_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """100k leaves: 2n - 1 hashes to build, none to read all n proofs off the levels."""
    calls = 0

    def counting_keccak(data: bytes) -> bytes:
        nonlocal calls
        calls += 1
        return keccak(data)

    monkeypatch.setattr(merkle, "keccak", counting_keccak)
    n = 100_000
    leaves = [i.to_bytes(32, "big") for i in range(n)]
    tree = MerkleTree(leaves)
    assert calls == 2 * n - 1
    proofs = list(tree.proofs())
    assert calls == 2 * n - 1
    assert len(proofs) == n and max(len(p) for p in proofs) == 17
    monkeypatch.undo()
    for i in (0, 1, 65_535, 65_536, n - 1):
        assert verify_inclusion(tree.root, leaves[i], proofs[i])


@pytest.mark.parametrize("leaves", [[], b"\x00" * 32, [b"\x00" * 31], ["00" * 32]])
def test_tree_refuses_bad_leaves(leaves: object) -> None:
    with pytest.raises(InvalidInput):
        MerkleTree(leaves)  # type: ignore[arg-type]


def test_proof_index_is_checked() -> None:
    tree = MerkleTree([bytes(32)] * 3)
    for bad in (-1, 3, True, "0"):
        with pytest.raises(InvalidInput, match="leaf index"):
            tree.proof(bad)  # type: ignore[arg-type]


def test_verify_refuses_malformed_arguments() -> None:
    leaf = bytes(32)
    root = merkle_root([leaf])
    with pytest.raises(InvalidInput, match="at most"):
        verify_inclusion(root, leaf, [leaf] * (MAX_PROOF_LENGTH + 1))
    with pytest.raises(InvalidInput):
        verify_inclusion(root, leaf, [b"\x00" * 31])
    with pytest.raises(InvalidInput):
        verify_inclusion(root[:31], leaf, [])
    with pytest.raises(InvalidInput):
        root_from_proof(leaf, b"\x00" * 32)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        node_hash(b"", leaf)
