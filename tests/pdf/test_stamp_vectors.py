"""Golden stamp vectors: every stamp format version still rebuilds byte for byte.

`tests/vectors/stamp/<name>.original.pdf` and `<name>.stamped.pdf` are a published file and
its stamped copy as the stamper of that version made them. Version 1 files are frozen (made
by the version 1 stamper); the current version's are rewritten only for a deliberate change:

    PYTHONPATH=.:tests .venv/bin/python tests/pdf/test_stamp_vectors.py --write
"""

from __future__ import annotations

import hashlib
import sys

import pytest
from support import paths

from notary.formats.qr_payload import QrPayload, verify_url
from notary.pdf.stamp import STAMP_VERSION, StampMismatch, check_stamp, read_stamp_urls, stamp_pdf

VECTORS = paths.VECTORS / "stamp"
NAMES = sorted(p.name.removesuffix(".stamped.pdf") for p in VECTORS.glob("*.stamped.pdf"))
LOSSY_V1 = {"v1-hand-made-indirect-xobject"}  # version 1 dropped this page's form and image


def _pair(name: str) -> tuple[bytes, bytes]:
    return (VECTORS / f"{name}.original.pdf").read_bytes(), (
        VECTORS / f"{name}.stamped.pdf"
    ).read_bytes()


def test_every_version_has_vectors() -> None:
    versions = {int(name[1 : name.index("-")]) for name in NAMES}
    assert versions == {1, STAMP_VERSION}


@pytest.mark.parametrize("name", NAMES)
def test_vector_rebuilds_byte_for_byte(name: str) -> None:
    original, stamped = _pair(name)
    version = int(name[1 : name.index("-")])
    urls = read_stamp_urls(stamped)
    rebuilt = stamp_pdf(original, make_payload=lambda page, pages: urls[page - 1], version=version)
    assert rebuilt == stamped
    if name in LOSSY_V1:
        with pytest.raises(StampMismatch, match="version 1, which hides"):
            check_stamp(stamped)
    else:
        checked = check_stamp(stamped)
        assert (checked.original, checked.version, checked.urls) == (original, version, urls)


def _urls(label: str):
    rid = (7).to_bytes(4, "big") + hashlib.sha256(label.encode()).digest()[:28]
    leaf = hashlib.sha256(("leaf:" + label).encode()).digest()
    registry = bytes.fromhex("5fbdb2315678afecb367f032d93f642f64180aa3")

    def url(page: int, pages: int) -> str:
        payload = QrPayload.for_page(
            chain_id=31337, registry=registry, record_id=rid, version=1, leaf=leaf, page=page,
            pages=pages,
        )  # fmt: skip
        return verify_url("verify.gov.example.cn", payload)

    return url


def write_current_vectors() -> None:
    """The current version's vectors from the version 1 originals (never touches v1)."""
    for name in [n for n in NAMES if n.startswith("v1-")]:
        original, _ = _pair(name)
        new = f"v{STAMP_VERSION}-" + name.removeprefix("v1-")
        stamped = stamp_pdf(original, make_payload=_urls(new))
        (VECTORS / f"{new}.original.pdf").write_bytes(original)
        (VECTORS / f"{new}.stamped.pdf").write_bytes(stamped)
        print(f"wrote {new} ({len(stamped)} bytes)")


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit("usage: python tests/pdf/test_stamp_vectors.py --write")
    write_current_vectors()
