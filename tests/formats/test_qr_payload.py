"""The QR payload: golden vectors, strict parsing, round trips, signatures, and QR size."""

from __future__ import annotations

import base64
import json
import subprocess
import sys

import pytest
import qrcode
from hypothesis import given, settings
from hypothesis import strategies as st
from qrcode.constants import ERROR_CORRECT_M
from support import paths

from notary.errors import InvalidInput
from notary.formats.qr_payload import (
    MAX_PAYLOAD_BYTES,
    MAX_TEXT_LEN,
    InvalidPayload,
    QrPayload,
    decode,
    encode,
    parse_verify_url,
    recover_signer,
    sign,
    signing_digest,
    verify_url,
)

VECTORS = json.loads((paths.VECTORS / "qr_payload.json").read_text("utf-8"))
HOST = "verify.gov.example.cn"
REGISTRY = bytes.fromhex("5fbdb2315678afecb367f032d93f642f64180aa3")
KEY = VECTORS["signing_key_for_signed_vectors"]


def _payload(fields: dict) -> QrPayload:
    def raw(name: str) -> bytes | None:
        return bytes.fromhex(fields[name]) if fields[name] is not None else None

    return QrPayload(
        chain_id=fields["chain_id"],
        registry_prefix=raw("registry_prefix"),
        record_id=raw("record_id"),
        version=fields["version"],
        page=fields["page"],
        pages=fields["pages"],
        leaf_prefix=raw("leaf_prefix"),
        salt=raw("salt"),
        signature=raw("signature"),
    )


def _sample(**changes: object) -> QrPayload:
    fields = {
        "chain_id": 31337,
        "registry": REGISTRY,
        "record_id": (7).to_bytes(4, "big") + bytes(range(28)),
        "version": 3,
        "leaf": bytes(range(100, 132)),
        "page": 2,
        "pages": 10,
    }
    fields.update(changes)
    return QrPayload.for_page(**fields)  # type: ignore[arg-type]


def _qr_version(text: str) -> int:
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M)
    code.add_data(text)
    code.make(fit=True)
    return code.version


# ---------------------------------------------------------------------------------------
# Golden vectors: a change of encoding fails here
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("vector", VECTORS["valid"], ids=lambda v: v["name"])
def test_golden_vector_encodes_to_exact_text(vector: dict) -> None:
    payload = _payload(vector["fields"])
    assert payload.to_bytes().hex() == vector["hex"]
    assert encode(payload) == vector["text"]
    assert verify_url(VECTORS["host"], payload) == vector["url"]


@pytest.mark.parametrize("vector", VECTORS["valid"], ids=lambda v: v["name"])
def test_golden_vector_decodes_to_its_fields(vector: dict) -> None:
    assert decode(vector["text"]) == _payload(vector["fields"])
    assert parse_verify_url(vector["url"]).payload == _payload(vector["fields"])


@pytest.mark.parametrize(
    "vector", [v for v in VECTORS["valid"] if "signer" in v], ids=lambda v: v["name"]
)
def test_golden_signed_vector_recovers_its_signer(vector: dict) -> None:
    payload = decode(vector["text"])
    assert recover_signer(payload) == vector["signer"]
    assert sign(payload.without_signature(), KEY) == payload  # RFC 6979: deterministic


@pytest.mark.parametrize("vector", VECTORS["invalid"], ids=lambda v: v["name"])
def test_golden_invalid_text_is_refused_with_a_clear_message(vector: dict) -> None:
    with pytest.raises(InvalidPayload, match=vector["error_contains"]):
        decode(vector["text"])


def test_invalid_payload_is_an_invalid_input() -> None:
    assert issubclass(InvalidPayload, InvalidInput)
    assert issubclass(InvalidPayload, ValueError)


# ---------------------------------------------------------------------------------------
# Strict parsing
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("A" * (MAX_TEXT_LEN + 1), "too long"),
        ("AQ==", "base64url"),
        ("AQ+/", "base64url"),
        ("AQ D", "base64url"),
        ("A", "impossible base64 length"),
        ("AB", "canonical"),  # 'B' leaves stray low bits
        ("Ag", "unknown payload format version 2"),
        ("AA", "unknown payload format version 0"),
        ("AQ", "truncated"),
    ],
)
def test_malformed_text_is_refused(text: str, message: str) -> None:
    with pytest.raises(InvalidPayload, match=message):
        decode(text)


def test_non_text_is_refused() -> None:
    with pytest.raises(InvalidPayload):
        decode(b"AQ")  # type: ignore[arg-type]


def test_every_strict_prefix_is_refused() -> None:
    data = sign(_sample(salt=bytes(16)), KEY).to_bytes()
    for cut in range(len(data)):
        with pytest.raises(InvalidPayload):
            QrPayload.from_bytes(data[:cut])


def test_extra_bytes_are_refused() -> None:
    data = _sample().to_bytes()
    with pytest.raises(InvalidPayload, match="trailing"):
        QrPayload.from_bytes(data + b"\x00\x00\x00")


def test_overlong_varint_is_refused() -> None:
    body = bytearray(_sample().body())
    body[2:5] = bytes([0xE9, 0xF4, 0x81, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00])
    import binascii

    data = bytes(body) + binascii.crc_hqx(bytes(body), 0xFFFF).to_bytes(2, "big")
    with pytest.raises(InvalidPayload, match="chain id"):
        QrPayload.from_bytes(data)


@pytest.mark.parametrize(
    "changes",
    [
        {"chain_id": 0},
        {"chain_id": 2**64},
        {"version": 0},
        {"version": 2**32},
        {"page": 0},
        {"page": 11},
        {"pages": 65536, "page": 1},
        {"salt": bytes(8)},
        {"record_id": bytes(32)},
        {"record_id": bytes(31) + b"\x01"},
        {"leaf": bytes(31)},
        {"chain_id": True},
    ],
)
def test_out_of_range_fields_cannot_be_built(changes: dict) -> None:
    with pytest.raises(InvalidInput):
        _sample(**changes)


def test_high_s_signature_is_refused() -> None:
    signed = sign(_sample(), KEY)
    sig = signed.signature
    assert sig is not None
    n = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
    high_s = (n - int.from_bytes(sig[32:64], "big")).to_bytes(32, "big")
    with pytest.raises(InvalidPayload, match="canonical"):
        signed.with_signature(sig[:32] + high_s + bytes([55 - sig[64]]))


# ---------------------------------------------------------------------------------------
# Properties
# ---------------------------------------------------------------------------------------

payloads = st.builds(
    QrPayload,
    chain_id=st.integers(1, 2**64 - 1),
    registry_prefix=st.binary(min_size=8, max_size=8),
    record_id=st.tuples(st.integers(1, 2**32 - 1), st.binary(min_size=28, max_size=28)).map(
        lambda t: t[0].to_bytes(4, "big") + t[1]
    ),
    version=st.integers(1, 2**32 - 1),
    page=st.just(1),
    pages=st.integers(1, 65535),
    leaf_prefix=st.binary(min_size=8, max_size=8),
    salt=st.none() | st.binary(min_size=16, max_size=16) | st.binary(min_size=32, max_size=32),
).flatmap(lambda p: st.integers(1, p.pages).map(lambda page: p.with_page(page, p.pages)))


@settings(max_examples=300, deadline=None)
@given(payloads)
def test_any_payload_round_trips_through_text_and_url(payload: QrPayload) -> None:
    text = encode(payload)
    assert decode(text) == payload
    assert len(payload.to_bytes()) <= MAX_PAYLOAD_BYTES
    assert len(text) <= MAX_TEXT_LEN
    assert parse_verify_url(verify_url(HOST, payload)).payload == payload


@settings(max_examples=200, deadline=None)
@given(payloads, st.data())
def test_any_single_bit_flip_of_the_bytes_is_refused(
    payload: QrPayload, data: st.DataObject
) -> None:
    raw = bytearray(payload.to_bytes())
    bit = data.draw(st.integers(0, len(raw) * 8 - 1))
    raw[bit // 8] ^= 1 << (bit % 8)
    with pytest.raises(InvalidPayload):
        QrPayload.from_bytes(bytes(raw))


@settings(max_examples=200, deadline=None)
@given(payloads, st.data())
def test_any_single_bit_flip_of_the_text_is_refused(
    payload: QrPayload, data: st.DataObject
) -> None:
    text = bytearray(encode(payload).encode("ascii"))
    bit = data.draw(st.integers(0, len(text) * 8 - 1))
    text[bit // 8] ^= 1 << (bit % 8)
    with pytest.raises(InvalidPayload):
        decode(text.decode("latin-1"))


@settings(max_examples=100, deadline=None)
@given(payloads, st.binary(min_size=1, max_size=40))
def test_appended_garbage_is_refused(payload: QrPayload, junk: bytes) -> None:
    with pytest.raises(InvalidPayload):
        QrPayload.from_bytes(payload.to_bytes() + junk)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=MAX_PAYLOAD_BYTES + 4))
def test_random_bytes_never_crash_the_parser(data: bytes) -> None:
    try:
        payload = QrPayload.from_bytes(data)
    except InvalidPayload:
        return
    assert payload.to_bytes() == data  # anything accepted is canonical


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_random_text_never_crashes_the_parser(text: str) -> None:
    try:
        payload = decode(text)
    except InvalidPayload:
        return
    assert encode(payload) == text


# ---------------------------------------------------------------------------------------
# Signatures
# ---------------------------------------------------------------------------------------


def test_signature_recovers_the_signing_address() -> None:
    from eth_account import Account

    signed = sign(_sample(), KEY)
    assert signed.is_signed
    assert recover_signer(decode(encode(signed))) == Account.from_key(KEY).address


def test_signature_binds_every_field() -> None:
    signed = sign(_sample(salt=bytes(16)), KEY)
    signer = recover_signer(signed)
    sig = signed.signature
    assert sig is not None
    for other in (
        _sample(salt=bytes(16), page=3),
        _sample(salt=bytes(16), chain_id=1),
        _sample(salt=bytes(16), registry=bytes(20)),
        _sample(salt=bytes(15) + b"\x01"),
        _sample(salt=None),
        _sample(salt=bytes(16), version=4),
    ):
        assert recover_signer(other.with_signature(sig)) != signer


def test_signing_digest_is_domain_separated() -> None:
    from eth_hash.auto import keccak

    payload = _sample()
    assert signing_digest(payload) != keccak(payload.body())
    assert signing_digest(payload) == signing_digest(sign(payload, KEY))  # covers no signature


def test_unsigned_payload_has_no_signer() -> None:
    with pytest.raises(InvalidPayload, match="no signature"):
        recover_signer(_sample())


def test_bad_private_key_is_refused() -> None:
    for key in ("0x1234", bytes(32), "zz" * 32):
        with pytest.raises(InvalidInput):
            sign(_sample(), key)


# ---------------------------------------------------------------------------------------
# Verify URLs
# ---------------------------------------------------------------------------------------


def test_verify_url_round_trips_with_host() -> None:
    payload = _sample()
    url = verify_url("Verify.Gov.Example.CN", payload)
    assert url.startswith("https://verify.gov.example.cn/v/")
    link = parse_verify_url(url)
    assert (link.scheme, link.host, link.payload) == ("https", HOST, payload)
    local = parse_verify_url(verify_url("127.0.0.1:8000", payload, scheme="http"))
    assert (local.scheme, local.host) == ("http", "127.0.0.1:8000")


@pytest.mark.parametrize(
    "host", ["", "https://x.cn", "x.cn/v", "x..cn", "-x.cn", "x.cn:0", "x.cn:99999"]
)
def test_verify_url_refuses_bad_hosts(host: str) -> None:
    with pytest.raises(InvalidInput):
        verify_url(host, _sample())


@pytest.mark.parametrize(
    "mangle",
    [
        lambda u: u.replace("https://", "ftp://"),
        lambda u: u.replace("https://", "https://user@"),
        lambda u: u + "?x=1",
        lambda u: u + "#frag",
        lambda u: u + "/",
        lambda u: u.replace("/v/", "/w/"),
        lambda u: u.replace("/v/", "/v/x/"),
        lambda u: u.replace("/v/", "/"),
        lambda u: u + " ",
        lambda u: u[:-1],
        lambda u: u.replace("verify.", "vérify."),
        lambda u: "x" * 3000,
    ],
)
def test_parse_verify_url_is_strict(mangle) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidPayload):
        parse_verify_url(mangle(verify_url(HOST, _sample())))


# ---------------------------------------------------------------------------------------
# Size: the whole URL fits a small QR code
# ---------------------------------------------------------------------------------------


def _realistic(**changes: object) -> QrPayload:
    # A 300-page document's last page: two-byte page varints, the worst common case.
    return _sample(page=300, pages=300, version=12, **changes)


@pytest.mark.parametrize(
    ("name", "payload", "max_version"),
    [
        ("disclosure", _realistic(), 7),
        ("certificate-salt16", _realistic(salt=bytes(16)), 8),
        ("certificate-salt32", _realistic(salt=bytes(32)), 9),
        ("signed-disclosure", sign(_realistic(), KEY), 10),
        ("signed-certificate-salt16", sign(_realistic(salt=bytes(16)), KEY), 11),
    ],
)
def test_whole_url_fits_qr_version(name: str, payload: QrPayload, max_version: int) -> None:
    url = verify_url(HOST, payload)
    version = _qr_version(url)
    print(f"{name}: {len(payload.to_bytes())} bytes, URL {len(url)} chars, QR version {version}-M")
    assert version <= max_version


def test_plain_and_certificate_codes_fit_version_10_at_m() -> None:
    for payload in (_realistic(), _realistic(salt=bytes(16)), _realistic(salt=bytes(32))):
        assert _qr_version(verify_url(HOST, payload)) <= 10


def test_base64_text_has_no_padding() -> None:
    for payload in (_sample(), _sample(salt=bytes(32)), sign(_sample(), KEY)):
        text = encode(payload)
        assert "=" not in text
        assert base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)) == payload.to_bytes()


def test_parser_imports_without_web3_or_eth_libraries() -> None:
    code = (
        "import sys; import notary.formats.qr_payload as q; "
        "bad = [m for m in sys.modules if m.split('.')[0] in "
        "('web3', 'eth_keys', 'eth_account', 'eth_hash', 'sqlalchemy', 'fastapi', 'pypdf')]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=paths.ROOT)
