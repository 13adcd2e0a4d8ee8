"""An anonymous caller cannot tell a hidden record from a missing one by anything but the
answer, which is the same: not by `/metrics`, not by the work the request does (the access
log of a refusal is written off the request path), not by receipts. Real SQLite and
PostgreSQL, the real app."""

from __future__ import annotations

import re
import threading

from sqlalchemy import event
from support.api_client import Api

from api.services.refusal_log import THREAD_NAME


def _metrics(api: Api) -> str:
    r = api.c.get("/metrics")
    assert r.status_code == 200
    return r.text


def _refused(text: str, action: str) -> float:
    found = re.search(rf'^notary_access_refused_total{{action="{action}"}} (\S+)$', text, re.M)
    return float(found.group(1)) if found else 0.0


def _hidden_and_invented(api: Api):
    """(the office, one of its internal records' id, an id of its number no record has)."""
    office = api.office()
    hidden = api.published(office, b"internal plan", tier="internal")["id"]
    return office, hidden, hidden[:8] + "ab" * 28


def test_metrics_count_a_hidden_record_and_a_missing_one_alike(api: Api) -> None:
    _, hidden, invented = _hidden_and_invented(api)
    deltas = []
    for rid in (hidden, invented):
        before = _metrics(api)
        assert api.c.get(f"/api/v1/records/{rid}").status_code == 404
        after = _metrics(api)
        deltas.append(_refused(after, "read") - _refused(before, "read"))
    assert deltas == [1.0, 1.0]
    assert "notary_access_unresolved" not in _metrics(api)


def test_neither_refusal_writes_in_the_request(api: Api) -> None:
    owner, hidden, invented = _hidden_and_invented(api)
    api.c.app.state.refusals.flush()
    engine = api.c.app.state.db.engine
    writes: list[str] = []  # the thread of every access-log insert

    def seen(conn, cursor, statement, parameters, context, executemany) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO ACCESS_LOG"):
            writes.append(threading.current_thread().name)

    event.listen(engine, "before_cursor_execute", seen)
    try:
        for rid in (hidden, invented):
            assert api.c.get(f"/api/v1/records/{rid}").status_code == 404
            assert api.c.get(f"/api/v1/records/{rid}/history").status_code == 404
        api.c.app.state.refusals.flush()
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert writes and set(writes) == {THREAD_NAME}  # the writer's, never a request's
    office = api.c.get("/api/v1/access-log", headers=owner.auditor)
    logged = [(e["action"], e["record_id"], e["outcome"]) for e in office.json()["items"]]
    assert ("read", hidden, "404") in logged and ("history", hidden, "404") in logged
    assert all(rid != invented for _, rid, _ in logged)


def test_receipts_are_their_offices_own(api: Api) -> None:
    office, other = api.office(), api.office()
    revision = api.published(office, b"public notice")["current"]["id"]
    missing = str(int(revision) + 1000)
    for headers in ({}, other.publisher, other.auditor):
        a = api.c.get(f"/api/v1/receipts/{revision}", headers=headers)
        b = api.c.get(f"/api/v1/receipts/{missing}", headers=headers)
        assert a.status_code == b.status_code == 404
        assert a.json()["detail"].replace(revision, "N") == b.json()["detail"].replace(missing, "N")
    own = api.c.get(f"/api/v1/receipts/{revision}", headers=office.auditor)
    assert own.status_code == 200 and own.json()["revision_id"] == revision
