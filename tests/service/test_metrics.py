"""`/metrics`: queue depth, anchoring lag, anchor failures, and
responses by status class, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select
from support.api_client import Api, make_settings

from api.main import create_app
from notary.db.models import Revision
from notary.db.types import AnchorState

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]

boom = APIRouter()


@boom.get("/boom")
def _boom() -> None:
    """A route that fails unexpectedly (the 5xx path of the response counter)."""
    raise RuntimeError("boom")


@pytest.fixture
def api(db_url: str, tmp_path: Path) -> Iterator[Api]:
    """The app (with a failing `/boom` route) on a fresh database, and a small upload limit."""
    settings = make_settings(db_url, tmp_path / "data", max_upload_bytes=1024)
    app = create_app(settings, extra_routers=[boom])
    app.state.metrics_read_every_s = 0.0  # every scrape reads the database
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Api(client, settings)


def scrape(api: Api) -> Samples:
    """Every sample of `/metrics`, keyed by name and sorted labels."""
    r = api.c.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(r.text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


def responses(samples: Samples, cls: str) -> float:
    return value(samples, "notary_http_responses_total", status_class=cls)


def test_empty_queue(api: Api) -> None:
    m = scrape(api)
    assert value(m, "notary_metrics_database_up") == 1
    assert value(m, "notary_anchor_queue_depth") == 0
    assert value(m, "notary_anchor_oldest_pending_age_seconds") == 0
    assert ("notary_anchor_last_anchored_age_seconds", ()) not in m  # nothing anchored yet
    for kind in ("revision", "revocation", "replacement"):
        assert value(m, "notary_anchor_failed", kind=kind) == 0
    assert value(m, "notary_anchor_txs", state="failed") == 0


def test_queue_depth_lag_and_failures_follow_the_database(api: Api) -> None:
    office = api.office()
    ids = [api.published(office, f"release {i}".encode())["id"] for i in range(3)]
    m = scrape(api)
    assert value(m, "notary_anchor_queue_depth") == 3
    assert value(m, "notary_revisions", state="pending") == 3
    assert 0 <= value(m, "notary_anchor_oldest_pending_age_seconds") < 600

    now = dt.datetime.now(dt.UTC)
    with api.c.app.state.db.session() as s:
        revs = {r.record_id: r for r in s.scalars(select(Revision))}
        old, anchored, failed = (revs[i] for i in ids)
        old.accepted_at = now - dt.timedelta(hours=1)  # an hour in the queue
        anchored.anchor_state = AnchorState.ANCHORED
        anchored.tx_hash, anchored.leaf, anchored.block_number = "aa" * 32, "bb" * 32, 7
        anchored.anchored_at = now - dt.timedelta(seconds=90)
        failed.anchor_state = AnchorState.FAILED
        failed.anchor_error = "execution reverted: VersionSkipped"
        s.commit()

    m = scrape(api)
    assert value(m, "notary_anchor_queue_depth") == 1
    assert value(m, "notary_revisions", state="anchored") == 1
    assert value(m, "notary_anchor_failed", kind="revision") == 1
    assert value(m, "notary_anchor_errors") == 1
    assert 3600 <= value(m, "notary_anchor_oldest_pending_age_seconds") < 3600 + 600
    assert 90 <= value(m, "notary_anchor_last_anchored_age_seconds") < 90 + 600


def test_responses_are_counted_by_status_class(api: Api) -> None:
    before = scrape(api)  # this scrape's own 200 is counted after its body was built
    assert api.c.get("/healthz").status_code == 200
    assert api.c.get("/api/v1/records/" + "ab" * 32).status_code == 404
    assert api.c.get("/api/v1/offices").status_code == 401
    big = api.c.post("/verify", files={"file": ("f", b"x" * 200_000, "image/png")})
    assert big.status_code == 413  # refused by the body limit, still counted
    assert api.c.get("/boom").status_code == 500
    after = scrape(api)
    assert responses(after, "2xx") - responses(before, "2xx") == 2  # /healthz + the scrape
    assert responses(after, "4xx") - responses(before, "4xx") == 3
    assert responses(after, "5xx") - responses(before, "5xx") == 1
    assert responses(after, "3xx") == responses(after, "1xx") == 0


def test_publish_writer_commits_and_jobs_are_counted(api: Api) -> None:
    office = api.office()
    before = scrape(api)
    for i in range(3):
        assert api.publish(office, f"release {i}".encode()).status_code == 201
    after = scrape(api)
    jobs = value(after, "notary_publish_jobs_total") - value(before, "notary_publish_jobs_total")
    commits = value(after, "notary_publish_commits_total") - value(
        before, "notary_publish_commits_total"
    )
    assert jobs == 3 and commits == 3  # one at a time: each its own commit


def test_each_app_has_its_own_registry(api: Api, tmp_path: Path) -> None:
    other = create_app(make_settings(api.settings.db_url, tmp_path / "other"))
    with TestClient(other) as client:
        for _ in range(3):
            client.get("/healthz")
        text = client.get("/metrics").text
    assert 'notary_http_responses_total{status_class="2xx"} 3.0' in text
    assert other.state.metrics_registry is not api.c.app.state.metrics_registry
    assert responses(scrape(api), "2xx") == 0  # none of the other app's requests


def test_scrape_answers_when_the_database_does_not(api: Api) -> None:
    db = api.c.app.state.db
    sessions, db._sessions = db._sessions, None  # as if the database were gone
    try:
        m = scrape(api)
    finally:
        db._sessions = sessions
    assert value(m, "notary_metrics_database_up") == 0
    assert ("notary_anchor_queue_depth", ()) not in m


def test_scrapes_in_quick_succession_share_one_database_read(api: Api) -> None:
    # `/metrics` needs no key: without a bound, each scrape ran the full counts again.
    from api.routers.metrics import AnchorCollector

    def depth(collector: AnchorCollector) -> float:
        for family in collector.collect():
            if family.name == "notary_anchor_queue_depth":
                return family.samples[0].value
        raise AssertionError("no queue depth gauge")

    cached = AnchorCollector(api.c.app, read_every_s=3600)
    before = depth(cached)
    api.published(api.office())
    assert depth(cached) == before  # within the interval: the last reading
    assert depth(AnchorCollector(api.c.app, read_every_s=0)) == before + 1
