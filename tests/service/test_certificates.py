"""Certificates issued by the API verify with the independent verifier (docs/formats.md,
"Certificate commitment"): contentHash = sha256(salt || document)."""

from __future__ import annotations

import hashlib
import json

import pytest
from support.publish_stack import MD, Stack

from api.services.certificate_pdf import masked_holder, render_certificate_pdf
from notary.formats.certificate import (
    canonical_holder,
    holder_commitment,
    holder_data_commitment,
)
from notary.pii import resident_id_check_digit
from verifier import certificate as verifier_certificate
from verifier.result import Verdict
from verifier.verify import verify_file

ID17 = "11010519900307123"
HOLDER = {
    "name": "张三",
    "id_number": ID17 + resident_id_check_digit(ID17),
    "address": "北京市朝阳区建国路街道光华社区幸福里小区3号楼2单元501室",
    "licence": "BL-2026-001",
}


def _issue(stack: Stack, **files) -> dict:
    r = stack.c.post(
        "/api/v1/certificates",
        data={
            "holder": json.dumps(HOLDER, ensure_ascii=False),
            "metadata": json.dumps({**MD, "title": "营业执照 Business licence"}),
            "valid_until": "2031-01-01T00:00:00Z",
        },
        files=files or None,
        headers=stack.publisher,
    )
    assert r.status_code == 201, r.text
    return r.json()


def _document(stack: Stack, issued: dict) -> bytes:
    r = stack.c.get(issued["document_url"], headers=stack.auditor)
    assert r.status_code == 200, r.text
    return r.content


# --- pure ---------------------------------------------------------------------------------


def test_verifier_uses_the_notary_commitment() -> None:
    assert verifier_certificate.holder_commitment is holder_commitment
    salt = bytes(range(32))
    assert holder_commitment(salt, b"doc") == hashlib.sha256(salt + b"doc").digest()
    assert (
        holder_data_commitment(salt, {"b": 1, "a": "x"})
        == hashlib.sha256(salt + b'{"a":"x","b":1}').digest()
    )
    assert canonical_holder({"b": 1, "a": "x"}) == b'{"a":"x","b":1}'
    with pytest.raises(ValueError):
        holder_commitment(b"short", b"doc")


def test_rendered_certificate_is_deterministic_and_masked() -> None:
    face = masked_holder(HOLDER)
    assert face["id_number"] == "110105********" + HOLDER["id_number"][-4:]
    assert face["address"].startswith("北京市朝阳区建国路街道光华社区")
    assert "3号楼" not in face["address"]
    one = render_certificate_pdf(HOLDER, title="营业执照", office="Tax office")
    two = render_certificate_pdf(HOLDER, title="营业执照", office="Tax office")
    assert one == two and one.startswith(b"%PDF-")
    assert HOLDER["id_number"].encode() not in one


# --- through the API and the chain ----------------------------------------------------------


def test_rendered_certificate_verifies_with_its_salt_only(stack: Stack) -> None:
    issued = _issue(stack)
    salt = bytes.fromhex(issued["salt"])
    assert len(salt) == 32
    document = _document(stack, issued)
    assert document.startswith(b"%PDF-")
    assert HOLDER["id_number"].encode() not in document
    current = issued["record"]["current"]
    assert current["content_hash"] == holder_commitment(salt, document).hex()
    assert current["content_type"] == "application/pdf" and current["size"] == len(document)
    stack.anchor()
    result = verify_file(document, stack.trust, salt=salt)
    assert result.verdict is Verdict.AUTHENTIC_CURRENT, result
    wrong = verify_file(document, stack.trust, salt=bytes(32))
    assert wrong.verdict is not Verdict.AUTHENTIC_CURRENT
    assert verify_file(document, stack.trust).verdict is not Verdict.AUTHENTIC_CURRENT


def test_metadata_commits_to_holder_data_and_issuer_reads_it(stack: Stack) -> None:
    issued = _issue(stack)
    salt = bytes.fromhex(issued["salt"])
    cid = issued["record"]["id"]
    mine = stack.c.get(f"/api/v1/certificates/{cid}", headers=stack.auditor).json()
    assert mine["holder"] == HOLDER and "salt" not in mine
    anonymous = stack.c.get(f"/api/v1/certificates/{cid}")
    assert anonymous.status_code == 200 and anonymous.json()["holder"] is None
    assert issued["salt"] not in anonymous.text
    # the document is restricted: anonymous callers cannot fetch it
    assert stack.c.get(issued["document_url"]).status_code == 401
    from sqlalchemy import create_engine, text

    engine = create_engine(stack.settings.db_url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.connect() as conn:
        meta = conn.execute(
            text("SELECT metadata_json FROM revisions WHERE record_id = :r"), {"r": cid}
        ).scalar_one()
    engine.dispose()
    extra = json.loads(meta)["extra"]
    assert extra["holder_commitment"] == holder_data_commitment(salt, HOLDER).hex()
    assert HOLDER["id_number"] not in meta


def test_uploaded_xml_certificate_verifies_as_exact_bytes(stack: Stack) -> None:
    xml = b'<?xml version="1.0"?><licence no="BL-2026-002"><holder>Zhang San</holder></licence>'
    issued = _issue(stack, file=("licence.xml", xml, "application/xml"))
    salt = bytes.fromhex(issued["salt"])
    assert _document(stack, issued) == xml
    assert issued["record"]["current"]["content_hash"] == holder_commitment(salt, xml).hex()
    stack.anchor()
    assert verify_file(xml, stack.trust, salt=salt).verdict is Verdict.AUTHENTIC_CURRENT
    other = bytes.fromhex("11" * 32)
    assert verify_file(xml, stack.trust, salt=other).verdict is not Verdict.AUTHENTIC_CURRENT


def test_holder_preimage_whose_salt_starts_with_a_brace_is_read_as_salted() -> None:
    """Regression: the stored form was guessed from the first byte, so one certificate in
    256 (a random salt starting with `{`) answered 500 to its own office."""
    from api.routers.certificates import _holder_data
    from notary.formats.certificate import SALT_LENGTH, canonical_holder

    holder = {"name": "张三", "id_number": "110105199003071239"}
    salt = b"{" + bytes(range(1, SALT_LENGTH))
    assert _holder_data(salt + canonical_holder(holder), salted=True) == holder
    assert _holder_data(json.dumps({"holder": holder}).encode(), salted=False) == holder
