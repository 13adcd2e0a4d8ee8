"""The API door refuses what the chain or the leaf encoder would refuse, and free text that
could mislead a reader, with a 4xx naming the field (real app, SQLite and PostgreSQL)."""

from __future__ import annotations

import json

import pytest
import test_api
from test_api import MD, Api, sql

# The API suite's fixtures (a module-level name is how pytest finds them).
api = test_api.api
db_url = test_api.db_url
pg_database = test_api.pg_database
sqlite_template = test_api.sqlite_template

HOLDER = json.dumps({"name": "Zhang San"})


def _issue(api: Api, office, *, holder: str = HOLDER, md: dict | None = None, **form: str):
    return api.c.post(
        "/api/v1/certificates",
        data={"holder": holder, "metadata": json.dumps(md or MD), **form},
        headers=office.publisher,
    )


def _count(api: Api, table: str) -> int:
    return sql(api, f"SELECT count(*) FROM {table}")[0][0]


@pytest.mark.parametrize(
    "valid_until",
    [
        "1969-12-31T23:59:59Z",
        "1900-01-01T00:00:00Z",
        "0001-01-01T00:00:00Z",
        "1970-01-01T00:00:00Z",  # would be anchored as "no end"
        "1970-01-01T00:00:00.500Z",  # whole seconds: the same as the epoch
        "1970-01-01T08:00:00+08:00",  # the epoch in Beijing time
    ],
)
def test_certificate_validity_end_at_or_before_the_epoch_is_refused(
    api: Api, valid_until: str
) -> None:
    office = api.office()
    r = _issue(api, office, valid_until=valid_until)
    assert r.status_code == 400, r.text
    assert "valid_until must be after 1970-01-01T00:00:00Z" in r.json()["detail"]
    assert _count(api, "records") == 0 and _count(api, "revisions") == 0


def test_certificate_validity_end_just_after_the_epoch_is_accepted(api: Api) -> None:
    office = api.office()
    r = _issue(api, office, valid_until="1970-01-01T00:00:01Z")
    assert r.status_code == 201, r.text
    assert r.json()["valid_until"].startswith("1970-01-01T00:00:01")
