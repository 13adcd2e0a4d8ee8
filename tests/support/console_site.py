"""The whole service for browser tests of the console: uvicorn on loopback, the anchoring
worker in a thread, a real registry office on anvil, and axe-core for accessibility."""

from __future__ import annotations

import contextlib
import io
import threading
import time
from pathlib import Path
from typing import Any

from notary.chain.local import free_port
from support import paths

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-sync",
                 "--disable-background-networking", "--disable-component-update"]  # fmt: skip
PHONE = {"width": 390, "height": 844}
AXE = paths.ROOT / "node_modules" / "axe-core" / "axe.min.js"
ADMIN_KEY = "console-admin-key-0123456789abcdef"


class ConsoleSite:
    """A running site over one registry office, with its worker anchoring in the background."""

    def __init__(self, tmp: Path, chain_config: Any, registry_office: Any) -> None:
        import uvicorn
        from fastapi.testclient import TestClient

        from api.core.settings import Settings
        from api.main import create_app
        from notary.anchoring.worker import WorkerSettings

        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        data_dir = tmp / "data"
        data_dir.mkdir()
        chain_config.save(data_dir)
        self.settings = Settings(
            data_dir=data_dir, admin_key=ADMIN_KEY, key_secret="k" * 32,
            public_base_url=self.base, receipt_wait_cap_s=1.0,
        )  # fmt: skip
        self.app = create_app(self.settings)
        self.app.state.verify_ttl = 0.0
        self.worker = WorkerSettings(
            db_url=self.settings.db_url, chain=chain_config, signers=(registry_office.signer,)
        )
        self._stop = threading.Event()
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.05)
        self.api = TestClient(self.app, base_url=self.base)
        admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
        self.office_id = registry_office.office_id.hex()
        r = self.api.post(
            "/api/v1/offices",
            json={"office_id": self.office_id, "number": registry_office.number,
                  "name": "示范区财政局"},
            headers=admin,
        )  # fmt: skip
        assert r.status_code == 201, r.text
        self.keys = {}
        for role in ("publisher", "auditor"):
            k = self.api.post(
                f"/api/v1/offices/{self.office_id}/keys", json={"role": role}, headers=admin
            )
            assert k.status_code == 201, k.text
            self.keys[role] = k.json()["key"]
        self.anchoring = threading.Thread(target=self._anchor_loop, daemon=True)
        self.anchoring.start()

    def _anchor_loop(self) -> None:
        from notary.anchoring.worker import anchor_pending

        while not self._stop.is_set():
            # a test's worker retries after a failed round, like the real one
            with contextlib.suppress(Exception):
                anchor_pending(self.worker, timeout=30)
            self._stop.wait(0.3)

    def stop(self) -> None:
        self._stop.set()
        self.anchoring.join(40)
        self.server.should_exit = True
        self.thread.join(10)


def pdf_with_id(id_number: str, title: str = "District notice") -> bytes:
    """A two-page PDF: a notice, and on page 2 a resident ID number (the guard finds it)."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    buf = io.BytesIO()
    pdf = canvas.Canvas(buf, pagesize=A4)
    pdf.setFont("Helvetica", 14)
    pdf.drawString(72, 760, title)
    pdf.drawString(72, 730, "The district publishes its 2026 budget for public comment.")
    pdf.showPage()
    pdf.setFont("Helvetica", 14)
    pdf.drawString(72, 760, "Applicant record")
    pdf.drawString(72, 730, f"Resident ID: {id_number}")
    pdf.showPage()
    pdf.save()
    return buf.getvalue()


def axe_violations(page: Any) -> list[dict]:
    """Serious and critical axe-core violations on the page as it is now."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def shot(page: Any, name: str) -> None:
    """A full-page screenshot under test-artifacts/screenshots/."""
    paths.SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(paths.SHOTS / f"console-{name}.png"), full_page=True)
