"""Revision model and leaf: exactly `keccak256(abi.encode(ten words))` of docs/formats.md."""

from __future__ import annotations

import hashlib
import subprocess
import sys

import pytest
from eth_abi import encode as abi_encode
from eth_hash.auto import keccak
from hypothesis import given, settings
from hypothesis import strategies as st
from support import paths

from notary.errors import InvalidInput
from notary.formats.hashing import Digest
from notary.formats.revision import (
    LEAF_TAG,
    Kind,
    Revision,
    compute_leaf,
    new_record_id,
    office_number_of,
    parse_address,
    parse_record_id,
    reason_hash,
    to_checksum_address,
)

REGISTRY = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
B32 = st.binary(min_size=32, max_size=32)
NONZERO_B32 = B32.filter(lambda b: any(b))


@st.composite
def revisions(draw: st.DrawFn) -> Revision:
    """Any revision the registry's rules allow."""
    version = draw(st.integers(min_value=1, max_value=2**32 - 1))
    kind = draw(st.sampled_from(Kind))
    return Revision(
        record_id=draw(B32),
        version=version,
        kind=kind,
        valid_until=0
        if kind is Kind.DISCLOSURE
        else draw(st.integers(min_value=0, max_value=2**64 - 1)),
        content_hash=draw(B32),
        metadata_hash=draw(B32),
        prev_leaf=bytes(32) if version == 1 else draw(NONZERO_B32),
    )


def _reference_leaf(r: Revision, chain_id: int, registry: str) -> bytes:
    """The leaf via eth_abi, i.e. what Solidity's abi.encode produces for the same types."""
    types = [
        "bytes32",
        "uint256",
        "address",
        "bytes32",
        "uint32",
        "uint8",
        "uint64",
        "bytes32",
        "bytes32",
        "bytes32",
    ]
    values = [
        keccak(b"disclosure-notary/leaf/v1"),
        chain_id,
        registry,
        r.record_id,
        r.version,
        int(r.kind),
        r.valid_until,
        r.content_hash,
        r.metadata_hash,
        r.prev_leaf[:23] + bytes(9),  # only the stored 23-byte prefix is committed
    ]
    encoded = abi_encode(types, values)
    assert len(encoded) == 320
    return keccak(encoded)


@settings(max_examples=200, deadline=None)
@given(
    revisions(),
    st.integers(min_value=1, max_value=2**256 - 1),
    st.binary(min_size=20, max_size=20),
)
def test_leaf_equals_abi_encode_of_ten_words(r: Revision, chain_id: int, registry: bytes) -> None:
    address = "0x" + registry.hex()
    expected = _reference_leaf(r, chain_id, address)
    assert compute_leaf(r, chain_id=chain_id, registry=registry) == expected
    assert compute_leaf(r, chain_id=chain_id, registry=address) == expected
    assert compute_leaf(r, chain_id=chain_id, registry=to_checksum_address(registry)) == expected


def test_leaf_binds_chain_and_registry() -> None:
    r = Revision(new_record_id(1), 1, Kind.DISCLOSURE, 0, b"\x01" * 32, b"\x02" * 32, bytes(32))
    base = compute_leaf(r, chain_id=31337, registry=REGISTRY)
    assert compute_leaf(r, chain_id=31338, registry=REGISTRY) != base
    assert compute_leaf(r, chain_id=31337, registry="0x" + "00" * 19 + "01") != base


def test_leaf_tag_is_the_documented_constant() -> None:
    assert keccak(b"disclosure-notary/leaf/v1") == LEAF_TAG
    assert LEAF_TAG.hex() == "16fc034efc0bdca87b24468be232932b4c6fe238d6461eb0b08e6cf24ae08f41"


def test_as_tuple_follows_the_solidity_struct_order() -> None:
    rid = new_record_id(7)
    r = Revision(rid, 2, Kind.CERTIFICATE, 99, b"\x0c" * 32, b"\x0d" * 32, b"\x0e" * 32)
    assert r.as_tuple() == (rid, 2, 1, 99, b"\x0c" * 32, b"\x0d" * 32, b"\x0e" * 32)
    assert type(r.as_tuple()[2]) is int
    assert r.office_number == 7


def test_revision_accepts_digests_and_int_kinds() -> None:
    d = Digest(b"\x05" * 32)
    r = Revision(bytearray(32), 1, 1, 5, d, d, bytes(32))  # type: ignore[arg-type]
    assert r.kind is Kind.CERTIFICATE
    assert type(r.record_id) is bytes and r.content_hash == b"\x05" * 32


GOOD = {
    "record_id": b"\x00\x00\x00\x01" + bytes(28),
    "version": 1,
    "kind": Kind.DISCLOSURE,
    "valid_until": 0,
    "content_hash": bytes(32),
    "metadata_hash": bytes(32),
    "prev_leaf": bytes(32),
}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"record_id": bytes(31)}, "record_id must be 32 bytes"),
        ({"record_id": "00" * 32}, "record_id must be 32 bytes"),
        ({"content_hash": bytes(33)}, "content_hash"),
        ({"metadata_hash": None}, "metadata_hash"),
        ({"prev_leaf": b""}, "prev_leaf"),
        ({"version": 0}, "at least 1"),
        ({"version": 2**32}, "version must be between"),
        ({"version": True}, "integer"),
        ({"version": 1.0}, "integer"),
        ({"kind": 2}, "unknown kind"),
        ({"kind": "disclosure"}, "kind must be"),
        ({"kind": False}, "kind must be"),
        ({"kind": Kind.CERTIFICATE, "valid_until": 2**64}, "valid_until"),
        ({"kind": Kind.CERTIFICATE, "valid_until": -1}, "valid_until"),
        ({"valid_until": 1}, "disclosure cannot have a validity end"),
        ({"prev_leaf": b"\x01" * 32}, "version 1 must have a zero prev_leaf"),
        ({"version": 2}, "needs the leaf of version 1"),
    ],
)
def test_revision_refuses_what_the_registry_would_reject(change: dict, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        Revision(**{**GOOD, **change})


def test_revision_is_frozen() -> None:
    r = Revision(**GOOD)
    with pytest.raises(AttributeError):
        r.version = 2  # type: ignore[misc]


@pytest.mark.parametrize(
    ("chain_id", "message"), [(0, "at least 1"), (2**256, "chain_id"), (-1, "chain_id")]
)
def test_compute_leaf_refuses_bad_chain_ids(chain_id: int, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        compute_leaf(Revision(**GOOD), chain_id=chain_id, registry=REGISTRY)


def test_address_parsing_checks_eip55() -> None:
    raw = bytes.fromhex(REGISTRY[2:])
    assert to_checksum_address(raw) == REGISTRY
    assert parse_address(REGISTRY) == raw
    assert parse_address(REGISTRY.lower()) == raw
    assert parse_address("0x" + REGISTRY[2:].upper()) == raw
    broken = REGISTRY[:-2] + "A" + REGISTRY[-1]  # the last letter in the wrong case
    with pytest.raises(InvalidInput, match="checksum"):
        parse_address(broken)
    for bad in (
        "5FbDB2315678afecb367f032d93F642f64180aa3",
        REGISTRY + "00",
        "0x12",
        b"\x00" * 19,
        5,
    ):
        with pytest.raises(InvalidInput):
            parse_address(bad)  # type: ignore[arg-type]


def test_new_record_ids_carry_the_office_and_are_random() -> None:
    ids = {new_record_id(42) for _ in range(100)}
    assert len(ids) == 100
    assert all(len(i) == 32 and office_number_of(i) == 42 for i in ids)
    assert office_number_of(new_record_id(2**32 - 1)) == 2**32 - 1
    for bad in (0, -1, 2**32, True):
        with pytest.raises(InvalidInput):
            new_record_id(bad)


def test_parse_record_id() -> None:
    rid = new_record_id(3)
    assert parse_record_id("0x" + rid.hex()) == rid == parse_record_id(rid.hex().upper())
    with pytest.raises(InvalidInput, match="office number 0"):
        parse_record_id("00" * 32)
    with pytest.raises(InvalidInput, match="64 hex digits"):
        parse_record_id("0x" + rid.hex()[:-2])


def test_reason_hash_is_sha256_of_utf8() -> None:
    text = "重复发布，已被新版本取代"
    assert reason_hash(text) == hashlib.sha256(text.encode("utf-8")).digest()
    for bad in ("", "   ", "\ud800", None):
        with pytest.raises(InvalidInput):
            reason_hash(bad)  # type: ignore[arg-type]


def test_pure_core_imports_without_web3_db_or_web_framework() -> None:
    code = (
        "import sys\n"
        "import notary.formats.hashing, notary.formats.metadata, notary.formats.revision, "
        "notary.formats.merkle, notary.formats.accumulator, notary.formats.proof_bundle\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in "
        "('web3', 'sqlalchemy', 'fastapi', 'starlette', 'psycopg', 'alembic')]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=paths.ROOT)
