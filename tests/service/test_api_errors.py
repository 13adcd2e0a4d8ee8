"""HTTP API: bad input and limits (sizes, types, unknown ids, metadata, connections), the PII guard.

Real app, real SQLite and PostgreSQL, real files in temp dirs.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.exc import TimeoutError as PoolTimeout
from support.api_client import (
    MD,
    Api,
    make_settings,
    sql,
    valid_resident_id,
)

from api.main import create_app
from notary.db.session import SQLITE_POOL_SIZE

# --- error paths --------------------------------------------------------------------------


def test_upload_over_limit_is_413(db_url: str, tmp_path: Path) -> None:
    settings = make_settings(db_url, tmp_path / "data", max_upload_bytes=1000)
    with TestClient(create_app(settings)) as client:
        api = Api(client, settings)
        office = api.office()
        assert api.publish(office, b"x" * 1000).status_code == 201
        r = api.publish(office, b"y" * 1001)
        assert r.status_code == 413 and "limit" in r.json()["detail"]
        huge = api.publish(office, b"z" * 400_000)
        assert huge.status_code == 413 and "detail" in huge.json()
        assert sql(api, "SELECT count(*) FROM records")[0][0] == 1


def test_declared_length_over_limit_is_refused_before_reading(api: Api) -> None:
    office = api.office()
    limit = api.settings.max_upload_bytes

    def body():  # a generator: the server must answer before consuming it
        yield b"--x\r\n"
        raise AssertionError("body was read")

    r = api.c.post(
        "/api/v1/records",
        content=body(),
        headers={
            **office.publisher,
            "Content-Type": "multipart/form-data; boundary=x",
            "Content-Length": str(limit * 2),
        },
    )
    assert r.status_code == 413


def test_wrong_content_type_is_415(api: Api) -> None:
    office = api.office()
    assert api.publish(office, b"\x89PNG....", ctype="image/png").status_code == 415
    assert api.publish(office, b"not a pdf", ctype="application/pdf").status_code == 415


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/records/" + "ab" * 32,
        "/api/v1/records/not-an-id",
        "/api/v1/records/" + "ab" * 32 + "/history",
        "/api/v1/files/" + "cd" * 32,
        "/api/v1/files/xyz",
        "/api/v1/receipts/987654",
        "/api/v1/certificates/" + "ab" * 32,
    ],
)
def test_unknown_ids_are_404(api: Api, path: str) -> None:
    r = api.c.get(path)
    assert r.status_code == 404 and "detail" in r.json()


def test_bad_metadata_is_400_and_changes_nothing(api: Api) -> None:
    office = api.office()
    assert api.publish(office, md={**MD, "publication_date": "2026-13-40"}).status_code == 400
    assert api.publish(office, md={**MD, "bogus": 1}).status_code == 400
    r = api.c.post(
        "/api/v1/records",
        files={"file": ("a.txt", b"x", "text/plain")},
        data={"metadata": "{not json"},
        headers=office.publisher,
    )
    assert r.status_code == 400
    assert sql(api, "SELECT count(*) FROM records")[0][0] == 0


# --- PII guard ----------------------------------------------------------------------------


def test_pii_blocks_with_masked_previews(api: Api) -> None:
    office = api.office()
    rid = valid_resident_id()
    r = api.publish(office, f"联系人身份证号 {rid}。".encode())
    assert r.status_code == 422
    body = r.json()
    assert body["findings"] and body["findings"][0]["kind"] == "id_card"
    assert rid not in r.text and "*" in body["findings"][0]["masked_preview"]
    assert sql(api, "SELECT count(*) FROM records")[0][0] == 0


def test_pii_invalid_check_digit_is_not_blocked(api: Api) -> None:
    office = api.office()
    good = valid_resident_id()
    bad = good[:-1] + ("0" if good[-1] != "0" else "1")
    assert api.publish(office, f"编号 {bad}".encode()).status_code == 201


def test_pii_mask_publishes_masked_bytes(api: Api) -> None:
    office = api.office()
    rid = valid_resident_id()
    original = f"联系人身份证号 {rid}。".encode()
    r = api.publish(office, original, mask="true")
    assert r.status_code == 201, r.text
    stored = api.c.get(f"/api/v1/files/{r.json()['current']['content_hash']}").content
    assert (
        rid.encode() not in stored
        and hashlib.sha256(stored).hexdigest() == r.json()["current"]["content_hash"]
    )
    assert r.json()["current"]["content_hash"] != hashlib.sha256(original).hexdigest()


def test_pii_override_is_recorded(api: Api) -> None:
    office = api.office()
    r = api.publish(
        office,
        f"持卡人 {valid_resident_id()}".encode(),
        pii_override_reason="court order 2026-17 requires the full number",
    )
    assert r.status_code == 201, r.text
    rows = sql(api, "SELECT reason, findings FROM pii_overrides")
    assert len(rows) == 1 and rows[0][0].startswith("court order")


def test_streamed_body_over_limit_is_413_without_content_length(
    db_url: str, tmp_path: Path
) -> None:
    settings = make_settings(db_url, tmp_path / "data", max_upload_bytes=1000)
    with TestClient(create_app(settings)) as client:
        api = Api(client, settings)
        office = api.office()

        def chunks():
            yield b'--x\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\n'
            yield b"Content-Type: text/plain\r\n\r\n"
            for _ in range(200):
                yield b"a" * 1024

        r = client.post(
            "/api/v1/records",
            content=chunks(),
            headers={**office.publisher, "Content-Type": "multipart/form-data; boundary=x"},
        )
        assert r.status_code == 413 and "detail" in r.json()


def test_no_free_database_connection_is_a_503_not_a_500(db_url: str, tmp_path: Path) -> None:
    settings = make_settings(db_url, tmp_path / "data", db_wait_seconds=0.2, db_pool_size=3)
    with TestClient(create_app(settings)) as client:
        engine = client.app.state.db.engine
        held = []
        try:
            while True:  # every connection the app's pool may hand out, busy
                held.append(engine.connect())
        except PoolTimeout:
            pass
        # PostgreSQL: the configured bound, no overflow. SQLite: one per request thread.
        assert len(held) == (SQLITE_POOL_SIZE if db_url.startswith("sqlite") else 3)
        try:
            r = client.get("/api/v1/records")
            assert r.status_code == 503, r.text
            assert "no connection" in r.json()["detail"]
        finally:
            for conn in held:
                conn.close()
        assert client.get("/api/v1/records").status_code == 200
