"""An API test client on a real app and database: offices, keys, publishes, raw SQL."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from api.core.settings import Settings
from api.main import create_app
from notary.pii import resident_id_check_digit

ADMIN_KEY = "test-admin-key-0123456789abcdef"
MD = {
    "title": "2026 budget of the district",
    "category": "budget",
    "publication_date": "2026-01-15",
    "reviewer": "Li Wei",
    "language": "zh-CN",
}


def valid_resident_id(first17: str = "11010519900307123") -> str:
    """An 18-digit resident ID with a correct GB 11643 check digit."""
    return first17 + resident_id_check_digit(first17)


def make_settings(url: str, data_dir: Path, **overrides: object) -> Settings:
    return Settings(
        data_dir=data_dir,
        database_url=url,
        admin_key=ADMIN_KEY,
        key_secret="k" * 32,
        receipt_wait_cap_s=1.0,
        **overrides,
    )


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@dataclass
class Office:
    id: str
    number: int
    publisher: dict[str, str]
    auditor: dict[str, str]
    publisher_key_id: str


class Api:
    """A TestClient with helpers for the common calls."""

    def __init__(self, client: TestClient, settings: Settings) -> None:
        self.c = client
        self.settings = settings
        self.admin = bearer(ADMIN_KEY)
        self._n = 0

    def office(self) -> Office:
        self._n += 1
        oid = hashlib.sha256(f"office-{self._n}".encode()).hexdigest()
        r = self.c.post(
            "/api/v1/offices",
            json={"office_id": oid, "number": self._n, "name": f"Office {self._n}"},
            headers=self.admin,
        )
        assert r.status_code == 201, r.text
        keys = {}
        for role in ("publisher", "auditor"):
            k = self.c.post(f"/api/v1/offices/{oid}/keys", json={"role": role}, headers=self.admin)
            assert k.status_code == 201, k.text
            keys[role] = k.json()
        return Office(
            oid,
            self._n,
            bearer(keys["publisher"]["key"]),
            bearer(keys["auditor"]["key"]),
            keys["publisher"]["id"],
        )

    def publish(
        self,
        office: Office,
        data: bytes = b"plain text release",
        *,
        tier: str = "public",
        ctype: str = "text/plain",
        md: dict | None = None,
        headers: dict | None = None,
        **form: str,
    ):
        return self.c.post(
            "/api/v1/records",
            files={"file": ("release.txt", data, ctype)},
            data={"metadata": json.dumps(md or MD), "tier": tier, **form},
            headers={**office.publisher, **(headers or {})},
        )

    def published(self, office: Office, data: bytes = b"plain text release", **kw) -> dict:
        r = self.publish(office, data, **kw)
        assert r.status_code == 201, r.text
        return r.json()


@pytest.fixture
def api(db_url: str, tmp_path: Path) -> Iterator[Api]:
    settings = make_settings(db_url, tmp_path / "data")
    with TestClient(create_app(settings)) as client:
        yield Api(client, settings)


def sql(api: Api, statement: str, **params: object) -> list:
    engine = create_engine(api.settings.db_url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.begin() as conn:
            result = conn.execute(text(statement), params)
            return list(result) if result.returns_rows else []
    finally:
        engine.dispose()
