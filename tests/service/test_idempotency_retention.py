"""Idempotency rows keep no secrets and do not live for ever (SQLite and PostgreSQL).

A certificate issue's answer carries the commitment salt and the holder's data: its row
keeps neither (a replay reads them back from the holder preimage blob), and its request
hash is keyed so it cannot confirm a guess of the holder data. Rows past
`NOTARY_IDEMPOTENCY_TTL_HOURS` are never replayed and are purged by the worker.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from support.api_client import MD, Api, make_settings, sql, valid_resident_id

from api.main import create_app
from api.services import idempotency
from notary.anchoring.worker import (
    IDEMPOTENCY_TTL_ENV,
    Worker,
    WorkerSettings,
    idempotency_ttl_from_env,
)
from notary.chain.config import ChainConfig
from notary.chain.local import free_port
from notary.db import repo
from notary.db.migrate import upgrade
from notary.db.models import ApiKey, IdempotencyKey
from notary.db.session import make_engine, session_factory, unit_of_work
from notary.db.types import KeyRole, utcnow
from notary.errors import InvalidInput

HOLDER = {"name": "张三", "id_number": valid_resident_id(), "licence": "BL-2026-001"}
TTL_HOURS = 2.0


@pytest.fixture
def api(db_url: str, tmp_path: Path):
    settings = make_settings(db_url, tmp_path / "data", idempotency_ttl_hours=TTL_HOURS)
    with TestClient(create_app(settings)) as client:
        yield Api(client, settings)


def _issue(api: Api, office, key: str, holder: dict | None = None):
    return api.c.post(
        "/api/v1/certificates",
        data={
            "holder": json.dumps(holder or HOLDER, ensure_ascii=False),
            "metadata": json.dumps({**MD, "title": "营业执照 Business licence"}),
        },
        headers={**office.publisher, "Idempotency-Key": key},
    )


def _age(api: Api, key: str, hours: float) -> None:
    """Make the row of `key` look `hours` old."""
    engine = make_engine(api.settings.db_url)
    try:
        with unit_of_work(session_factory(engine)) as s:
            row = s.scalars(select(IdempotencyKey).where(IdempotencyKey.key == key)).one()
            row.created_at = utcnow() - dt.timedelta(hours=hours)
    finally:
        engine.dispose()


def test_a_certificate_answer_is_stored_without_salt_or_holder_and_replayed_whole(
    api: Api,
) -> None:
    office = api.office()
    first = _issue(api, office, "cert-1")
    assert first.status_code == 201, first.text
    issued = first.json()
    [(stored,)] = sql(api, "SELECT response_json FROM idempotency_keys WHERE key = 'cert-1'")
    text = stored if isinstance(stored, str) else json.dumps(stored, ensure_ascii=False)
    for secret in (issued["salt"], HOLDER["id_number"], HOLDER["name"], HOLDER["licence"]):
        assert secret not in text
    assert not {"salt", "holder"} & set(json.loads(text))
    again = _issue(api, office, "cert-1")
    assert again.status_code == 201 and again.headers["Idempotent-Replay"] == "true"
    assert again.json() == issued  # the same salt and holder, read back from the blob


def test_the_stored_request_hash_cannot_confirm_a_guess_of_the_holder(api: Api) -> None:
    office = api.office()
    assert _issue(api, office, "cert-2").status_code == 201
    [(stored_hash,)] = sql(api, "SELECT request_hash FROM idempotency_keys WHERE key = 'cert-2'")
    client = {**MD, "title": "营业执照 Business licence"}
    guess = {"holder": HOLDER, "metadata": client, "from": "None", "until": "None", "file": None}
    assert stored_hash != idempotency.request_hash("POST", "/certificates", guess)
    other = _issue(api, office, "cert-2", holder={**HOLDER, "name": "李四"})
    assert other.status_code == 409  # a different holder with the same key is still caught


def test_an_expired_publish_key_is_not_replayed_and_can_be_used_again(api: Api) -> None:
    office = api.office()
    key = {"Idempotency-Key": "pub-1"}
    first = api.published(office, b"first release", headers=key)
    assert api.publish(office, b"second release", headers=key).status_code == 409
    _age(api, "pub-1", TTL_HOURS + 0.1)
    again = api.publish(office, b"second release", headers=key)
    assert again.status_code == 201, again.text
    assert "Idempotent-Replay" not in again.headers and again.json()["id"] != first["id"]
    assert sql(api, "SELECT count(*) FROM idempotency_keys WHERE key = 'pub-1'") == [(1,)]


def test_an_expired_certificate_key_issues_anew(api: Api) -> None:
    office = api.office()
    first = _issue(api, office, "cert-3").json()
    _age(api, "cert-3", TTL_HOURS - 0.5)  # still within the TTL: replayed
    assert _issue(api, office, "cert-3").headers.get("Idempotent-Replay") == "true"
    _age(api, "cert-3", TTL_HOURS + 0.5)
    again = _issue(api, office, "cert-3")
    assert again.status_code == 201 and "Idempotent-Replay" not in again.headers
    assert again.json()["record"]["id"] != first["record"]["id"]


@pytest.mark.parametrize("value", ["0", "-1", "8785", "abc", "nan", "inf"])
def test_a_ttl_out_of_range_is_refused_by_api_and_worker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv(IDEMPOTENCY_TTL_ENV, value)
    with pytest.raises(ValueError, match="idempotency_ttl_hours"):
        make_settings("sqlite://", tmp_path)
    with pytest.raises(InvalidInput, match=IDEMPOTENCY_TTL_ENV):
        idempotency_ttl_from_env()


def test_the_worker_reads_the_same_ttl(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(IDEMPOTENCY_TTL_ENV, raising=False)
    assert idempotency_ttl_from_env() == 24 * 3600
    monkeypatch.setenv(IDEMPOTENCY_TTL_ENV, "1.5")
    assert idempotency_ttl_from_env() == 5400


def _worker(url: str, **overrides: object) -> Worker:
    dead_chain = ChainConfig.load(None).replace(rpc_url=f"http://127.0.0.1:{free_port()}")
    settings = WorkerSettings(url, dead_chain, (), idempotency_ttl_s=TTL_HOURS * 3600)
    return Worker(WorkerSettings(**{**settings.__dict__, **overrides}))


def _keys(api: Api) -> set[str]:
    return {r[0] for r in sql(api, "SELECT key FROM idempotency_keys")}


def test_the_worker_purges_expired_rows_in_batches(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    office = api.office()
    for n in range(5):
        api.published(office, f"release {n}".encode(), headers={"Idempotency-Key": f"k{n}"})
    for n in range(4):
        _age(api, f"k{n}", TTL_HOURS + 1 + n)
    monkeypatch.setattr(repo, "PURGE_BATCH", 3)  # 4 expired rows: two batches
    worker = _worker(api.settings.db_url)
    try:
        assert worker.purge_expired_idempotency_keys() == 4
        assert worker.purge_expired_idempotency_keys() == 0
    finally:
        worker.close()
    assert _keys(api) == {"k4"}


def test_the_worker_loop_purges_even_while_the_chain_is_down(api: Api) -> None:
    office = api.office()
    api.published(office, b"old", headers={"Idempotency-Key": "old"})
    api.published(office, b"new", headers={"Idempotency-Key": "new"})
    _age(api, "old", TTL_HOURS + 1)
    worker, stop = _worker(api.settings.db_url, max_backoff=0.2), threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,))
    thread.start()
    try:
        for _ in range(100):
            if _keys(api) == {"new"}:
                break
            stop.wait(0.05)
    finally:
        stop.set()
        thread.join(timeout=10)
        worker.close()
    assert _keys(api) == {"new"}


def test_the_migration_strips_stored_certificate_answers(empty_db_url: str) -> None:
    upgrade(empty_db_url, "0001")
    record, salt = {"id": "ab" * 32}, "5a" * 32
    issued = {"record": record, "salt": salt, "holder": HOLDER, "document_url": "/x"}
    published = {"id": "cd" * 32, "title": "has a salt in its title: 'salt'"}
    engine = make_engine(empty_db_url)
    try:
        with unit_of_work(session_factory(engine)) as s:
            admin = ApiKey(role=KeyRole.ADMIN, prefix="p", key_hash="00" * 32)
            s.add(admin)
            s.flush()
            for key, body in (("cert", issued), ("pub", published), ("none", None)):
                s.add(
                    IdempotencyKey(
                        api_key_id=admin.id,
                        key=key,
                        request_hash="11" * 32,
                        status_code=201,
                        response_json=body,
                    )
                )
        upgrade(empty_db_url)
        with unit_of_work(session_factory(engine)) as s:
            rows = dict(s.execute(select(IdempotencyKey.key, IdempotencyKey.response_json)).all())
            assert s.scalar(select(func.count()).select_from(IdempotencyKey)) == 3
    finally:
        engine.dispose()
    assert rows == {
        "cert": {"record": record, "document_url": "/x"},
        "pub": published,
        "none": None,
    }
