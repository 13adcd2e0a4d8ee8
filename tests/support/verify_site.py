"""The verify-page site for browser tests: a real uvicorn server running the real app on
loopback, with records in every state anchored on anvil, and headless Debian Chromium.

Fixtures `site` (one per test module, inside a module-wide chain snapshot) and `browser` are
registered by name in tests/conftest.py.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from notary.chain.local import free_port
from notary.formats.qr_payload import QrPayload, verify_url
from notary.pdf.stamp import stamp_pdf
from support import paths
from verifier.certificate import holder_commitment
from verifier.chainsource import RegistryPool

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SHOTS = paths.ROOT / "test-artifacts" / "screenshots"
PHONE = {"width": 390, "height": 844}


def pdf(title: str, pages: int = 2) -> bytes:
    """A real Chinese-text PDF of `pages` pages."""
    from support.scan import chinese_pdf

    return chinese_pdf(title, pages)


class Site:
    """A uvicorn server running the real app, with records in every state on anvil."""

    def __init__(self, reg, tmp: Path) -> None:
        import uvicorn

        from api.core.settings import Settings
        from api.main import create_app
        from api.pages.verify import RecordExtras

        self.reg = reg
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.host = f"127.0.0.1:{self.port}"
        self.extras: dict[tuple[str, int], RecordExtras] = {}
        self.codes: dict[str, str] = {}
        self.files: dict[str, bytes] = {}
        self._populate(RecordExtras)

        app = create_app(Settings(data_dir=tmp, public_base_url=self.base))
        app.state.verify_trust = reg.trust("示范区域政务公证链")
        app.state.verify_connect = RegistryPool()
        app.state.verify_ttl = 0.0
        app.state.verify_enricher = lambda r: self.extras.get((r.record_id or "", r.version or 0))
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.05)

    def url(self, payload: QrPayload) -> str:
        return verify_url(self.host, payload, scheme="http")

    def _publish(self, name, data, extras, RecordExtras, *, record_id=None, **kw):
        rid, version, leaf = self.reg.anchor(data, record_id=record_id, **kw)
        payload = QrPayload.for_page(
            chain_id=self.reg.chain_id,
            registry=self.reg.address,
            record_id=rid,
            version=version,
            leaf=leaf,
            page=1,
            pages=2,
        )
        self.codes[name] = self.url(payload)
        self.extras[("0x" + rid.hex(), version)] = RecordExtras(**extras)
        return rid, payload

    def _populate(self, RecordExtras) -> None:
        reg = self.reg
        budget = pdf("二〇二六年度部门预算公开")
        rid, payload = self._publish(
            "current",
            budget,
            {"title": "二〇二六年度部门预算公开", "tier": "public", "file_bytes": budget},
            RecordExtras,
        )
        self.files["stamped"] = stamp_pdf(
            budget, make_payload=lambda p, n: self.url(payload.with_page(p, n))
        )
        guide1, guide2 = pdf("办事指南（第一版）"), pdf("办事指南（第二版）")
        g_rid, _ = self._publish(
            "superseded",
            guide1,
            {"title": "不动产登记办事指南", "tier": "public", "file_bytes": guide1},
            RecordExtras,
        )
        self.codes["superseded_v1"] = self.codes.pop("superseded")
        self._publish(
            "superseded_v2",
            guide2,
            {"title": "不动产登记办事指南", "tier": "public", "file_bytes": guide2},
            RecordExtras,
            record_id=g_rid,
        )
        notice = pdf("采购结果公示")
        n_rid, _ = self._publish(
            "revoked",
            notice,
            {
                "title": "采购结果公示",
                "revocation_reason": "公示信息有误，予以撤销",
                "tier": "public",
            },
            RecordExtras,
        )
        reg.revoke(n_rid, "公示信息有误，予以撤销")
        cert = b"%PDF-1.7 certificate placeholder"
        salt = secrets.token_bytes(16)
        self.expires_at = reg.w3.eth.get_block("latest")["timestamp"] + 2
        rid_c, version_c, leaf_c = reg.anchor(
            cert, kind=1, valid_until=self.expires_at, content_hash=holder_commitment(salt, cert)
        )
        self.codes["expired"] = self.url(
            QrPayload.for_page(
                chain_id=reg.chain_id,
                registry=reg.address,
                record_id=rid_c,
                version=version_c,
                leaf=leaf_c,
                salt=salt,
            )
        )
        self.codes["unknown"] = self.url(payload_for(reg, reg.new_record_id(), 1, bytes(32)))
        self.codes["tampered"] = self.url(payload_for(reg, rid, 1, b"\x99" * 32))
        self.codes["untrusted"] = self.url(
            payload_for(reg, rid, 1, reg.leaves[rid], registry="0x" + secrets.token_hex(20))
        )
        self.codes["invalid"] = self.codes["current"][:-6]

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def payload_for(reg, rid, version, leaf, *, registry=None) -> QrPayload:
    return QrPayload.for_page(
        chain_id=reg.chain_id,
        registry=registry or reg.address,
        record_id=rid,
        version=version,
        leaf=leaf,
    )


@pytest.fixture(scope="module")
def site(anvil, tmp_path_factory) -> Iterator[Site]:
    """One site for the module, on a registry deployed inside a module-wide snapshot."""
    from notary.chain.local import rpc_call
    from support.chain_helpers import VerifierRegistry

    snap = rpc_call(anvil.url, "evm_snapshot")
    s = Site(VerifierRegistry(anvil), tmp_path_factory.mktemp("site"))
    yield s
    s.stop()
    rpc_call(anvil.url, "evm_revert", [snap])


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()
