"""The fields of a code the chain does not back: page, page count and salt. Where the file is
known (the service's own records, a stamped PDF, `verifier url --file`) the page fields must
agree with its pages; where it is not they are shown as unchecked; a salt on a disclosure's
code is tampered. Real anvil, real SQLite and PostgreSQL, real PDFs, the real CLI."""

from __future__ import annotations

import json
import secrets

import test_tier_view
from test_tier_view import Node, _pdf

from notary.formats.qr_payload import QrPayload, decode, encode, verify_url
from verifier import cli
from verifier.chainsource import RegistryPool
from verifier.result import Verdict
from verifier.verify import verify_payload

node = test_tier_view.node  # the fixture, found by name in this module


def _edited(code: str, page: int, pages: int) -> str:
    return encode(decode(code).with_page(page, pages))  # the checksum is recomputed


def test_a_code_edited_to_a_page_the_published_file_lacks_is_tampered(node: Node) -> None:
    _, code = node.add(_pdf("一页的通知"), "public", "一页的通知")
    genuine = node.client.get(f"/v/{code}?lang=en").text
    assert 'data-verdict="authentic_current"' in genuine and "not checked" not in genuine
    edited = _edited(code, 7, 12)
    page = node.client.get(f"/v/{edited}?lang=en")
    assert 'data-verdict="tampered"' in page.text and "has 1 page(s)" in page.text
    assert "Authentic and current" not in page.text
    assert node.client.get(f"/v/{edited}/page.png").status_code == 404
    assert node.client.get(f"/v/{code}/page.png").status_code == 200


def test_an_internal_records_page_withholds_the_signer(node: Node) -> None:
    _, code = node.add(_pdf("内部通知"), "internal", "内部通知")
    page = node.client.get(f"/v/{code}?lang=en").text
    assert 'data-verdict="authentic_current"' in page
    assert node.reg.signer.lower() not in page.lower()
    _, public = node.add(_pdf("公开通知"), "public", "公开通知")
    assert node.reg.signer.lower() in node.client.get(f"/v/{public}?lang=en").text.lower()


def _code(reg, data: bytes, *, page: int, pages: int, salt: bytes | None = None) -> str:
    rid, version, leaf = reg.anchor(data)
    payload = QrPayload.for_page(
        chain_id=reg.chain_id, registry=reg.address, record_id=rid, version=version, leaf=leaf,
        page=page, pages=pages, salt=salt,
    )  # fmt: skip
    return verify_url("verify.gov.example", payload)


def test_a_bare_code_shows_its_page_fields_as_unchecked(verifier_registry, tmp_path, capsys):
    reg = verifier_registry
    data = _pdf("一页的通知")
    url = _code(reg, data, page=7, pages=12)
    trust = tmp_path / "trust.json"
    trust.write_text(reg.trust().to_json())
    assert cli.main(["--trust", str(trust), "--json", "url", url]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert (doc["page"], doc["page_count"], doc["pages_checked"]) == (7, 12, False)
    fields = next(s for s in doc["steps"] if s["name"] == "check_code_fields")
    assert fields["status"] == "skip" and "records no page count" in fields["detail"]
    assert cli.main(["--trust", str(trust), "url", url]) == 0
    assert "7/12 (as the code says; not checked)" in capsys.readouterr().out
    # With the file in hand the count is checked: one page is not page 7 of 12.
    (tmp_path / "notice.pdf").write_bytes(data)
    args = ["--trust", str(trust), "--json", "url", url, "--file", str(tmp_path / "notice.pdf")]
    assert cli.main(args) == 14
    assert "has 1 page(s)" in json.loads(capsys.readouterr().out)["reason"]
    right = _code(reg, data, page=1, pages=1)
    result = verify_payload(right, reg.trust(), data, connect=RegistryPool())
    assert result.verdict is Verdict.AUTHENTIC_CURRENT and result.pages_checked


def test_a_salt_added_to_a_disclosure_code_is_tampered(verifier_registry) -> None:
    reg = verifier_registry
    salted = _code(reg, b"a disclosure", page=1, pages=1, salt=secrets.token_bytes(16))
    result = verify_payload(salted, reg.trust(), connect=RegistryPool())
    assert result.verdict is Verdict.TAMPERED and "salt" in result.reason
    plain = _code(reg, b"another disclosure", page=1, pages=1)
    assert verify_payload(plain, reg.trust(), connect=RegistryPool()).verdict.is_authentic


def test_the_records_own_code_and_its_pages_codes_fit_a_longer_file(node: Node) -> None:
    _, code = node.add(_pdf("两页的通知", pages=2), "public", "两页的通知")
    record_code = node.client.get(f"/v/{code}?lang=en").text  # page 1 of 1: the record's
    assert 'data-verdict="authentic_current"' in record_code and "not checked" in record_code
    page_two = node.client.get(f"/v/{_edited(code, 2, 2)}?lang=en").text
    assert 'data-verdict="authentic_current"' in page_two and "not checked" not in page_two
    assert 'data-verdict="tampered"' in node.client.get(f"/v/{_edited(code, 3, 3)}").text
