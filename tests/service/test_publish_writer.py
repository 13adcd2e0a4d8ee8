"""Group-committed publishing and the verified-key cache, on SQLite and PostgreSQL.

The writer is driven for real: jobs queue while a second connection holds the lock the
writer needs (SQLite's write lock, or the office row on PostgreSQL), so the batches they
form are known, not left to timing.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from support.api_client import (
    ADMIN_KEY,
    MD,
    Api,
    make_settings,
    sql,
)

from api.core.deps import Caller
from api.core.errors import Forbidden, Unauthenticated
from api.core.security import hash_key
from api.main import create_app
from api.services.idempotency import Answer
from api.services.pii_guard import Guarded
from api.services.publish_writer import PublishWriter
from api.services.publishing import Draft, Job, publish_batch
from api.services.records import NewContent
from notary.db.types import AccessTier, KeyRole
from notary.errors import Conflict, Unavailable
from notary.storage.blobstore import InvalidBlobName


@pytest.fixture
def api(db_url: str, tmp_path: Path) -> Iterator[Api]:
    settings = make_settings(db_url, tmp_path / "data")
    with TestClient(create_app(settings)) as client:
        yield Api(client, settings)


def caller_of(api: Api, office) -> Caller:
    """The publisher `Caller` the API would build for this office's key."""
    (office_pk,) = sql(api, "SELECT id FROM offices WHERE office_id = :o", o=office.id)[0]
    return Caller(int(office.publisher_key_id), KeyRole.PUBLISHER, office_pk)


def job(caller: Caller, text_: str, *, key: str | None = None, sha: str | None = None) -> Job:
    data = text_.encode()
    content = NewContent(
        guarded=Guarded(data=data, masked=False, overridden_findings=None),
        content_type="text/plain",
        sha256=sha or hashlib.sha256(data).hexdigest(),
        sm3=hashlib.new("sm3", data).hexdigest(),
    )
    draft = Draft(caller, content, dict(MD), AccessTier.PUBLIC)
    return Job(draft, key, hashlib.sha256(data).hexdigest())


@contextmanager
def writer_blocked(api: Api, office_pk: int) -> Iterator[threading.Event]:
    """Hold what the writer's next transaction needs until the yielded event is set."""
    url = api.settings.db_url.replace("postgresql://", "postgresql+psycopg://")
    engine = create_engine(url)
    release, held = threading.Event(), threading.Event()

    def hold() -> None:
        with engine.connect() as conn:
            if engine.dialect.name == "sqlite":
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            else:
                conn.execute(
                    text("SELECT 1 FROM offices WHERE id = :i FOR UPDATE"), {"i": office_pk}
                )
            held.set()
            release.wait(30)
            conn.rollback()

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait(10)
    try:
        yield release
    finally:
        release.set()
        holder.join()
        engine.dispose()


def run_batched(api: Api, jobs: list[Job]) -> tuple[list[Answer | BaseException], PublishWriter]:
    """Submit `jobs[0]`, then the rest while the writer waits: they form one batch."""
    writer = PublishWriter(api.c.app.state.db)
    office_pk = jobs[0].draft.caller.office_pk

    async def scenario() -> list[Answer | BaseException]:
        with writer_blocked(api, office_pk) as release:
            first = asyncio.ensure_future(writer.submit(jobs[0]))
            await asyncio.sleep(0.3)  # the writer took it and now waits for the lock
            rest = [asyncio.ensure_future(writer.submit(j)) for j in jobs[1:]]
            await asyncio.sleep(0.1)
            release.set()
            return await asyncio.gather(first, *rest, return_exceptions=True)

    try:
        return asyncio.run(scenario()), writer
    finally:
        writer.close()


def test_queued_publishes_share_one_commit(api: Api) -> None:
    office = api.office()
    me = caller_of(api, office)
    results, writer = run_batched(api, [job(me, f"release {i}") for i in range(12)])
    assert all(isinstance(r, Answer) and r.status == 201 for r in results), results
    assert len({r.body["id"] for r in results}) == 12
    assert writer.commits == 2 and writer.published == 12  # the first alone, then 11 together
    for r in results:
        got = api.c.get(f"/api/v1/records/{r.body['id']}", headers=office.auditor).json()
        assert got["current"]["id"] == r.body["current"]["id"]
        assert got["current"]["content_hash"] == r.body["current"]["content_hash"]
    check = api.c.get("/api/v1/access-log/verify", headers=office.auditor).json()
    assert check["ok"] is True
    log = api.c.get("/api/v1/access-log?limit=500", headers=office.auditor).json()
    published = [e for e in log["items"] if e["action"] == "publish"]
    assert sorted(e["record_id"] for e in published) == sorted(r.body["id"] for r in results)


def test_a_bad_job_costs_its_batch_a_retry_not_an_answer(api: Api) -> None:
    office = api.office()
    me = caller_of(api, office)
    jobs = [job(me, f"release {i}") for i in range(6)]
    jobs.insert(3, job(me, "broken", sha="not-a-sha256"))
    results, writer = run_batched(api, jobs)
    assert isinstance(results[3], InvalidBlobName)
    good = [r for i, r in enumerate(results) if i != 3]
    assert all(isinstance(r, Answer) and r.status == 201 for r in good), results
    # The first job alone; then the batch of six failed as a whole and its five good jobs
    # were redone one per transaction.
    assert writer.commits == 1 + 5 and writer.published == 6
    total = sql(api, "SELECT count(*) FROM records")[0][0]
    assert total == 6


def test_idempotency_keys_within_and_across_batches(api: Api) -> None:
    office = api.office()
    me = caller_of(api, office)
    first = job(me, "same request", key="k-1")
    other = job(me, "another request", key="k-1")
    results, _ = run_batched(api, [job(me, "warm-up"), first, first, other])
    made, again, clash = results[1:]
    assert isinstance(made, Answer) and made.status == 201 and not made.replayed
    assert isinstance(again, Answer) and again.replayed and again.body == made.body
    assert isinstance(clash, Conflict)
    # A later batch finds the stored answer.
    with api.c.app.state.db.session() as session:
        (later,) = publish_batch(session, [first])
        session.commit()
    assert isinstance(later, Answer) and later.replayed and later.body == made.body
    assert sql(api, "SELECT count(*) FROM records")[0][0] == 2


def test_refusals_inside_a_batch_touch_only_their_job(api: Api) -> None:
    a, b, c = api.office(), api.office(), api.office()
    ca, cb, cc = caller_of(api, a), caller_of(api, b), caller_of(api, c)
    r = api.c.post(f"/api/v1/offices/{b.id}/keys/{b.publisher_key_id}/revoke", headers=api.admin)
    assert r.status_code == 200
    assert api.c.post(f"/api/v1/offices/{c.id}/suspend", headers=api.admin).status_code == 200
    auditor = Caller(ca.key_id, KeyRole.AUDITOR, ca.office_pk)
    with api.c.app.state.db.session() as session:
        results = publish_batch(
            session,
            [job(ca, "fine"), job(cb, "revoked"), job(cc, "suspended"), job(auditor, "role")],
        )
        session.commit()
    assert isinstance(results[0], Answer) and results[0].status == 201
    assert isinstance(results[1], Unauthenticated)
    assert isinstance(results[2], Forbidden) and "suspended" in str(results[2])
    assert isinstance(results[3], Forbidden) and "publisher" in str(results[3])
    assert sql(api, "SELECT count(*) FROM records")[0][0] == 1


def test_a_closed_writer_refuses_new_jobs(api: Api) -> None:
    office = api.office()
    writer = PublishWriter(api.c.app.state.db)
    writer.close()
    with pytest.raises(Unavailable):
        asyncio.run(writer.submit(job(caller_of(api, office), "late")))


def test_closing_answers_every_queued_job_then_refuses(api: Api) -> None:
    office = api.office()
    me = caller_of(api, office)
    writer = PublishWriter(api.c.app.state.db)

    async def scenario() -> list[Answer | BaseException]:
        with writer_blocked(api, me.office_pk) as release:
            queued = [asyncio.ensure_future(writer.submit(job(me, f"r{i}"))) for i in range(5)]
            await asyncio.sleep(0.3)  # both stages hold work: one batch waits for the lock
            closing = threading.Thread(target=writer.close)
            closing.start()
            await asyncio.sleep(0.1)
            with pytest.raises(Unavailable):
                await writer.submit(job(me, "after close"))
            release.set()
            results = await asyncio.gather(*queued, return_exceptions=True)
            await asyncio.to_thread(closing.join, 30)
            assert not closing.is_alive()
            return results

    results = asyncio.run(scenario())
    assert all(isinstance(r, Answer) and r.status == 201 for r in results), results
    assert writer.published == 5
    assert sql(api, "SELECT count(*) FROM records")[0][0] == 5


def test_concurrent_http_publishes_and_one_idempotency_key(api: Api) -> None:
    office = api.office()
    results: list = [None] * 24
    start = threading.Barrier(24)

    def client(i: int) -> None:
        start.wait()
        headers = {"Idempotency-Key": "shared"} if i < 6 else None
        data = b"the shared release" if i < 6 else f"release {i}".encode()
        results[i] = api.publish(office, data, headers=headers)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(24)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(r.status_code == 201 for r in results), [r.text for r in results]
    shared = {r.json()["id"] for r in results[:6]}
    assert len(shared) == 1
    assert sum(r.headers.get("Idempotent-Replay") == "true" for r in results[:6]) == 5
    assert len({r.json()["id"] for r in results[6:]} | shared) == 19
    assert sql(api, "SELECT count(*) FROM records")[0][0] == 19
    check = api.c.get("/api/v1/access-log/verify", headers=office.auditor).json()
    assert check["ok"] is True and check["entries"] >= 19


def test_a_key_revoked_by_another_process_cannot_write(db_url: str, tmp_path: Path) -> None:
    """Process A trusts its cached verdict for reads, never for writes."""
    slow = make_settings(db_url, tmp_path / "data", key_cache_seconds=60)
    with (
        TestClient(create_app(slow)) as a_client,
        TestClient(create_app(make_settings(db_url, tmp_path / "data"))) as b_client,
        TestClient(
            create_app(make_settings(db_url, tmp_path / "data", key_cache_seconds=0))
        ) as c_client,
    ):
        a, b, c = Api(a_client, slow), Api(b_client, slow), Api(c_client, slow)
        office = b.office()
        record = a.published(office)  # A has now verified (and cached) the key
        url = f"/api/v1/offices/{office.id}/keys/{office.publisher_key_id}/revoke"
        assert b.c.post(url, headers=b.admin).status_code == 200
        read = f"/api/v1/records/{record['id']}"
        assert a.c.get(read, headers=office.publisher).status_code == 200  # cached, ≤ 60 s
        assert c.c.get(read, headers=office.publisher).status_code == 401  # no cache
        assert a.publish(office, b"after revocation").status_code == 401
        r = a.c.post(
            f"/api/v1/records/{record['id']}/revoke",
            json={"reason": "withdrawn"},
            headers=office.publisher,
        )
        assert r.status_code == 401
        r = a.c.post(
            f"/api/v1/records/{record['id']}/revisions",
            data={"change_note": "x", "metadata": json.dumps({"title": "New"})},
            headers=office.publisher,
        )
        assert r.status_code == 401
        r = a.c.post(
            "/api/v1/certificates",
            data={"holder": json.dumps({"name": "x"}), "metadata": json.dumps(MD)},
            files={"file": ("c.xml", b"<certificate/>", "application/xml")},
            headers=office.publisher,
        )
        assert r.status_code == 401, r.text
        assert b.c.get(read, headers=office.auditor).json()["status"] == "current"
        # Admin keys (governance writes re-check nothing) are never cached.
        assert a.c.get("/api/v1/offices", headers=a.admin).status_code == 200
        cache, secret = a.c.app.state.key_cache, slow.key_secret
        assert cache.get(hash_key(ADMIN_KEY, secret)) is None
        assert cache.get(hash_key(office.publisher["Authorization"][7:], secret)) is not None


@pytest.mark.parametrize("key", ["", "x" * 201, "tab\there"])
def test_a_bad_idempotency_key_is_refused_before_anything_is_stored(api: Api, key: str) -> None:
    office = api.office()
    r = api.publish(office, b"release with a bad key", headers={"Idempotency-Key": key})
    assert r.status_code in (400, 422) and "Idempotency-Key" in r.text, r.text
    assert sql(api, "SELECT count(*) FROM records")[0][0] == 0
    blobs_dir = api.settings.blobs
    stored = [p for p in blobs_dir.rglob("*") if p.is_file()] if blobs_dir.exists() else []
    assert stored == []
