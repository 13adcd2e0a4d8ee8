"""The whole service on a real chain: API (TestClient) + SQLite/PostgreSQL + anchoring worker.

Shared by `test_certificates.py` and `test_publish_flow.py` (no tests of its own). The data
directory holds the chain config (`chain.json`), as `make run` writes it, so the API builds
verify URLs and the verify pages trust the test's registry.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.core.settings import Settings
from api.main import create_app
from notary.anchoring.worker import WorkerSettings, anchor_pending
from notary.chain.config import ChainConfig
from verifier.trust import TrustList

ADMIN_KEY = "flow-admin-key-0123456789abcdef"
BASE_URL = "http://127.0.0.1:8000"
MD = {
    "title": "2026 district budget",
    "category": "budget",
    "publication_date": "2026-01-15",
    "reviewer": "Li Wei",
    "language": "zh-CN",
}


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@dataclass
class Stack:
    """A running API over one registry office, with its keys and a worker on demand."""

    c: TestClient
    settings: Settings
    chain: ChainConfig
    signer: Any
    publisher: dict[str, str]
    auditor: dict[str, str]
    admin: dict[str, str]

    @property
    def trust(self) -> TrustList:
        assert self.chain.registry
        return TrustList.single(
            chain_id=self.chain.chain_id,
            registry=self.chain.registry,
            name="Test registry",
            rpc_url=self.chain.rpc_url,
        )

    def anchor(self) -> None:
        """Run the worker until nothing is pending."""
        worker = WorkerSettings(
            db_url=self.settings.db_url, chain=self.chain, signers=(self.signer,)
        )
        anchor_pending(worker, timeout=60)

    def publish(self, data: bytes, *, tier: str = "public", md: dict | None = None) -> dict:
        r = self.c.post(
            "/api/v1/records",
            files={"file": ("release.pdf", data, "application/pdf")},
            data={"metadata": json.dumps(md or MD), "tier": tier},
            headers=self.publisher,
        )
        assert r.status_code == 201, r.text
        return r.json()

    def receipt(self, revision_id: str) -> dict:
        r = self.c.get(f"/api/v1/receipts/{revision_id}", headers=self.publisher)
        assert r.status_code == 200, r.text
        return r.json()


@pytest.fixture
def stack(db_url: str, tmp_path: Path, chain_config, registry_office) -> Iterator[Stack]:
    """The API on `db_url` with `registry_office` admitted in its database as on chain."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    chain_config.save(data_dir)
    settings = Settings(
        data_dir=data_dir,
        database_url=db_url,
        admin_key=ADMIN_KEY,
        key_secret="k" * 32,
        receipt_wait_cap_s=1.0,
        public_base_url=BASE_URL,
    )
    app = create_app(settings)
    app.state.verify_ttl = 0.0  # the verify page must see a revision as soon as it lands
    with TestClient(app) as client:
        admin = bearer(ADMIN_KEY)
        oid = registry_office.office_id.hex()
        r = client.post(
            "/api/v1/offices",
            json={"office_id": oid, "number": registry_office.number, "name": "Tax office"},
            headers=admin,
        )
        assert r.status_code == 201, r.text
        keys = {}
        for role in ("publisher", "auditor"):
            k = client.post(f"/api/v1/offices/{oid}/keys", json={"role": role}, headers=admin)
            assert k.status_code == 201, k.text
            keys[role] = bearer(k.json()["key"])
        yield Stack(
            c=client,
            settings=settings,
            chain=chain_config,
            signer=registry_office.signer,
            publisher=keys["publisher"],
            auditor=keys["auditor"],
            admin=admin,
        )


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
