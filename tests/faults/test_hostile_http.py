"""Hostile input at the HTTP doors (docs/design.md, "What must always hold" 5).

A corpus of malformed input is thrown at the HTTP API (uploads, metadata, holder data,
paths, search, receipts), the citizen's verify pages (`/v/…`, `/verify`), the `notary` CLI
and the `verifier` CLI. Every case must get a clear client error (a 4xx with a JSON
`detail`, an HTML page for the verify pages, or a non-zero CLI exit without a traceback),
never a 5xx, and must change nothing: every table's row count stays the same (the access
log, which records refused attempts, may only grow), no blob appears on disk, and no
transaction reaches the chain.

The HTTP app is built once per database (SQLite and PostgreSQL) for the whole module;
each case compares the state before and after itself, so the cases stay independent.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from support import db_fixtures
from support.api_client import Api, make_settings
from support.hostile_corpus import (
    CASES,
    JSON,
    PDF,
    SEARCHES,
    UPLOAD_LIMIT,
    Ctx,
    assert_client_error,
    assert_unchanged,
    state,
)

from api.main import create_app
from notary.chain.local import LocalChain
from verifier.trust import TrustList

# --- the app, built once per database -------------------------------------------------------


@pytest.fixture(scope="module", params=db_fixtures.DATABASES)
def hostile(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    anvil: LocalChain,
    registry_deployment: Any,
) -> Iterator[Ctx]:
    """The API on a migrated database with one office, a public and a restricted record,
    and a verify trust list naming the session's registry on anvil."""
    data_dir = tmp_path_factory.mktemp(f"hostile-{request.param}")
    if request.param == "sqlite":
        url = f"sqlite:///{data_dir / 'notary.sqlite3'}"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), data_dir / "notary.sqlite3")
    else:
        url = db_fixtures.pg_url(request.getfixturevalue("pg_database"))
        db_fixtures.pg_reset(url)
    settings = make_settings(url, data_dir / "data", max_upload_bytes=UPLOAD_LIMIT)
    app = create_app(settings)
    app.state.verify_trust = TrustList.single(
        chain_id=anvil.chain_id,
        registry=registry_deployment.address,
        name="hostile test chain",
        rpc_url=anvil.url,
    )
    with TestClient(app, raise_server_exceptions=False) as client:
        api = Api(client, settings)
        office = api.office()
        public = api.published(office, PDF, ctype="application/pdf")
        restricted = api.published(office, b"restricted release", tier="restricted")
        yield Ctx(api, office, public["id"], restricted["current"]["content_hash"])


# --- the HTTP tests -----------------------------------------------------------------------


@pytest.mark.parametrize("case", list(CASES))
def test_http_hostile_input_is_refused_and_changes_nothing(
    case: str, hostile: Ctx, anvil: LocalChain
) -> None:
    send, kind = CASES[case]
    before = state(hostile, anvil)
    response = send(hostile)
    assert_client_error(response, kind)
    assert_unchanged(before, state(hostile, anvil))


@pytest.mark.parametrize("case", list(SEARCHES))
def test_sql_metacharacters_in_search_match_literally(
    case: str, hostile: Ctx, anvil: LocalChain
) -> None:
    before = state(hostile, anvil)
    r = hostile.c.get("/api/v1/records", params={"q": SEARCHES[case]})
    office = hostile.c.get("/api/v1/records", params={"office": SEARCHES[case]})
    category = hostile.c.get("/api/v1/records", params={"category": SEARCHES[case]})
    for other in (office, category):
        assert other.status_code == 200 or 400 <= other.status_code < 500, other.text
    if r.status_code != 200:  # refusing a character outright is fine too, but cleanly
        assert_client_error(r, JSON)
    else:
        assert r.json()["total"] == 0 and r.json()["items"] == [], r.json()
    assert_unchanged(before, state(hostile, anvil))


def test_search_still_finds_real_titles(hostile: Ctx) -> None:
    """The escaping above does not break plain search (a control for the corpus)."""
    r = hostile.c.get("/api/v1/records", params={"q": "budget"})
    assert r.status_code == 200 and r.json()["total"] >= 1
