"""One rule for where codes may point (`verifier.hosts`), used by the service's upload page
and by the `verifier` command: scheme, host and port are compared (with each scheme's default
port), and a foreign place is a warning in both, never plain green. Real anvil, real stamped
PDFs, the real app and the real CLI entry point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from test_upload_result import LOOK_ALIKE, MIRROR, OWN_HOST, _pdf, _stamped, _upload

from notary.formats.qr_payload import QrPayload, verify_url
from notary.pdf.stamp import stamp_pdf
from verifier import cli
from verifier.chainsource import RegistryPool
from verifier.hosts import Origin, check_hosts, origin, url_origin
from verifier.trust import TrustEntry, TrustList


def test_origins_make_the_default_port_of_their_scheme_explicit() -> None:
    assert url_origin("https://Verify.GOV.example/v/x") == Origin(
        "https", "verify.gov.example", 443
    )
    assert origin("https", "verify.gov.example:443") == origin("https", "verify.gov.example")
    assert origin("http", "verify.gov.example:80") == Origin("http", "verify.gov.example", 80)
    assert origin("https", "verify.gov.example:80") != origin("https", "verify.gov.example")
    assert origin("http", "verify.gov.example") != origin("https", "verify.gov.example")
    assert str(Origin("https", "a.example", 443)) == "a.example"
    assert str(Origin("https", "a.example", 80)) == "a.example:80"
    assert str(Origin("http", "a.example", 80)) == "http://a.example"
    assert origin("ftp", "a.example") is None and origin("https", "a.example:99999") is None


def _stamped_with(reg, data: bytes, host: str, scheme: str = "https") -> bytes:
    rid, version, leaf = reg.anchor(data)
    payload = QrPayload.for_page(
        chain_id=reg.chain_id, registry=reg.address, record_id=rid, version=version, leaf=leaf
    )
    return stamp_pdf(
        data, make_payload=lambda p, n: verify_url(host, payload.with_page(p, n), scheme=scheme)
    )


@pytest.fixture
def client(verifier_registry, tmp_path: Path):
    from api.core.settings import Settings
    from api.main import create_app

    reg = verifier_registry
    app = create_app(Settings(data_dir=tmp_path, public_base_url=f"https://{OWN_HOST}"))
    app.state.verify_trust = TrustList.of(
        [TrustEntry(reg.chain_id, reg.address, "本区域", reg.chain.url, verify_hosts=(MIRROR,))]
    )
    app.state.verify_connect = RegistryPool()
    app.state.verify_ttl = 0.0
    with TestClient(app) as c:
        yield c


@pytest.mark.parametrize(
    ("host", "scheme", "shown"),
    [
        (OWN_HOST, "http", f"http://{OWN_HOST}"),  # a plain-HTTP downgrade of our own host
        (f"{OWN_HOST}:80", "https", f"{OWN_HOST}:80"),  # the other scheme's default port
        (MIRROR, "http", f"http://{MIRROR}"),  # a trust list host is an https origin
    ],
)
def test_the_wrong_scheme_or_port_of_a_known_host_is_foreign(
    client, verifier_registry, host, scheme, shown
) -> None:
    stamped = _stamped_with(verifier_registry, _pdf(f"公告 {host} {scheme}"), host, scheme)
    body = _upload(client, stamped, headers={"Accept": "application/json"}).json()
    assert body["verdict"] == "authentic_current"
    assert body["foreign_hosts"] == [shown] and body["host_warning"] is True


def _trust_file(reg, tmp_path: Path, hosts: tuple[str, ...]) -> Path:
    path = tmp_path / "trust.json"
    entry = TrustEntry(reg.chain_id, reg.address, "本区域", reg.chain.url, verify_hosts=hosts)
    path.write_text(TrustList.of([entry]).to_json())
    return path


def test_the_verifier_cli_warns_about_a_foreign_host_as_the_page_does(
    verifier_registry, tmp_path, capsys
) -> None:
    reg = verifier_registry
    forged = _stamped(reg, _pdf("关于征收补偿的公告"), LOOK_ALIKE)
    path = tmp_path / "copy.pdf"
    path.write_bytes(forged)
    trust = str(_trust_file(reg, tmp_path, (OWN_HOST,)))
    assert cli.main(["--trust", trust, "--json", "check", str(path)]) == cli.FOREIGN_HOST == 19
    doc = json.loads(capsys.readouterr().out)
    assert doc["verdict"] == "authentic_current" and doc["exit_code"] == 19
    assert doc["foreign_hosts"] == [LOOK_ALIKE] and doc["host_warning"] is True
    assert cli.main(["--trust", trust, "check", str(path)]) == 19
    out = capsys.readouterr().out
    assert "AUTHENTIC AND CURRENT" not in out and "POINT TO ANOTHER SITE" in out
    assert LOOK_ALIKE in out
    assert cli.main(["--trust", trust, "--json", "url", _first_url(forged)]) == 19
    assert json.loads(capsys.readouterr().out)["foreign_hosts"] == [LOOK_ALIKE]


def _first_url(stamped: bytes) -> str:
    from notary.pdf.stamp import read_stamp_urls

    return read_stamp_urls(stamped)[0]


def test_the_verifier_cli_stays_green_for_a_listed_host(verifier_registry, tmp_path, capsys):
    reg = verifier_registry
    genuine = _stamped(reg, _pdf("办事指南"), OWN_HOST)
    path = tmp_path / "copy.pdf"
    path.write_bytes(genuine)
    trust = str(_trust_file(reg, tmp_path, (OWN_HOST,)))
    assert cli.main(["--trust", trust, "--json", "check", str(path)]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["foreign_hosts"] == [] and doc["host_warning"] is False
    # --rpc with a trust list keeps the list's verify hosts
    assert cli.main(["--trust", trust, "--rpc", reg.chain.url, "check", str(path)]) == 0
    single = ["--rpc", reg.chain.url, "--registry", reg.address, "--name", "N"]
    assert cli.main([*single, "--verify-host", OWN_HOST, "check", str(path)]) == 0
    assert cli.main([*single, "--verify-host", MIRROR, "check", str(path)]) == 19
    capsys.readouterr()


def test_without_listed_hosts_the_cli_reports_them_unchecked(verifier_registry, tmp_path, capsys):
    reg = verifier_registry
    path = tmp_path / "copy.pdf"
    path.write_bytes(_stamped(reg, _pdf("通知"), LOOK_ALIKE))
    trust = str(_trust_file(reg, tmp_path, ()))
    assert cli.main(["--trust", trust, "--json", "check", str(path)]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["host_warning"] is False and doc["unchecked_hosts"] == [LOOK_ALIKE]
    check = check_hosts([_first_url(path.read_bytes())], frozenset(), reg.trust())
    assert check.unchecked == (LOOK_ALIKE,) and not check.warning
    own = frozenset({Origin("https", OWN_HOST, 443)})  # a service has its own: then foreign
    assert check_hosts([_first_url(path.read_bytes())], own, reg.trust()).foreign == (LOOK_ALIKE,)
