"""The verify URL rules docs/qr-payload.md states: scheme case, hosts, IPv6 refused."""

from __future__ import annotations

import hashlib

import pytest

from notary.formats.qr_payload import InvalidPayload, QrPayload, parse_verify_url, verify_url

PAYLOAD = QrPayload.for_page(
    chain_id=31337,
    registry=bytes.fromhex("5fbdb2315678afecb367f032d93f642f64180aa3"),
    record_id=(1).to_bytes(4, "big") + hashlib.sha256(b"rules").digest()[:28],
    version=1,
    leaf=bytes(32),
)
URL = verify_url("verify.gov.example.cn", PAYLOAD)


@pytest.mark.parametrize("scheme", ["HTTPS", "Https", "HTTP"])
def test_scheme_is_compared_case_insensitively(scheme: str) -> None:
    link = parse_verify_url(scheme + URL.removeprefix("https"))
    assert link.scheme == scheme.lower() and link.payload == PAYLOAD


@pytest.mark.parametrize(
    "host", ["[::1]", "[2001:db8::1]:8443", "user@verify.gov.example.cn", "x..cn", "x.cn:0"]
)
def test_ipv6_literals_and_bad_hosts_are_refused(host: str) -> None:
    with pytest.raises(InvalidPayload, match="not a verify URL"):
        parse_verify_url(URL.replace("verify.gov.example.cn", host))


def test_host_case_is_ignored_and_ipv4_with_port_accepted() -> None:
    assert parse_verify_url(URL.replace("verify", "VERIFY", 1)).host == "verify.gov.example.cn"
    assert parse_verify_url(URL.replace("verify.gov.example.cn", "10.0.0.7:8080")).host == (
        "10.0.0.7:8080"
    )
