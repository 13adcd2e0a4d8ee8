"""The independent verifier against a real registry on anvil: every verdict, and no green for
anything the chain does not back (docs/design.md, "What must always hold" 4)."""

from __future__ import annotations

import hashlib
import json
import os
import random
import secrets

import pytest

from notary.chain.local import free_port
from notary.formats.qr_payload import QrPayload, encode, sign, verify_url
from verifier import cli
from verifier.certificate import holder_commitment
from verifier.chainsource import RegistryPool
from verifier.result import EXIT_CODES, StepStatus, Verdict
from verifier.trust import OfflineSigner, TrustEntry, TrustList, TrustListError, parse_trust
from verifier.verify import verify_file, verify_payload

# anvil's well-known account #1 (the fixture's office signer); #2 signs for nobody.
SIGNER_KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
STRANGER_KEY = "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a"


@pytest.fixture
def reg(verifier_registry):
    return verifier_registry


@pytest.fixture
def connect():
    """A fresh connection pool per test (anvil snapshots reuse addresses and blocks)."""
    return RegistryPool()


def code_for(reg, record_id, version, leaf, *, page=1, pages=1, salt=None, registry=None):
    payload = QrPayload.for_page(
        chain_id=reg.chain_id,
        registry=registry or reg.address,
        record_id=record_id,
        version=version,
        leaf=leaf,
        page=page,
        pages=pages,
        salt=salt,
    )
    return payload


def check(text, reg, connect, **kw):
    return verify_payload(text, reg.trust(), connect=connect, **kw)


# --- green ------------------------------------------------------------------------------------


def test_current_revision_verifies_as_authentic_current(reg, connect):
    rid, v, leaf = reg.anchor(b"budget 2026 v1")
    payload = code_for(reg, rid, v, leaf, page=2, pages=3)
    for text in (encode(payload), verify_url("verify.example.gov.cn", payload)):
        r = check(text, reg, connect, file_bytes=b"budget 2026 v1")
        assert r.verdict is Verdict.AUTHENTIC_CURRENT, r
        assert r.exit_code == 0
        assert (r.version, r.current_version, r.page, r.page_count) == (1, 1, 2, 3)
        assert r.office_name == reg.OFFICE_NAME
        assert r.issuer_name == "示范区域公证链"
        assert r.anchored_at and r.registry == reg.address.lower()
        names = [s.name for s in r.steps]
        assert names == [
            "parse_payload",
            "find_trust_entry",
            "fetch_anchor",
            "check_office",
            "check_signer",
            "check_leaf_prefix",
            "check_payload_signature",
            "check_content",
            "check_code_fields",
            "check_status",
        ]
        assert all(s.status in (StepStatus.PASS, StepStatus.SKIP) for s in r.steps)


def test_office_name_comes_from_the_registry_not_the_code(reg, connect):
    rid, v, leaf = reg.anchor(b"x")
    r = check(encode(code_for(reg, rid, v, leaf)), reg, connect)
    assert r.office_name == reg.OFFICE_NAME
    # The code has no room for a name at all; the trust list's name is the issuer's.
    assert r.issuer_name == reg.trust().entries[0].name


def test_result_is_frozen_and_serialisable(reg, connect):
    rid, v, leaf = reg.anchor(b"x")
    r = check(encode(code_for(reg, rid, v, leaf)), reg, connect)
    with pytest.raises(AttributeError):
        r.verdict = Verdict.REVOKED  # type: ignore[misc]
    doc = json.loads(json.dumps(r.to_dict(), ensure_ascii=False))
    assert doc["verdict"] == "authentic_current" and doc["exit_code"] == 0
    assert doc["steps"][0]["name"] == "parse_payload"


# --- status verdicts -------------------------------------------------------------------------


def test_old_version_verifies_as_superseded_pointing_to_current(reg, connect):
    rid, _, leaf1 = reg.anchor(b"v1")
    reg.anchor(b"v2", record_id=rid)
    _, v3, _ = reg.anchor(b"v3", record_id=rid)
    r = check(encode(code_for(reg, rid, 1, leaf1)), reg, connect, file_bytes=b"v1")
    assert r.verdict is Verdict.SUPERSEDED
    assert r.current_version == v3 == 3
    assert r.current_anchored_at
    assert [t.version for t in r.timeline] == [1, 2, 3]
    assert r.timeline[-1].content_hash == "0x" + hashlib.sha256(b"v3").hexdigest()
    assert r.exit_code == EXIT_CODES[Verdict.SUPERSEDED]


def test_revoked_record_verifies_as_revoked_with_reason_hash(reg, connect):
    rid, v, leaf = reg.anchor(b"procurement result")
    reason_hash = reg.revoke(rid, "中标结果公示有误，已撤销")
    r = check(encode(code_for(reg, rid, v, leaf)), reg, connect)
    assert r.verdict is Verdict.REVOKED
    assert r.revoked_reason_hash == "0x" + reason_hash.hex()
    assert r.revoked_at


def test_old_version_of_revoked_record_says_revoked(reg, connect):
    rid, _, leaf1 = reg.anchor(b"a1")
    reg.anchor(b"a2", record_id=rid)
    reg.revoke(rid, "withdrawn")
    assert check(encode(code_for(reg, rid, 1, leaf1)), reg, connect).verdict is Verdict.REVOKED


def test_replaced_record_verifies_as_superseded_by_the_other_record(reg, connect):
    rid, v, leaf = reg.anchor(b"old licence")
    new_rid, _, _ = reg.anchor(b"new licence")
    reg.replace(rid, new_rid)
    r = check(encode(code_for(reg, rid, v, leaf)), reg, connect)
    assert r.verdict is Verdict.SUPERSEDED
    assert r.replaced_by == "0x" + new_rid.hex()


def test_expired_certificate_verifies_as_expired(reg, connect):
    salt = secrets.token_bytes(16)
    cert = "营业执照 统一社会信用代码 91110105MA00000000".encode()
    valid_until = reg.w3.eth.get_block("latest")["timestamp"] + 3600
    rid, v, leaf = reg.anchor(
        cert, kind=1, valid_until=valid_until, content_hash=holder_commitment(salt, cert)
    )
    code = encode(code_for(reg, rid, v, leaf, salt=salt))
    assert check(code, reg, connect, file_bytes=cert, now=valid_until - 10).verdict is (
        Verdict.AUTHENTIC_CURRENT
    )
    r = check(code, reg, connect, file_bytes=cert, now=valid_until + 1)
    assert r.verdict is Verdict.EXPIRED and r.valid_until == valid_until


def test_certificate_with_wrong_salt_is_tampered(reg, connect):
    salt = secrets.token_bytes(16)
    cert = b"<certificate holder='110105********1234'/>"
    rid, v, leaf = reg.anchor(cert, kind=1, content_hash=holder_commitment(salt, cert))
    good = encode(code_for(reg, rid, v, leaf, salt=salt))
    assert check(good, reg, connect, file_bytes=cert).verdict is Verdict.AUTHENTIC_CURRENT
    wrong = encode(code_for(reg, rid, v, leaf, salt=secrets.token_bytes(16)))
    r = check(wrong, reg, connect, file_bytes=cert)
    assert r.verdict is Verdict.TAMPERED
    missing = encode(code_for(reg, rid, v, leaf))
    assert check(missing, reg, connect, file_bytes=cert).verdict is Verdict.TAMPERED
    # Upload without a code: found only with the right salt.
    assert verify_file(cert, reg.trust(), connect=connect).verdict is Verdict.UNKNOWN
    by_salt = verify_file(cert, reg.trust(), salt=salt, connect=connect)
    assert by_salt.verdict is Verdict.AUTHENTIC_CURRENT


# --- not backed by the chain ------------------------------------------------------------------


def test_unknown_record_and_version_are_unknown(reg, connect):
    rid, _, leaf = reg.anchor(b"x")
    other = reg.new_record_id()
    assert check(encode(code_for(reg, other, 1, leaf)), reg, connect).verdict is Verdict.UNKNOWN
    r = check(encode(code_for(reg, rid, 2, leaf)), reg, connect)
    assert r.verdict is Verdict.UNKNOWN and r.exit_code == EXIT_CODES[Verdict.UNKNOWN]


def test_code_swapped_between_versions_is_tampered(reg, connect):
    rid, _, leaf1 = reg.anchor(b"v1")
    reg.anchor(b"v2", record_id=rid)
    # Version 2's number with version 1's leaf: the leaf prefix gives it away.
    r = check(encode(code_for(reg, rid, 2, leaf1)), reg, connect)
    assert r.verdict is Verdict.TAMPERED
    assert r.steps[-1].name == "check_leaf_prefix"


def test_edited_bytes_with_the_original_code_are_tampered(reg, connect):
    rid, v, leaf = reg.anchor(b"the published text")
    code = encode(code_for(reg, rid, v, leaf))
    r = check(code, reg, connect, file_bytes=b"the published text, edited")
    assert r.verdict is Verdict.TAMPERED
    # A real code copied onto another document.
    r = check(code, reg, connect, file_bytes=b"a completely different document")
    assert r.verdict is Verdict.TAMPERED


def test_code_naming_another_registry_or_chain_is_untrusted(reg, connect):
    rid, v, leaf = reg.anchor(b"x")
    other_registry = "0x" + secrets.token_hex(20)
    r = check(encode(code_for(reg, rid, v, leaf, registry=other_registry)), reg, connect)
    assert r.verdict is Verdict.UNTRUSTED_ISSUER
    assert r.office_name is None
    other_chain = QrPayload.for_page(
        chain_id=reg.chain_id + 1, registry=reg.address, record_id=rid, version=v, leaf=leaf
    )
    r = check(encode(other_chain), reg, connect)
    assert r.verdict is Verdict.UNTRUSTED_ISSUER
    assert r.exit_code == EXIT_CODES[Verdict.UNTRUSTED_ISSUER]


def test_real_registry_outside_the_trust_list_is_untrusted(chain_snapshot, connect):
    from support.chain_helpers import VerifierRegistry

    trusted = VerifierRegistry(chain_snapshot)
    rogue = VerifierRegistry(chain_snapshot)  # a real deployment anyone could make
    rid, v, leaf = rogue.anchor(b"forged notice")
    code = encode(code_for(rogue, rid, v, leaf))
    r = verify_payload(code, trusted.trust(), b"forged notice", connect=connect)
    assert r.verdict is Verdict.UNTRUSTED_ISSUER
    # Both trusted: each region's codes are recognised.
    both = TrustList.of([*trusted.trust().entries, *rogue.trust("另一区域").entries])
    r = verify_payload(code, both, b"forged notice", connect=connect)
    assert r.verdict is Verdict.AUTHENTIC_CURRENT and r.issuer_name == "另一区域"


@pytest.mark.parametrize("cut", [1, 5, 20, 40])
def test_truncated_payload_is_invalid_code(reg, connect, cut):
    rid, v, leaf = reg.anchor(b"x")
    code = encode(code_for(reg, rid, v, leaf))
    r = check(code[:-cut], reg, connect)
    assert r.verdict is Verdict.INVALID_CODE
    assert r.steps[0].name == "parse_payload" and r.steps[0].status is StepStatus.FAIL


def test_every_bit_flip_is_never_authentic(reg, connect):
    rid, v, leaf = reg.anchor(b"x")
    raw = code_for(reg, rid, v, leaf).to_bytes()
    import base64

    verdicts = set()
    for i in range(len(raw) * 8):
        flipped = bytearray(raw)
        flipped[i // 8] ^= 1 << (i % 8)
        text = base64.urlsafe_b64encode(bytes(flipped)).rstrip(b"=").decode()
        r = check(text, reg, connect)
        verdicts.add(r.verdict)
        assert r.verdict is not Verdict.AUTHENTIC_CURRENT, i
    assert Verdict.INVALID_CODE in verdicts


@pytest.mark.parametrize(
    "text",
    [
        "",
        " ",
        "A",
        "not a code at all",
        "https://verify.example.gov.cn/v/",
        "https://verify.example.gov.cn/x/AQA",
        "javascript:alert(1)",
        "\x00\x01\x02",
        "测试",
        "A" * 100_000,
        "https://evil.example/v/AAAA?x=1",
    ],
)
def test_garbage_is_invalid_code_and_never_raises(reg, connect, text):
    r = check(text, reg, connect)
    assert r.verdict is Verdict.INVALID_CODE


def test_random_inputs_never_raise(reg, connect):
    rng = random.Random(6)
    for _ in range(300):
        n = rng.randrange(0, 300)
        text = "".join(chr(rng.randrange(32, 0x3000)) for _ in range(n))
        assert check(text, reg, connect).verdict is not Verdict.AUTHENTIC_CURRENT
    for bad in (None, 42, b"bytes", object()):
        assert check(bad, reg, connect).verdict is Verdict.INVALID_CODE  # type: ignore[arg-type]


# --- files ------------------------------------------------------------------------------------


def test_any_file_is_found_by_its_sha256(reg, connect):
    rid, _, _ = reg.anchor(b"plain xml <doc/>")
    assert verify_file(b"plain xml <doc/>", reg.trust(), connect=connect).verdict is (
        Verdict.AUTHENTIC_CURRENT
    )
    reg.anchor(b"plain xml <doc v='2'/>", record_id=rid)
    r = verify_file(b"plain xml <doc/>", reg.trust(), connect=connect)
    assert r.verdict is Verdict.SUPERSEDED and r.current_version == 2
    for data in (b"never anchored", b"", b"%PDF-1.7 broken"):
        assert verify_file(data, reg.trust(), connect=connect).verdict is Verdict.UNKNOWN


# --- offline and failures ---------------------------------------------------------------------


def _offline_trust(reg, signers=()):
    dead = f"http://127.0.0.1:{free_port()}"
    return TrustList(
        (TrustEntry(reg.chain_id, reg.address, "离线", rpc_url=dead, signers=tuple(signers)),)
    )


def test_unreachable_chain_is_unavailable(reg, connect):
    rid, v, leaf = reg.anchor(b"x")
    r = verify_payload(encode(code_for(reg, rid, v, leaf)), _offline_trust(reg), connect=connect)
    assert r.verdict is Verdict.UNAVAILABLE


def test_offline_signed_code_says_issued_by_office_status_unchecked(reg, connect):
    rid, v, leaf = reg.anchor(b"x")
    signed = sign(code_for(reg, rid, v, leaf), SIGNER_KEY)
    trust = _offline_trust(reg, [OfflineSigner(reg.signer.lower(), "示范市数据局")])
    r = verify_payload(encode(signed), trust, connect=connect)
    assert r.verdict is Verdict.ISSUED_BY_OFFICE_STATUS_UNCHECKED
    assert r.office_name == "示范市数据局"
    # Signed by a key the trust list does not know: nothing can be said.
    stranger = sign(code_for(reg, rid, v, leaf), STRANGER_KEY)
    assert verify_payload(encode(stranger), trust, connect=connect).verdict is Verdict.UNAVAILABLE


def test_online_signature_must_be_the_offices(reg, connect):
    rid, v, leaf = reg.anchor(b"x")
    good = sign(code_for(reg, rid, v, leaf), SIGNER_KEY)
    assert check(encode(good), reg, connect).verdict is Verdict.AUTHENTIC_CURRENT
    bad = sign(code_for(reg, rid, v, leaf), STRANGER_KEY)
    assert check(encode(bad), reg, connect).verdict is Verdict.TAMPERED


def test_rpc_serving_another_chain_is_unavailable_not_authentic(reg, connect):
    rid, v, leaf = reg.anchor(b"x")
    payload = QrPayload.for_page(
        chain_id=5, registry=reg.address, record_id=rid, version=v, leaf=leaf
    )
    trust = TrustList((TrustEntry(5, reg.address, "wrong chain", rpc_url=reg.node_url),))
    r = verify_payload(encode(payload), trust, connect=connect)
    assert r.verdict is Verdict.UNAVAILABLE


# --- trust list and CLI ---------------------------------------------------------------------


def test_trust_list_parses_and_rejects_bad_files():
    doc = {
        "version": 1,
        "entries": [
            {"chain_id": 1, "registry": "0x" + "ab" * 20, "name": "A", "rpc_url": "http://a"},
            {"chain_id": 2, "registry": "0x" + "AB" * 20, "name": "B"},
        ],
    }
    trust = parse_trust(json.dumps(doc))
    assert len(trust) == 2 and trust.find(2, "0x" + "ab" * 20).name == "B"
    assert parse_trust(trust.to_json()) == trust
    for bad in ("{", "[]", '{"version": 2, "entries": []}', '{"version": 1, "entries": []}'):
        with pytest.raises(TrustListError):
            parse_trust(bad)
    dup = dict(doc, entries=[doc["entries"][0], doc["entries"][0]])
    with pytest.raises(TrustListError):
        parse_trust(json.dumps(dup))
    with pytest.raises(TrustListError):
        TrustEntry(1, "0x1234", "short address")


def test_cli_exit_codes_and_json(reg, tmp_path, capsys):
    rid, v, leaf = reg.anchor(b"cli v1")
    trust_file = tmp_path / "trust.json"
    trust_file.write_text(reg.trust().to_json())
    url = verify_url("verify.example.gov.cn", code_for(reg, rid, v, leaf))
    assert cli.main(["--trust", str(trust_file), "--json", "url", url]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["verdict"] == "authentic_current" and doc["office_name"] == reg.OFFICE_NAME
    (tmp_path / "doc.bin").write_bytes(b"cli v1")
    args = ["--rpc", reg.node_url, "--registry", reg.address, "--name", "N"]
    assert cli.main([*args, "check", str(tmp_path / "doc.bin")]) == 0
    out = capsys.readouterr().out
    assert "AUTHENTIC AND CURRENT" in out and "check_status" in out
    reg.anchor(b"cli v2", record_id=rid)
    assert cli.main(["--trust", str(trust_file), "url", url]) == EXIT_CODES[Verdict.SUPERSEDED]
    assert cli.main(["--trust", str(trust_file), "url", url[:-3]]) == 16
    assert cli.main(["--trust", str(tmp_path / "missing.json"), "url", url]) == 2
    assert cli.main(["url", url]) == 2
    assert len(set(EXIT_CODES.values())) == len(EXIT_CODES)
    # An unstamped certificate: found by its salted commitment with `check --salt`.
    salt = secrets.token_bytes(32)
    reg.anchor(b"<cert/>", kind=1, content_hash=holder_commitment(salt, b"<cert/>"))
    (tmp_path / "cert.xml").write_bytes(b"<cert/>")
    cert = ["--trust", str(trust_file), "check", str(tmp_path / "cert.xml")]
    assert cli.main(cert) == EXIT_CODES[Verdict.UNKNOWN]
    assert cli.main([*cert, "--salt", "0x" + salt.hex()]) == 0
    with pytest.raises(SystemExit) as bad:
        cli.main([*cert, "--salt", "abcd"])  # 2 bytes: a usage error, exit 2
    assert bad.value.code == 2
    capsys.readouterr()


def test_cli_takes_its_options_after_the_subcommand(reg, tmp_path, capsys):
    """`verifier check FILE --rpc …`, as the README writes it, means what the options
    before the subcommand mean; one given before is not undone by its absence after."""
    reg.anchor(b"options after")
    doc = tmp_path / "doc.bin"
    doc.write_bytes(b"options after")
    trust = ["--rpc", reg.node_url, "--registry", reg.address, "--name", "N"]
    assert cli.main(["check", str(doc), *trust, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["verdict"] == "authentic_current"
    assert cli.main(["--json", *trust[:4], "check", str(doc), *trust[4:]]) == 0
    assert json.loads(capsys.readouterr().out)["verdict"] == "authentic_current"
    assert cli.main(["check", str(doc), "--rpc", reg.node_url]) == 2  # still incomplete
    capsys.readouterr()


def test_verifier_imports_no_api_or_database():
    import subprocess
    import sys

    code = (
        "import sys, verifier, verifier.verify, verifier.cli, verifier.chainsource;"
        "bad=[m for m in sys.modules if m.split('.')[0] in "
        "('api','sqlalchemy','fastapi','alembic','psycopg','starlette')];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    env = dict(os.environ)
    assert subprocess.run([sys.executable, "-c", code], env=env).returncode == 0


def test_the_cli_prints_names_with_brackets_as_they_are(verifier_registry, capsys) -> None:
    # Trust and office names come from others: "[/]" in one raised rich's MarkupError (a
    # traceback instead of a verdict), and "[green]" restyled the output.
    reg = verifier_registry
    rid, version, leaf = reg.anchor(b"doc")
    code = encode(
        QrPayload.for_page(
            chain_id=reg.chain_id, registry=reg.address, record_id=rid, version=version, leaf=leaf
        )
    )
    name = "Region [/] [green]North"
    args = ["--rpc", reg.node_url, "--registry", reg.address, "--name", name, "url", code]
    assert cli.main(args) == EXIT_CODES[Verdict.AUTHENTIC_CURRENT]
    assert name in " ".join(capsys.readouterr().out.split())  # however rich wrapped it


def test_a_trust_list_with_two_registries_sharing_a_code_prefix_is_refused() -> None:
    # QR codes name a registry by its first 8 bytes: two such on one chain would make every
    # code of both read "untrusted issuer".
    a = "0x" + "ab" * 8 + "00" * 12
    b = "0x" + "ab" * 8 + "11" * 12
    with pytest.raises(TrustListError, match="share the prefix"):
        TrustList.of([TrustEntry(1, a, "A"), TrustEntry(1, b, "B")])
    with pytest.raises(TrustListError, match="duplicate"):
        TrustList.of([TrustEntry(1, a, "A"), TrustEntry(1, a, "A again")])
    assert len(TrustList.of([TrustEntry(1, a, "A"), TrustEntry(2, b, "B, another chain")])) == 2
