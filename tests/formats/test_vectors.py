"""Golden vectors: the committed bytes in tests/vectors/*.json must be reproduced exactly.

A failure here means a wire format or hash changed, which breaks every verifier, QR code and
proof bundle already in the wild. Regenerate only for a deliberate, versioned format change:

    PYTHONPATH=. .venv/bin/python tests/formats/test_vectors.py --write

Inputs are derived from labels (`_b32("...")` = sha256 of the label) so each vector can be
rebuilt by hand. Byte strings are `0x` hex, which Foundry's `vm.parseJson` also reads.
"""

from __future__ import annotations

import hashlib
import io
import json
import sys
from datetime import date
from typing import Any

import pytest
from support import paths

from notary.errors import InvalidInput
from notary.formats.accumulator import Accumulator, BatchStep, RevisionStep, fold
from notary.formats.hashing import Digest, hash_stream, sha256_bytes, sm3_bytes
from notary.formats.merkle import MerkleTree, merkle_root, verify_inclusion
from notary.formats.metadata import Metadata
from notary.formats.proof_bundle import BatchInclusion, ProofBundle, ProofBundleError
from notary.formats.revision import Kind, Revision, compute_leaf, reason_hash

VECTORS = paths.VECTORS
REGISTRY = "0x5FbDB2315678afecb367f032d93F642f64180aa3"  # anvil's first deployment


def _b32(label: str) -> bytes:
    return hashlib.sha256(label.encode()).digest()


def _h(data: bytes) -> str:
    return "0x" + data.hex()


def _unh(text: str) -> bytes:
    assert text.startswith("0x"), text
    return bytes.fromhex(text[2:])


def _load(name: str) -> Any:
    return json.loads((VECTORS / name).read_text(encoding="utf-8"))


def _ids(case: dict[str, Any] | None) -> str:
    if case is None:
        return "missing"
    return str(case.get("name") or case.get("text") or f"n={case.get('n')}")


def _cases(name: str, part: str | None = None) -> list[Any]:
    """Parameters from a vector file; a missing file becomes one failing case, not a crash
    at import (so `--write` can still run)."""
    if not (VECTORS / name).exists():
        return [pytest.param(None, id=f"missing-{name}")]
    data = _load(name)
    return data[part] if part else data


def _present(case: dict[str, Any] | None) -> dict[str, Any]:
    assert case is not None, "golden vector file is missing: see the module docstring"
    return case


# --- serialisation of inputs -------------------------------------------------------------


def _revision_json(r: Revision) -> dict[str, Any]:
    return {
        "record_id": _h(r.record_id),
        "version": r.version,
        "kind": int(r.kind),
        "valid_until": r.valid_until,
        "content_hash": _h(r.content_hash),
        "metadata_hash": _h(r.metadata_hash),
        "prev_leaf": _h(r.prev_leaf),
    }


def _revision_from(d: dict[str, Any]) -> Revision:
    return Revision(
        record_id=_unh(d["record_id"]),
        version=d["version"],
        kind=Kind(d["kind"]),
        valid_until=d["valid_until"],
        content_hash=_unh(d["content_hash"]),
        metadata_hash=_unh(d["metadata_hash"]),
        prev_leaf=_unh(d["prev_leaf"]),
    )


def _bundle_json(b: ProofBundle) -> dict[str, Any]:
    return {
        "chain_id": b.chain_id,
        "registry": _h(b.registry),
        "revision": _revision_json(b.revision),
        "tx_hash": _h(b.tx_hash),
        "block_number": b.block_number,
        "log_index": b.log_index,
        "batch": None
        if b.batch is None
        else {"root": _h(b.batch.root), "path": [_h(p) for p in b.batch.path]},
    }


def _bundle_from(d: dict[str, Any]) -> ProofBundle:
    batch = d["batch"]
    return ProofBundle(
        chain_id=d["chain_id"],
        registry=_unh(d["registry"]),
        revision=_revision_from(d["revision"]),
        tx_hash=_unh(d["tx_hash"]),
        block_number=d["block_number"],
        log_index=d["log_index"],
        batch=None
        if batch is None
        else BatchInclusion(_unh(batch["root"]), tuple(_unh(p) for p in batch["path"])),
    )


# --- the builder (run only to regenerate) ------------------------------------------------


def _leaf_cases() -> list[tuple[str, int, str, Revision]]:
    rid = bytes.fromhex("00000001") + _b32("record-a")[:28]
    v1 = Revision(rid, 1, Kind.DISCLOSURE, 0, _b32("content-a1"), _b32("meta-a1"), bytes(32))
    leaf1 = compute_leaf(v1, chain_id=31337, registry=REGISTRY)
    v2 = Revision(rid, 2, Kind.DISCLOSURE, 0, _b32("content-a2"), _b32("meta-a2"), leaf1)
    cert_id = bytes.fromhex("00000002") + _b32("record-cert")[:28]
    cert = Revision(
        cert_id, 1, Kind.CERTIFICATE, 1_893_456_000, _b32("cert"), _b32("cert-meta"), bytes(32)
    )
    cert_open = Revision(cert_id, 1, Kind.CERTIFICATE, 0, _b32("c"), _b32("m"), bytes(32))
    extremes = Revision(
        b"\xff" * 32,
        2**32 - 1,
        Kind.CERTIFICATE,
        2**64 - 1,
        b"\xff" * 32,
        b"\xff" * 32,
        b"\xee" * 32,
    )
    return [
        ("disclosure version 1, anvil", 31337, REGISTRY, v1),
        ("disclosure version 2 chained to version 1", 31337, REGISTRY, v2),
        ("certificate with validUntil 2030-01-01", 31337, REGISTRY, cert),
        ("certificate without validity end", 31337, REGISTRY, cert_open),
        ("same disclosure on another chain id", 1337, REGISTRY, v1),
        ("same disclosure on another registry", 31337, "0x" + "11" * 20, v1),
        ("extreme field values, huge chain id", 2**256 - 1, "0x" + "ff" * 20, extremes),
    ]


def _metadata_cases() -> list[tuple[str, Metadata]]:
    sm3 = sm3_bytes(b"published bytes")
    return [
        (
            "English disclosure, no extra",
            Metadata(
                title="2024 Budget",
                office="City Finance Bureau",
                category="budget",
                publication_date=date(2024, 3, 1),
                reviewer="J. Smith",
                language="en",
                access_tier="public",
                sm3=sm3,
            ),
        ),
        (
            "Chinese disclosure with extra",
            Metadata(
                title="示范市2024年财政预算执行情况的报告",
                office="示范市财政局",
                category="预算决算",
                publication_date=date(2024, 12, 31),
                reviewer="李四",
                language="zh-CN",
                access_tier="restricted",
                sm3=sm3_bytes("示范".encode()),
                extra={"doc_no": "示财〔2024〕12号", "abstract": "第一行\n第二行\t“引号”"},
            ),
        ),
        (
            "escapes, non-BMP and compatibility ideograph kept as given",
            Metadata(
                title='Quote " backslash \\ slash / é 𠮷 豈',
                office="Office <&>",
                category="guide",
                publication_date=date(1999, 1, 1),
                reviewer="Ω",
                language="zh-Hant-TW",
                access_tier="internal",
                sm3=Digest(b"\x00" * 32),
                extra={"z": "", "a.b-c_d": "\u2028\u00e9"},
            ),
        ),
    ]


def _bundle_cases() -> list[tuple[str, ProofBundle]]:
    leaves = _leaf_cases()
    _, _, _, v1 = leaves[0]
    _, _, _, cert = leaves[2]
    batch_leaves = [_b32(f"batch-leaf-{i}") for i in range(4)]
    cert_leaf = compute_leaf(cert, chain_id=31337, registry=REGISTRY)
    batch_leaves.append(cert_leaf)
    tree = MerkleTree(batch_leaves)
    return [
        (
            "direct anchor of a disclosure",
            ProofBundle(31337, REGISTRY, v1, _b32("tx-1"), 42, 0),
        ),
        (
            "certificate in a batch of five (last leaf)",
            ProofBundle(
                31337,
                REGISTRY,
                cert,
                _b32("tx-2"),
                1_000_000,
                3,
                BatchInclusion(tree.root, tuple(tree.proof(4))),
            ),
        ),
        (
            "single-leaf batch, empty path",
            ProofBundle(
                31337,
                REGISTRY,
                v1,
                _b32("tx-3"),
                7,
                1,
                BatchInclusion(
                    merkle_root([compute_leaf(v1, chain_id=31337, registry=REGISTRY)]), ()
                ),
            ),
        ),
    ]


def _bad_bundles(good_direct: bytes, good_batch: bytes) -> list[tuple[str, bytes, str]]:
    flip_kind = bytearray(good_direct)
    flip_kind[93] = 2
    disclosure_with_validity = bytearray(good_direct)
    disclosure_with_validity[101] = 1
    long_path = good_batch[:274] + bytes([33]) + bytes(32 * 32)
    return [
        ("empty", b"", "truncated"),
        ("wrong magic", b"NPX" + good_direct[3:], "magic"),
        ("unknown format version", good_direct[:3] + b"\x02" + good_direct[4:], "version 2"),
        ("unknown anchor mode", good_direct[:4] + b"\x07" + good_direct[5:], "anchor mode"),
        ("truncated by one byte", good_direct[:-1], "truncated"),
        ("one trailing byte", good_direct + b"\x00", "trailing"),
        ("batch flag without batch part", good_direct[:4] + b"\x01" + good_direct[5:], "truncated"),
        ("batch path truncated", good_batch[:-1], "truncated"),
        ("unknown kind", bytes(flip_kind), "kind"),
        ("disclosure with validUntil", bytes(disclosure_with_validity), "disclosure"),
        ("path longer than 32", long_path, "33 hashes"),
        ("oversized", good_batch + bytes(2048), "at most"),
    ]


def build_vectors() -> dict[str, Any]:
    """Every vector file's content, computed by the current code."""
    leaf = [
        {
            "name": name,
            "chain_id": chain_id,
            "registry": registry,
            "revision": _revision_json(rev),
            "leaf": _h(compute_leaf(rev, chain_id=chain_id, registry=registry)),
        }
        for name, chain_id, registry, rev in _leaf_cases()
    ]
    merkle = []
    for n in (1, 2, 3, 5, 8):
        leaves = [_b32(f"merkle-{n}-{i}") for i in range(n)]
        tree = MerkleTree(leaves)
        merkle.append(
            {
                "n": n,
                "leaves": [_h(x) for x in leaves],
                "root": _h(tree.root),
                "proofs": [[_h(p) for p in tree.proof(i)] for i in range(n)],
            }
        )
    steps: list[dict[str, Any]] = []
    acc = Accumulator()
    for i, step in enumerate(
        [
            RevisionStep(_b32("acc-leaf-0")),
            RevisionStep(_b32("acc-leaf-1")),
            BatchStep(_b32("acc-root-2"), 1000),
            RevisionStep(_b32("acc-leaf-3")),
            BatchStep(_b32("acc-root-4"), 2**32 - 1),
        ]
    ):
        acc = acc.apply(step)
        entry: dict[str, Any] = (
            {"type": "revision", "leaf": _h(step.leaf)}
            if isinstance(step, RevisionStep)
            else {"type": "batch", "root": _h(step.root), "leaf_count": step.leaf_count}
        )
        steps.append({"step": i, **entry, "hash": _h(acc.hash), "count": acc.count})
    metadata = [
        {
            "name": name,
            "metadata": m.to_dict(),
            "canonical_json": m.canonical_json().decode("utf-8"),
            "metadata_hash": _h(m.metadata_hash()),
        }
        for name, m in _metadata_cases()
    ]
    bundles = _bundle_cases()
    good = [
        {
            "name": name,
            "bundle": _bundle_json(b),
            "leaf": _h(b.leaf()),
            "hex": b.encode().hex(),
            "text": b.to_text(),
        }
        for name, b in bundles
    ]
    bad = [
        {"name": name, "hex": data.hex(), "error": error}
        for name, data, error in _bad_bundles(bundles[0][1].encode(), bundles[1][1].encode())
    ]
    pattern = bytes(range(256)) * 4097  # 1 MiB + 256 bytes: crosses a read-chunk boundary
    hashing = [
        {
            "name": "empty",
            "hex": "",
            "sha256": sha256_bytes(b"").hex(),
            "sm3": sm3_bytes(b"").hex(),
        },
        {
            "name": "abc",
            "hex": b"abc".hex(),
            "sha256": sha256_bytes(b"abc").hex(),
            "sm3": sm3_bytes(b"abc").hex(),
        },
        {
            "name": "bytes 0..255 repeated 4097 times",
            "repeat": {"unit_hex": bytes(range(256)).hex(), "times": 4097},
            "sha256": sha256_bytes(pattern).hex(),
            "sm3": sm3_bytes(pattern).hex(),
        },
    ]
    reasons = [
        {"text": t, "reason_hash": _h(reason_hash(t))}
        for t in ("superseded by the corrected edition", "信息有误，予以撤回")
    ]
    return {
        "leaf.json": leaf,
        "merkle.json": merkle,
        "accumulator.json": steps,
        "metadata.json": metadata,
        "proof_bundle.json": {"valid": good, "invalid": bad},
        "hashing.json": {"content": hashing, "reason": reasons},
    }


def write_vectors() -> None:
    """Regenerate tests/vectors/ (deliberate format changes only)."""
    VECTORS.mkdir(exist_ok=True)
    for name, content in build_vectors().items():
        text = json.dumps(content, ensure_ascii=False, indent=2) + "\n"
        (VECTORS / name).write_text(text, encoding="utf-8")


# --- the tests ---------------------------------------------------------------------------


@pytest.mark.parametrize("case", _cases("leaf.json"), ids=_ids)
def test_leaf_vectors_reproduce(case: dict[str, Any]) -> None:
    case = _present(case)
    rev = _revision_from(case["revision"])
    leaf = compute_leaf(rev, chain_id=case["chain_id"], registry=case["registry"])
    assert _h(leaf) == case["leaf"]


def test_leaf_vectors_cover_certificate_with_validity() -> None:
    cases = _load("leaf.json")
    assert any(c["revision"]["kind"] == 1 and c["revision"]["valid_until"] for c in cases)
    assert any(c["revision"]["version"] > 1 for c in cases)


@pytest.mark.parametrize("case", _cases("merkle.json"), ids=_ids)
def test_merkle_vectors_reproduce(case: dict[str, Any]) -> None:
    case = _present(case)
    leaves = [_unh(x) for x in case["leaves"]]
    tree = MerkleTree(leaves)
    assert _h(tree.root) == case["root"]
    assert _h(merkle_root(leaves)) == case["root"]
    for i, proof in enumerate(case["proofs"]):
        assert [_h(p) for p in tree.proof(i)] == proof
        assert verify_inclusion(_unh(case["root"]), leaves[i], [_unh(p) for p in proof])


def test_merkle_vectors_cover_the_required_sizes() -> None:
    assert [c["n"] for c in _load("merkle.json")] == [1, 2, 3, 5, 8]


def test_accumulator_vectors_reproduce() -> None:
    acc = Accumulator()
    steps = []
    for entry in _load("accumulator.json"):
        step = (
            RevisionStep(_unh(entry["leaf"]))
            if entry["type"] == "revision"
            else BatchStep(_unh(entry["root"]), entry["leaf_count"])
        )
        steps.append(step)
        acc = acc.apply(step)
        assert (_h(acc.hash), acc.count) == (entry["hash"], entry["count"]), entry["step"]
    assert fold(steps) == acc.as_tuple()


@pytest.mark.parametrize("case", _cases("metadata.json"), ids=_ids)
def test_metadata_vectors_reproduce(case: dict[str, Any]) -> None:
    case = _present(case)
    m = Metadata.from_dict(case["metadata"])
    assert m.canonical_json().decode("utf-8") == case["canonical_json"]
    assert _h(m.metadata_hash()) == case["metadata_hash"]
    assert (
        _h(hashlib.sha256(case["canonical_json"].encode("utf-8")).digest()) == case["metadata_hash"]
    )
    assert Metadata.from_json(case["canonical_json"]) == m


def test_metadata_vectors_include_chinese_text() -> None:
    assert any("财政" in c["canonical_json"] for c in _load("metadata.json"))


@pytest.mark.parametrize("case", _cases("proof_bundle.json", "valid"), ids=_ids)
def test_bundle_vectors_reproduce(case: dict[str, Any]) -> None:
    case = _present(case)
    bundle = _bundle_from(case["bundle"])
    assert bundle.encode().hex() == case["hex"]
    assert bundle.to_text() == case["text"]
    assert ProofBundle.decode(bytes.fromhex(case["hex"])) == bundle
    assert ProofBundle.from_text(case["text"]) == bundle
    assert _h(bundle.leaf()) == case["leaf"]
    if bundle.batch is not None:
        assert bundle.batch_path_valid()


@pytest.mark.parametrize("case", _cases("proof_bundle.json", "invalid"), ids=_ids)
def test_invalid_bundle_vectors_are_rejected(case: dict[str, Any]) -> None:
    case = _present(case)
    with pytest.raises(ProofBundleError, match=case["error"]):
        ProofBundle.decode(bytes.fromhex(case["hex"]))


@pytest.mark.parametrize("case", _cases("hashing.json", "content"), ids=_ids)
def test_content_hash_vectors_reproduce(case: dict[str, Any]) -> None:
    case = _present(case)
    if "repeat" in case:
        data = bytes.fromhex(case["repeat"]["unit_hex"]) * case["repeat"]["times"]
    else:
        data = bytes.fromhex(case["hex"])
    assert sha256_bytes(data).hex() == case["sha256"]
    assert sm3_bytes(data).hex() == case["sm3"]
    both = hash_stream(io.BytesIO(data), sm3=True)
    assert (both.sha256.hex(), both.sm3.hex() if both.sm3 else None) == (
        case["sha256"],
        case["sm3"],
    )


def test_known_answers_from_the_standards() -> None:
    """Independent of our vectors: FIPS 180-2 and GB/T 32905 examples for "abc"."""
    content = {c["name"]: c for c in _load("hashing.json")["content"]}
    abc = content["abc"]
    assert abc["sha256"] == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert abc["sm3"] == "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"


@pytest.mark.parametrize("case", _cases("hashing.json", "reason"), ids=_ids)
def test_reason_hash_vectors_reproduce(case: dict[str, Any]) -> None:
    case = _present(case)
    assert _h(reason_hash(case["text"])) == case["reason_hash"]


def test_vector_files_match_the_builder() -> None:
    """The builder still describes the committed files (so regenerating changes nothing)."""
    for name, content in build_vectors().items():
        assert _load(name) == content, f"{name} drifted from build_vectors()"


def test_invalid_vectors_raise_invalid_input_subclass() -> None:
    for case in _load("proof_bundle.json")["invalid"]:
        with pytest.raises(InvalidInput):
            ProofBundle.decode(bytes.fromhex(case["hex"]))


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit("usage: python tests/formats/test_vectors.py --write  (rewrites tests/vectors/)")
    write_vectors()
    print(f"wrote {', '.join(sorted(build_vectors()))} to {VECTORS}")
