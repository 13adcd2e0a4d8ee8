"""Schemathesis over the API's OpenAPI schema, as an admin and as a publisher.

Bounded for CI (a few examples per operation, well under a minute). The long run:
`NOTARY_FUZZ_EXAMPLES=500 .venv/bin/python -m pytest tests/service/test_api_schema.py`.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.core.settings import Settings
from api.main import create_app

ADMIN_KEY = "fuzz-admin-key-0123456789abcdef"
EXAMPLES = int(os.environ.get("NOTARY_FUZZ_EXAMPLES", "8"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[object, dict]]:
    """One app on SQLite with an office, a publisher key and a published record."""
    data = Path(tmp_path_factory.mktemp("fuzz"))
    app = create_app(
        Settings(data_dir=data, admin_key=ADMIN_KEY, key_secret="f" * 32, receipt_wait_cap_s=0.3)
    )
    with TestClient(app) as client:
        admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
        oid = hashlib.sha256(b"fuzz office").hexdigest()
        client.post(
            "/api/v1/offices", json={"office_id": oid, "number": 1, "name": "Fuzz"}, headers=admin
        )
        key = client.post(
            f"/api/v1/offices/{oid}/keys", json={"role": "publisher"}, headers=admin
        ).json()["key"]
        publisher = {"Authorization": f"Bearer {key}"}
        md = {
            "title": "t",
            "category": "c",
            "publication_date": "2026-01-01",
            "reviewer": "r",
            "language": "zh-CN",
        }
        client.post(
            "/api/v1/records",
            files={"file": ("a.txt", b"fuzz", "text/plain")},
            data={"metadata": json.dumps(md)},
            headers=publisher,
        )
        yield app, {"admin": admin, "publisher": publisher}


@pytest.fixture(scope="module")
def api_schema(fuzz_app: tuple[object, dict]) -> schemathesis.BaseSchema:
    app, _ = fuzz_app
    return schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)


@pytest.fixture(scope="module")
def keys(fuzz_app: tuple[object, dict]) -> dict:
    return fuzz_app[1]


def test_api_conforms_to_its_schema(api_schema: schemathesis.BaseSchema, keys: dict) -> None:
    """No 5xx, and every answer matches the documented status codes and schemas."""
    failures: list[str] = []
    for result in api_schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
            derandomize=True,
            phases=[Phase.explicit, Phase.generate],  # no shrinking: keep the run bounded
        )
        def run(case: schemathesis.Case) -> None:
            for role in ("admin", "publisher"):
                case.call_and_validate(headers=keys[role], checks=CHECKS)

        try:
            run()
        except Exception as exc:
            failures.append(f"{operation.label}: {exc}")
    assert not failures, "\n\n".join(failures)
