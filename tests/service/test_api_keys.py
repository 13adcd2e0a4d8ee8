"""HTTP API: settings, health, API keys and roles, offices and signers.

Real app, real SQLite and PostgreSQL, real files in temp dirs.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from support.api_client import (
    MD,
    Api,
    bearer,
    sql,
)

from api.core.settings import DEMO_ADMIN_KEY, Settings
from api.services import records as svc

# --- settings and health ------------------------------------------------------------------


def test_production_refuses_demo_key_and_debug(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="demo admin key"):
        Settings(
            mode="production", data_dir=tmp_path, admin_key=DEMO_ADMIN_KEY, key_secret="s" * 40
        )
    with pytest.raises(ValueError, match="debug"):
        Settings(
            mode="production",
            data_dir=tmp_path,
            admin_key="a" * 30,
            key_secret="s" * 40,
            debug=True,
        )
    with pytest.raises(ValueError, match="KEY_SECRET"):
        Settings(mode="production", data_dir=tmp_path, admin_key="a" * 30)
    safe = {"admin_key": "a" * 30, "key_secret": "s" * 40}
    for local in ("http://127.0.0.1:8000", "https://localhost", "http://[::1]:8000", "x"):
        with pytest.raises(ValueError, match="PUBLIC_BASE_URL"):  # printed in every QR code
            Settings(mode="production", data_dir=tmp_path, public_base_url=local, **safe)
    ok = Settings(
        mode="production", data_dir=tmp_path, public_base_url="https://notary.gov.example", **safe
    )
    assert ok.db_url.startswith("sqlite:///") and ok.max_upload_bytes == 50 * 1024 * 1024


@pytest.mark.parametrize(
    ("field", "value"),
    [("verify_concurrency", v) for v in ["0", "-1", "257", "abc", ""]]
    + [("key_cache_seconds", v) for v in ["-1", "61", "abc", "nan", "inf"]]
    + [("db_wait_seconds", v) for v in ["0", "-1", "301", "abc", "nan", "inf"]]
    + [("db_pool_size", v) for v in ["0", "-1", "1001", "abc", "1.5"]],
)
def test_tuning_settings_out_of_range_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, field: str, value: str
) -> None:
    monkeypatch.setenv(f"NOTARY_{field.upper()}", value)
    with pytest.raises(ValueError, match=field):
        Settings(data_dir=tmp_path)


def test_health_and_ready(api: Api) -> None:
    assert api.c.get("/healthz").json() == {"status": "ok"}
    assert api.c.get("/readyz").status_code == 200


# --- keys and roles -----------------------------------------------------------------------


def test_key_is_shown_once_and_stored_hashed(api: Api) -> None:
    office = api.office()
    listed = api.c.get(f"/api/v1/offices/{office.id}/keys", headers=api.admin).json()
    assert listed and all("key" not in k for k in listed)
    plain = office.publisher["Authorization"].split()[1]
    rows = sql(api, "SELECT key_hash FROM api_keys")
    assert all(plain not in r[0] for r in rows)


def test_a_revocation_waits_for_writes_that_checked_the_key(api: Api) -> None:
    office = api.office()
    key_id = int(office.publisher_key_id)
    revoked: list[int] = []
    with api.c.app.state.db.session() as writes:  # a publish batch, between check and commit
        assert svc.live_keys(writes, [key_id]) == {key_id}
        url = f"/api/v1/offices/{office.id}/keys/{key_id}/revoke"
        revoke = threading.Thread(
            target=lambda: revoked.append(api.c.post(url, headers=api.admin).status_code)
        )
        revoke.start()
        revoke.join(0.5)
        assert revoke.is_alive() and not revoked, "revoked while a write still relied on the key"
        writes.commit()
    revoke.join(10)
    assert revoked == [200]
    assert api.publish(office).status_code == 401


def test_revoked_key_is_refused(api: Api) -> None:
    office = api.office()
    assert api.publish(office).status_code == 201
    r = api.c.post(
        f"/api/v1/offices/{office.id}/keys/{office.publisher_key_id}/revoke", headers=api.admin
    )
    assert r.status_code == 200 and r.json()["revoked_at"]
    assert api.publish(office).status_code == 401


def test_wrong_or_missing_key(api: Api) -> None:
    assert api.c.get("/api/v1/offices").status_code == 401
    assert api.c.get("/api/v1/offices", headers=bearer("nk_000000000000_nope")).status_code == 401
    office = api.office()
    assert api.c.get("/api/v1/offices", headers=office.publisher).status_code == 403
    assert api.c.get("/api/v1/offices", headers=office.auditor).status_code == 403
    r = api.c.post(
        "/api/v1/records",
        files={"file": ("a.txt", b"x", "text/plain")},
        data={"metadata": json.dumps(MD)},
        headers=office.auditor,
    )
    assert r.status_code == 403
    r = api.c.post(
        "/api/v1/records",
        files={"file": ("a.txt", b"x", "text/plain")},
        data={"metadata": json.dumps(MD)},
        headers=api.admin,
    )
    assert r.status_code == 403


def test_suspended_office_cannot_publish(api: Api) -> None:
    office = api.office()
    assert api.c.post(f"/api/v1/offices/{office.id}/suspend", headers=api.admin).status_code == 200
    assert api.publish(office).status_code == 403
    assert api.c.post(f"/api/v1/offices/{office.id}/resume", headers=api.admin).status_code == 200
    assert api.publish(office).status_code == 201


def test_signers_need_a_chain_config(api: Api) -> None:
    office = api.office()
    r = api.c.get(f"/api/v1/offices/{office.id}/signers", headers=api.admin)
    assert r.status_code == 503 and "chain config" in r.json()["detail"]
    assert (
        api.c.get(f"/api/v1/offices/{office.id}/signers", headers=office.publisher).status_code
        == 403
    )
    assert api.c.get(f"/api/v1/offices/{'ab' * 32}/signers", headers=api.admin).status_code == 404


def test_duplicate_office_is_409(api: Api) -> None:
    office = api.office()
    r = api.c.post(
        "/api/v1/offices",
        json={"office_id": office.id, "number": 99, "name": "x"},
        headers=api.admin,
    )
    assert r.status_code == 409
