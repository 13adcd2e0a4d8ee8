"""The holder's link (docs/privacy.md, "The holder's link"): a certificate's holder
downloads and verifies their own certificate, and nobody reaches anyone else's.

Real API, real anvil and worker, SQLite and PostgreSQL (the `stack` fixture).
"""

from __future__ import annotations

import json
import re

from sqlalchemy import create_engine, inspect, text
from support.publish_stack import BASE_URL, MD, Stack

from notary.formats.certificate import capability_digest, holder_capability
from notary.pii import resident_id_check_digit
from verifier.result import Verdict
from verifier.verify import verify_file

ID17 = "11010519900307123"
HOLDER = {"name": "张三", "id_number": ID17 + resident_id_check_digit(ID17)}


def _issue(stack: Stack, name: str = "张三") -> dict:
    r = stack.c.post(
        "/api/v1/certificates",
        data={
            "holder": json.dumps({**HOLDER, "name": name}, ensure_ascii=False),
            "metadata": json.dumps({**MD, "title": "营业执照 Business licence"}),
            "valid_until": "2031-01-01T00:00:00Z",
        },
        headers=stack.publisher,
    )
    assert r.status_code == 201, r.text
    return r.json()


def _link(issued: dict) -> tuple[str, str]:
    """The holder link's path and fragment."""
    path, _, fragment = issued["holder_url"].removeprefix(BASE_URL).partition("#")
    return path, fragment


def _capability(issued: dict) -> str:
    salt = bytes.fromhex(issued["salt"])
    return holder_capability(salt, bytes.fromhex(issued["record"]["id"])).hex()


def _copy(stack: Stack, record_id: str, capability: str):
    return stack.c.post(
        f"/api/v1/certificates/{record_id}/holder-copy", json={"capability": capability}
    )


def _log(stack: Stack) -> list[tuple[str, str, str | None]]:
    items = stack.c.get("/api/v1/access-log", headers=stack.auditor).json()["items"]
    return [(e["action"], e["outcome"], e["record_id"]) for e in items]


def test_the_holder_downloads_and_verifies_their_certificate_with_the_link(stack: Stack) -> None:
    issued = _issue(stack)
    rid = issued["record"]["id"]
    path, fragment = _link(issued)
    assert path == f"/holder/{rid}" and fragment == issued["salt"]
    stack.anchor()
    form = stack.c.get(path)  # what the browser asks: the fragment stays behind
    assert form.status_code == 200 and issued["salt"] not in form.text
    assert (
        'name="code"' in form.text
        and "script-src 'sha256-" in form.headers["content-security-policy"]
    )
    page = stack.c.post(path, data={"code": fragment})
    assert page.status_code == 200, page.text
    assert page.headers["cache-control"] == "no-store"
    assert "✔" in page.text and f"/holder/{rid}/document" in page.text
    download = stack.c.post(f"{path}/document", data={"code": fragment})
    assert download.status_code == 200 and download.content.startswith(b"%PDF-")
    assert download.headers["cache-control"] == "private, no-store"
    # the holder's copy is the anchored certificate: the independent verifier says so
    result = verify_file(download.content, stack.trust, salt=bytes.fromhex(issued["salt"]))
    assert result.verdict is Verdict.AUTHENTIC_CURRENT, result
    api = _copy(stack, rid, _capability(issued))
    assert api.status_code == 200 and api.content == download.content
    assert HOLDER["id_number"].encode() not in api.content  # masked on its face
    # every read of the holder is in the office's access log, anonymous
    reads = [e for e in _log(stack) if e[0] == "holder"]
    assert reads == [("holder", "ok", rid)] * 3


def test_someone_elses_capability_gets_the_same_404_as_an_unknown_record(stack: Stack) -> None:
    mine, theirs = _issue(stack), _issue(stack, name="李四")
    rid = mine["record"]["id"]
    unknown = _copy(stack, rid[:8] + "ab" * 28, _capability(mine))
    assert unknown.status_code == 404
    attempts = {
        "their capability": _copy(stack, rid, _capability(theirs)),
        "their salt on my record": _copy(
            stack,
            rid,
            holder_capability(bytes.fromhex(theirs["salt"]), bytes.fromhex(rid)).hex(),
        ),
        "my capability on their record": _copy(stack, theirs["record"]["id"], _capability(mine)),
        "the salt itself": _copy(stack, rid, mine["salt"]),
        "garbled id": _copy(stack, "not-an-id", _capability(mine)),
    }
    for name, r in attempts.items():
        assert (r.status_code, r.json()) == (404, unknown.json()), name
    page = stack.c.post(f"/holder/{rid}", data={"code": theirs["salt"]})
    assert page.status_code == 404 and "%PDF" not in page.text
    bad = _copy(stack, rid, "zz")  # the capability's format alone: says nothing of a record
    assert bad.status_code == 400 and "capability" in bad.json()["detail"]
    assert stack.c.post(f"/holder/{rid}", data={"code": "12"}).status_code == 400
    # refusals of a real record are logged for its office with their status
    refused = [e for e in _log(stack) if e[0] == "holder"]
    assert ("holder", "404", rid) in refused and all(e[1] == "404" for e in refused)


def test_a_revoked_certificate_opens_for_nobody(stack: Stack) -> None:
    issued = _issue(stack)
    rid = issued["record"]["id"]
    assert _copy(stack, rid, _capability(issued)).status_code == 200
    r = stack.c.post(
        f"/api/v1/certificates/{rid}/revoke", json={"reason": "licence withdrawn"},
        headers=stack.publisher,
    )  # fmt: skip
    assert r.status_code == 200, r.text
    gone = _copy(stack, rid, _capability(issued))
    unknown = _copy(stack, "00" * 32, _capability(issued))
    assert (gone.status_code, gone.json()) == (404, unknown.json())


def test_the_database_holds_no_salt_and_no_capability_in_plain(stack: Stack) -> None:
    issued = _issue(stack)
    rid = issued["record"]["id"]
    salt, cap = issued["salt"], _capability(issued)
    assert _copy(stack, rid, cap).status_code == 200
    replay = stack.c.post(  # an idempotent issue: its row keeps no salt nor link
        "/api/v1/certificates",
        data={"holder": json.dumps(HOLDER), "metadata": json.dumps(MD)},
        headers={**stack.publisher, "Idempotency-Key": "holder-link-1"},
    )
    assert replay.status_code == 201
    secrets = {
        s
        for issued_ in (issued, replay.json())
        for s in (
            issued_["salt"],
            _capability(issued_),
            issued_["holder_url"].partition("#")[2],
        )
    }
    secrets |= {s.upper() for s in secrets}
    engine = create_engine(stack.settings.db_url.replace("postgresql://", "postgresql+psycopg://"))
    seen = 0
    try:
        with engine.connect() as conn:
            for table in inspect(conn).get_table_names():
                for row in conn.execute(text(f'SELECT * FROM "{table}"')):
                    cells = " ".join(
                        c.hex() if isinstance(c, bytes | memoryview) else str(c)
                        for c in (bytes(x) if isinstance(x, memoryview) else x for x in row)
                    )
                    seen += 1
                    for secret in secrets:
                        assert secret not in cells, (table, secret[:8])
            stored = conn.execute(
                text("SELECT holder_cap_sha256 FROM records WHERE record_id = :r"), {"r": rid}
            ).scalar_one()
    finally:
        engine.dispose()
    assert seen > 10 and stored == capability_digest(bytes.fromhex(cap))
    assert re.fullmatch(r"[0-9a-f]{64}", stored) and salt not in stored
    # the replay still hands back a link that opens the same certificate
    again = stack.c.post(
        "/api/v1/certificates",
        data={"holder": json.dumps(HOLDER), "metadata": json.dumps(MD)},
        headers={**stack.publisher, "Idempotency-Key": "holder-link-1"},
    )
    assert again.json()["holder_url"] == replay.json()["holder_url"]
    assert _copy(stack, replay.json()["record"]["id"], _capability(again.json())).status_code == 200


def test_the_holder_routes_are_rate_limited_like_the_other_anonymous_ones(stack: Stack) -> None:
    from api.core.limits import RateLimiter

    issued = _issue(stack)
    rid, cap = issued["record"]["id"], _capability(issued)
    stack.c.app.state.rate_limiter = RateLimiter(per_minute=1, burst=2)  # the app's one bucket
    assert [_copy(stack, rid, cap).status_code for _ in range(2)] == [200, 200]
    api = _copy(stack, rid, cap)
    assert api.status_code == 429 and int(api.headers["retry-after"]) >= 1
    page = stack.c.post(f"/holder/{rid}", data={"code": issued["salt"]})
    assert page.status_code == 429 and "%PDF" not in page.text
    # the same bucket as the verify uploads: the holder routes spent it
    assert (
        stack.c.post(
            "/verify", files={"file": ("x.pdf", b"%PDF-1.4", "application/pdf")}
        ).status_code
        == 429
    )
