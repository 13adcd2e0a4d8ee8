"""Proof bundles: lossless round trip, strict parsing, and no silent acceptance of damage."""

from __future__ import annotations

import base64
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from notary.errors import InvalidInput
from notary.formats.merkle import MAX_PROOF_LENGTH, MerkleTree
from notary.formats.proof_bundle import (
    DIRECT_SIZE,
    MAX_SIZE,
    BatchInclusion,
    ProofBundle,
    ProofBundleError,
    UnsupportedBundleVersion,
)
from notary.formats.revision import Kind, Revision, compute_leaf

REGISTRY = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
B32 = st.binary(min_size=32, max_size=32)


@st.composite
def revisions(draw: st.DrawFn) -> Revision:
    version = draw(st.integers(min_value=1, max_value=2**32 - 1))
    kind = draw(st.sampled_from(Kind))
    return Revision(
        record_id=draw(B32),
        version=version,
        kind=kind,
        valid_until=0 if kind is Kind.DISCLOSURE else draw(st.integers(0, 2**64 - 1)),
        content_hash=draw(B32),
        metadata_hash=draw(B32),
        prev_leaf=bytes(32) if version == 1 else draw(B32.filter(any)),
    )


@st.composite
def bundles(draw: st.DrawFn) -> ProofBundle:
    batch = draw(
        st.none()
        | st.builds(BatchInclusion, B32, st.lists(B32, max_size=MAX_PROOF_LENGTH).map(tuple))
    )
    return ProofBundle(
        chain_id=draw(st.integers(1, 2**256 - 1)),
        registry=draw(st.binary(min_size=20, max_size=20)),
        revision=draw(revisions()),
        tx_hash=draw(B32),
        block_number=draw(st.integers(0, 2**64 - 1)),
        log_index=draw(st.integers(0, 2**32 - 1)),
        batch=batch,
    )


def _sample(batched: bool = True) -> ProofBundle:
    rev = Revision(
        b"\x00\x00\x00\x05" + b"\x11" * 28, 1, Kind.CERTIFICATE, 2_000_000_000, b"\x22" * 32,
        b"\x33" * 32, bytes(32),
    )  # fmt: skip
    leaf = compute_leaf(rev, chain_id=31337, registry=REGISTRY)
    tree = MerkleTree([b"\x44" * 32, leaf, b"\x55" * 32])
    batch = BatchInclusion(tree.root, tuple(tree.proof(1))) if batched else None
    return ProofBundle(31337, REGISTRY, rev, b"\x66" * 32, 123, 4, batch)


@settings(max_examples=200, deadline=None)
@given(bundles())
def test_round_trip_binary_and_text(bundle: ProofBundle) -> None:
    data = bundle.encode()
    assert DIRECT_SIZE <= len(data) <= MAX_SIZE
    assert ProofBundle.decode(data) == bundle
    text = bundle.to_text()
    assert "=" not in text and ProofBundle.from_text(text) == bundle


@settings(max_examples=60, deadline=None)
@given(bundles())
def test_every_truncation_is_rejected(bundle: ProofBundle) -> None:
    data = bundle.encode()
    for n in range(len(data)):
        with pytest.raises(ProofBundleError):
            ProofBundle.decode(data[:n])


@settings(max_examples=60, deadline=None)
@given(bundles(), st.binary(min_size=1, max_size=40))
def test_trailing_bytes_are_rejected(bundle: ProofBundle, extra: bytes) -> None:
    with pytest.raises(ProofBundleError, match=r"trailing|at most"):
        ProofBundle.decode(bundle.encode() + extra)


@settings(max_examples=10, deadline=None)
@given(bundles())
def test_a_bit_flip_never_decodes_to_the_same_bundle(bundle: ProofBundle) -> None:
    """Every flipped bit is either refused or yields a different bundle (a different leaf,
    root or anchor that the chain will not back)."""
    data = bundle.encode()
    for bit in range(len(data) * 8):
        damaged = bytearray(data)
        damaged[bit // 8] ^= 1 << (bit % 8)
        try:
            decoded = ProofBundle.decode(bytes(damaged))
        except ProofBundleError:
            continue
        assert decoded != bundle


def test_bit_flips_in_a_batched_bundle_break_the_leaf_or_path() -> None:
    """A flip that still parses changes the leaf or the path, so the path check fails, or
    changes only where it was anchored (tx, block, log index, chain, registry)."""
    bundle = _sample()
    assert bundle.batch_path_valid()
    data = bundle.encode()
    anchor_fields = set(range(198, 242))  # tx hash, block number, log index
    for bit in range(len(data) * 8):
        damaged = bytearray(data)
        damaged[bit // 8] ^= 1 << (bit % 8)
        try:
            decoded = ProofBundle.decode(bytes(damaged))
        except ProofBundleError:
            continue
        if bit // 8 not in anchor_fields:
            assert not decoded.batch_path_valid(), f"bit {bit} kept a valid path"


def test_layout_offsets_are_as_documented() -> None:
    b = _sample()
    data = b.encode()
    r = b.revision
    assert data[:5] == b"NPB\x01\x01"
    assert int.from_bytes(data[5:37], "big") == 31337
    assert data[37:57] == b.registry
    assert data[57:89] == r.record_id
    assert data[89:93] == (1).to_bytes(4, "big")
    assert data[93] == 1
    assert int.from_bytes(data[94:102], "big") == 2_000_000_000
    assert data[102:134] == r.content_hash and data[134:166] == r.metadata_hash
    assert data[166:198] == r.prev_leaf and data[198:230] == b.tx_hash
    assert int.from_bytes(data[230:238], "big") == 123
    assert int.from_bytes(data[238:242], "big") == 4
    assert b.batch is not None
    assert data[242:274] == b.batch.root
    assert data[274] == len(b.batch.path) == 2
    assert data[275:] == b"".join(b.batch.path)
    assert len(_sample(batched=False).encode()) == DIRECT_SIZE == 242


@pytest.mark.parametrize(
    ("damage", "error", "message"),
    [
        (lambda d: b"XYZ" + d[3:], ProofBundleError, "magic"),
        (lambda d: d[:3] + b"\x00" + d[4:], UnsupportedBundleVersion, "version 0"),
        (lambda d: d[:3] + b"\xff" + d[4:], UnsupportedBundleVersion, "version 255"),
        (lambda d: d[:4] + b"\x02" + d[5:], ProofBundleError, "anchor mode 2"),
        (lambda d: d[:5] + bytes(32) + d[37:], ProofBundleError, "chain_id must be at least 1"),
        (lambda d: d[:93] + b"\x02" + d[94:], ProofBundleError, "unknown kind 2 at offset 93"),
        (lambda d: d[:89] + bytes(4) + d[93:], ProofBundleError, "version must be at least 1"),
        (lambda d: d[:274] + bytes([MAX_PROOF_LENGTH + 1]) + d[275:], ProofBundleError, "33"),
        (lambda d: d[:274] + b"\x03" + d[275:], ProofBundleError, "path hash 2 needs 32"),
        (lambda d: d[:274] + b"\x01" + d[275:], ProofBundleError, "32 trailing"),
        (lambda d: d + bytes(MAX_SIZE), ProofBundleError, "at most"),
    ],
)
def test_malformed_bundles_get_a_clear_error(
    damage: Callable[[bytes], bytes], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        ProofBundle.decode(damage(_sample().encode()))


def test_errors_are_invalid_input() -> None:
    assert issubclass(ProofBundleError, InvalidInput)
    assert issubclass(UnsupportedBundleVersion, ProofBundleError)
    with pytest.raises(ValueError):
        ProofBundle.decode(b"NPB")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "TlBC AQ",
        "TlBCAQ==",
        "TlBC+Q",
        "TlBC/Q",
        "TlBCA",  # length 1 mod 4
        "TlBCAR",  # non-zero stray bits
        "A" * 5000,
    ],
)
def test_text_form_is_strict(text: str) -> None:
    with pytest.raises(ProofBundleError):
        ProofBundle.from_text(text)


def test_text_form_is_base64url_of_the_binary() -> None:
    b = _sample()
    text = b.to_text()
    assert base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)) == b.encode()
    assert text.startswith("TlBC")


def test_decode_refuses_non_bytes() -> None:
    with pytest.raises(ProofBundleError, match="bytes"):
        ProofBundle.decode("NPB")  # type: ignore[arg-type]
    with pytest.raises(ProofBundleError, match="string"):
        ProofBundle.from_text(b"TlBC")  # type: ignore[arg-type]


def test_decode_accepts_bytearray_and_memoryview() -> None:
    data = _sample().encode()
    assert ProofBundle.decode(bytearray(data)) == ProofBundle.decode(memoryview(data))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"chain_id": 0}, "chain_id"),
        ({"registry": b"\x00" * 21}, "address"),
        ({"registry": "0x5fbdb2315678afecb367f032d93F642f64180aa3"}, "checksum"),
        ({"tx_hash": bytes(31)}, "tx_hash"),
        ({"block_number": 2**64}, "block_number"),
        ({"log_index": -1}, "log_index"),
        ({"revision": "rev"}, "Revision"),
        ({"batch": ("root", ())}, "BatchInclusion"),
    ],
)
def test_constructor_refuses_out_of_range_fields(change: dict, message: str) -> None:
    b = _sample()
    fields = {
        "chain_id": b.chain_id,
        "registry": b.registry,
        "revision": b.revision,
        "tx_hash": b.tx_hash,
        "block_number": b.block_number,
        "log_index": b.log_index,
        "batch": b.batch,
    }
    with pytest.raises(InvalidInput, match=message):
        ProofBundle(**{**fields, **change})


def test_batch_inclusion_bounds_the_path() -> None:
    with pytest.raises(InvalidInput, match="longer than"):
        BatchInclusion(bytes(32), (bytes(32),) * (MAX_PROOF_LENGTH + 1))
    with pytest.raises(InvalidInput):
        BatchInclusion(bytes(32), bytes(32))  # type: ignore[arg-type]
    assert BatchInclusion(bytes(32), [bytes(32)]).path == (bytes(32),)  # type: ignore[arg-type]


def test_direct_bundle_has_no_batch_path() -> None:
    b = _sample(batched=False)
    assert b.batch is None and not b.batch_path_valid()
    assert b.leaf() == compute_leaf(b.revision, chain_id=31337, registry=REGISTRY)
