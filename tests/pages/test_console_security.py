"""The console's security rules on a real app and database (SQLite and PostgreSQL).

Every form refuses a missing or foreign CSRF token and changes nothing; a publisher of one
office sees and changes nothing of another's; a session ends at sign-out, at expiry, when its
key is revoked or its person disabled; cookies carry their flags; passwords are argon2id.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from fastapi.testclient import TestClient
from support.api_client import Api, sql
from support.console_web import RELEASE_FIELDS, Web, plain_key

from api.core.settings import Settings
from api.main import create_app
from api.pages.signin import safe_next
from api.pages.web.locale import LOCALE_DIR

PASSWORD = "correct horse battery"


def _release(api: Api, office, title: str = "Budget") -> dict:
    md = {k: RELEASE_FIELDS[k] for k in ("category", "reviewer", "publication_date", "language")}
    return api.published(office, md={**md, "title": title})


def _counts(api: Api) -> dict[str, int]:
    tables = ("records", "revisions", "revocations", "replacements", "api_keys", "people",
              "offices", "console_sessions")  # fmt: skip
    return {t: sql(api, f"SELECT count(*) FROM {t}")[0][0] for t in tables}


def _state(api: Api) -> list:
    return sql(api, "SELECT record_id, status, head_version FROM records ORDER BY record_id")


def test_every_form_refuses_a_missing_or_foreign_csrf_token(api: Api) -> None:
    office = api.office()
    record = _release(api, office)
    rid = record["id"]
    admin, clerk, auditor, other = (Web(api.c.app) for _ in range(4))
    admin.sign_in_key("test-admin-key-0123456789abcdef")
    clerk.sign_in_key(plain_key(office.publisher))
    auditor.sign_in_key(plain_key(office.auditor))
    other.sign_in_key(plain_key(api.office().publisher))
    clerk.get("/console")
    forms = [
        (
            clerk,
            f"/console/releases/{rid}/revoke",
            {"step": "confirm", "reason": "r", "idem": "i1"},
        ),
        (clerk, f"/console/releases/{rid}/supersede", {"step": "confirm", "by": rid, "idem": "i2"}),
        (
            clerk,
            f"/console/releases/{rid}/revise",
            {"step": "confirm", "change_note": "n", "idem": "i3", "title": "New"},
        ),
        (clerk, "/console/publish/review", {"token": "x" * 32, "choice": "mask", "idem": "i4"}),
        (auditor, "/desk/audit", {}),
        (admin, "/admin/offices", {"office_id": "ab" * 32, "number": "99", "name": "X"}),
        (admin, f"/admin/offices/{office.id}/keys", {"role": "publisher"}),
        (admin, f"/admin/offices/{office.id}/keys/1/revoke", {}),
        (
            admin,
            "/admin/people",
            {"username": "zhang", "display_name": "Zhang", "role": "admin", "password": PASSWORD},
        ),
        (admin, "/admin/people/1/disable", {}),
        (clerk, "/signout", {}),
    ]
    before, state = _counts(api), _state(api)
    for web, path, data in forms:
        missing = web.post(path, data, token=False)
        assert missing.status_code == 403, (path, missing.text[:300])
        assert "security token" in missing.text
        foreign = web.post(path, {**data, "csrf_token": other.token})
        assert foreign.status_code == 403, (path, foreign.text[:300])
        forged = web.post(path, {**data, "csrf_token": "garbage.token.value"})
        assert forged.status_code == 403, path
    publish = clerk.post("/console/publish", {**RELEASE_FIELDS, "idem": "i5"}, token=False,
                         files={"file": ("a.txt", b"text", "text/plain")})  # fmt: skip
    assert publish.status_code == 403
    anon = Web(api.c.app)
    anon.get("/signin")
    signin = anon.post("/signin", {"api_key": plain_key(office.publisher)}, token=False)
    assert signin.status_code == 403 and "notary_session" not in signin.headers.get(
        "set-cookie", ""
    )
    signin = anon.post("/signin", {"api_key": plain_key(office.publisher),
                                   "csrf_token": other.token})  # fmt: skip
    assert signin.status_code == 403
    assert _counts(api) == before and _state(api) == state
    assert clerk.get("/console").status_code == 200  # the refused sign-out ended nothing


def test_a_publisher_sees_and_changes_nothing_of_another_office(api: Api) -> None:
    mine, theirs = api.office(), api.office()
    own = _release(api, mine, "Ours")
    foreign = _release(api, theirs, "Theirs")
    fid = foreign["id"]
    clerk = Web(api.c.app)
    clerk.sign_in_key(plain_key(mine.publisher))
    listing = clerk.get("/console")
    assert "Ours" in listing.text and "Theirs" not in listing.text
    assert clerk.get("/console?q=Theirs").text.count("/console/releases/") == 0
    for path in (f"/console/releases/{fid}", f"/console/releases/{fid}/stamped",
                 f"/console/releases/{fid}/revoke", f"/console/releases/{fid}/revise"):  # fmt: skip
        r = clerk.get(path)
        assert r.status_code == 404, path
        assert "Theirs" not in r.text
    before = _state(api)
    clerk.get(f"/console/releases/{own['id']}")
    for action, data in (("revoke", {"reason": "no"}), ("supersede", {"by": own["id"]}),
                         ("revise", {"change_note": "x", "title": "Hijacked"})):  # fmt: skip
        r = clerk.post(f"/console/releases/{fid}/{action}", {**data, "step": "confirm",
                                                            "idem": action})  # fmt: skip
        assert r.status_code == 404, action
    assert _state(api) == before
    # and the other office's log gained no entry naming this clerk's key
    entries = sql(
        api,
        "SELECT count(*) FROM access_log a JOIN offices o ON o.id = a.office_pk "
        "WHERE o.office_id = :oid AND a.action <> 'publish'",
        oid=theirs.id,
    )
    assert entries[0][0] == 0


def test_roles_open_only_their_own_pages(api: Api) -> None:
    office = api.office()
    clerk, auditor = Web(api.c.app), Web(api.c.app)
    clerk.sign_in_key(plain_key(office.publisher))
    auditor.sign_in_key(plain_key(office.auditor))
    assert clerk.get("/desk").status_code == 403
    assert clerk.get("/admin").status_code == 403
    assert auditor.get("/console").status_code == 403
    assert auditor.get("/console/publish").status_code == 403
    assert auditor.get("/desk").status_code == 200
    assert Web(api.c.app).get("/console").headers["location"].startswith("/signin?next=")


def test_a_session_ends_at_sign_out(api: Api) -> None:
    office = api.office()
    clerk = Web(api.c.app)
    clerk.sign_in_key(plain_key(office.publisher))
    cookie = clerk.c.cookies.get("notary_session")
    assert clerk.get("/console").status_code == 200
    r = clerk.post("/signout", {})
    assert r.status_code == 303 and 'notary_session=""' in r.headers["set-cookie"]
    replay = Web(api.c.app)
    replay.c.cookies.set("notary_session", cookie)
    assert replay.get("/console").status_code == 303  # the stolen cookie is dead too
    assert sql(api, "SELECT count(*) FROM console_sessions WHERE revoked_at IS NULL")[0][0] == 0


def test_a_session_ends_when_its_key_is_revoked_or_its_office_suspended(api: Api) -> None:
    office = api.office()
    clerk = Web(api.c.app)
    clerk.sign_in_key(plain_key(office.publisher))
    assert clerk.get("/console").status_code == 200
    r = api.c.post(f"/api/v1/offices/{office.id}/keys/{office.publisher_key_id}/revoke",
                   headers=api.admin)  # fmt: skip
    assert r.status_code == 200
    assert clerk.get("/console").status_code == 303
    auditor = Web(api.c.app)
    auditor.sign_in_key(plain_key(office.auditor))
    assert auditor.get("/desk").status_code == 200
    api.c.post(f"/api/v1/offices/{office.id}/suspend", headers=api.admin)
    assert auditor.get("/desk").status_code == 303
    again = Web(api.c.app)
    again.get("/signin")
    assert again.post("/signin", {"api_key": plain_key(office.auditor)}).status_code == 401


def test_a_session_expires(api: Api) -> None:
    office = api.office()
    clerk = Web(api.c.app)
    clerk.sign_in_key(plain_key(office.publisher))
    assert clerk.get("/console").status_code == 200
    sql(api, "UPDATE console_sessions SET expires_at = :t", t="2000-01-01 00:00:00+00:00")
    assert clerk.get("/console").status_code == 303


def test_people_sign_in_with_an_argon2_password_and_disabling_ends_their_sessions(
    api: Api,
) -> None:
    office = api.office()
    admin = Web(api.c.app)
    admin.sign_in_key("test-admin-key-0123456789abcdef")
    admin.get("/admin")
    r = admin.post("/admin/people", {"username": "wang.fang", "display_name": "王芳",
                                     "role": "publisher", "office_id": office.id,
                                     "password": PASSWORD})  # fmt: skip
    assert r.status_code == 303, r.text
    stored = sql(api, "SELECT password_hash, api_key_id FROM people")[0]
    assert stored[0].startswith("$argon2id$") and PASSWORD not in stored[0]
    short = admin.post("/admin/people", {"username": "li", "display_name": "L",
                                         "role": "admin", "password": "short"})  # fmt: skip
    assert short.status_code == 400 and sql(api, "SELECT count(*) FROM people")[0][0] == 1
    clerk = Web(api.c.app)
    assert clerk.sign_in("wang.fang", "wrong password!!").status_code == 401
    assert clerk.sign_in("nobody.here", PASSWORD).status_code == 401
    r = clerk.sign_in("Wang.Fang", PASSWORD)
    assert r.status_code == 303 and r.headers["location"] == "/console"
    page = clerk.get("/console")
    assert page.status_code == 200 and "王芳" in page.text
    _release(api, office, "Before")  # the API's key, then the person's through the console
    pid = sql(api, "SELECT id FROM people")[0][0]
    admin.get("/admin")
    assert admin.post(f"/admin/people/{pid}/disable", {}).status_code == 303
    assert clerk.get("/console").status_code == 303
    assert Web(api.c.app).sign_in("wang.fang", PASSWORD).status_code == 401


def test_cookies_carry_their_flags_and_secure_outside_development(tmp_path: Path, api: Api):
    office = api.office()
    web = Web(api.c.app)
    pre = web.get("/signin").headers["set-cookie"]
    assert "HttpOnly" in pre and "SameSite=strict" in pre
    r = web.post("/signin", {"api_key": plain_key(office.publisher)})
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Max-Age=28800" in cookie
    assert "Secure" not in cookie  # development: plain http on loopback
    settings = Settings(
        data_dir=tmp_path / "prod", mode="production", admin_key="p" * 32,
        key_secret="s" * 32, public_base_url="https://notary.example.gov",
        console_session_minutes=30,
    )  # fmt: skip
    with TestClient(create_app(settings), base_url="https://testserver") as client:
        web = Web(client.app)
        web.c.base_url = "https://testserver"
        web.get("/signin")
        r = web.post("/signin", {"api_key": "p" * 32})
        assert r.status_code == 303, r.text
        cookie = r.headers["set-cookie"]
        assert "Secure" in cookie and "Max-Age=1800" in cookie


def test_sign_in_goes_only_to_local_pages() -> None:
    assert safe_next("/console/publish") == "/console/publish"
    for bad in ("//evil.example/", "https://evil.example/", "/\\evil", "", None, "/a b"):
        assert safe_next(bad) is None


def test_bad_input_gets_a_page_with_the_reason_never_a_500(api: Api) -> None:
    office = api.office()
    web = Web(api.c.app)
    r = web.get("/records?from=yesterday")
    assert (
        r.status_code == 400 and "YYYY-MM-DD" in r.text and "text/html" in r.headers["content-type"]
    )
    assert web.get("/records?page=0").status_code == 400
    assert web.get("/records?q=" + "x" * 300).status_code == 400
    assert web.get("/records?q=%00").status_code == 400
    web.sign_in_key(plain_key(office.publisher))
    assert web.get("/console/releases/nothing-like-an-id").status_code == 404
    assert web.get("/console/releases/" + "0" * 64 + "/explode").status_code == 404
    r = web.post("/console/publish", {**RELEASE_FIELDS, "idem": "e1"})
    assert r.status_code == 400 and "choose the file" in r.text
    r = web.post("/console/publish", {**RELEASE_FIELDS, "publication_date": "soon", "idem": "e2"},
                 files={"file": ("a.txt", b"text", "text/plain")})  # fmt: skip
    assert r.status_code == 400
    r = web.post("/console/publish", {**RELEASE_FIELDS, "idem": "e3"},
                 files={"file": ("a.exe", b"MZ\x90\x00bin", "application/x-msdos")})  # fmt: skip
    assert r.status_code in (400, 415)
    assert sql(api, "SELECT count(*) FROM records")[0][0] == 0


def test_a_double_submitted_publish_form_publishes_once(api: Api) -> None:
    office = api.office()
    web = Web(api.c.app)
    web.sign_in_key(plain_key(office.publisher))
    form = web.get("/console/publish").text
    idem = web.form_value(form, "idem")
    for _ in range(2):
        r = web.post("/console/publish", {**RELEASE_FIELDS, "idem": idem},
                     files={"file": ("a.txt", b"the same release", "text/plain")})  # fmt: skip
        assert r.status_code == 303
    assert sql(api, "SELECT count(*) FROM records")[0][0] == 1


def test_the_register_never_shows_an_internal_record_and_finds_by_document_number(
    api: Api,
) -> None:
    office = api.office()
    md = {k: RELEASE_FIELDS[k] for k in ("category", "reviewer", "publication_date", "language")}
    api.published(office, md={**md, "title": "Open notice",
                              "extra": {"document_number": "区府发〔2026〕7号"}})  # fmt: skip
    api.published(office, b"internal memo", tier="internal", md={**md, "title": "Staff memo"})
    web = Web(api.c.app)
    page = web.get("/records")
    assert "Open notice" in page.text and "Staff memo" not in page.text
    assert "Staff memo" not in web.get("/records?q=memo").text
    hit = web.get("/records?number=区府发〔2026〕7号")
    assert "Open notice" in hit.text
    assert "Open notice" not in web.get("/records?number=区府发〔2026〕8号").text
    assert "Open notice" not in web.get("/records?number=2026").text  # exact, not a substring


def test_every_language_has_every_string() -> None:
    files = sorted(LOCALE_DIR.glob("*.json"))
    keys = [set(json.loads(f.read_text(encoding="utf-8"))) for f in files]
    assert len(files) == 2 and keys[0] == keys[1]


def test_a_held_upload_is_its_sessions_alone_and_is_deleted_once_published(api: Api) -> None:
    from support.api_client import valid_resident_id

    office = api.office()
    clerk, other = Web(api.c.app), Web(api.c.app)
    clerk.sign_in_key(plain_key(office.publisher))
    other.sign_in_key(plain_key(office.publisher))  # the same office, another browser
    clerk.get("/console/publish")
    text = f"申请人身份证号 {valid_resident_id()}".encode()
    review = clerk.post("/console/publish", {**RELEASE_FIELDS, "idem": "h1"},
                        files={"file": ("a.txt", text, "text/plain")})  # fmt: skip
    assert review.status_code == 422 and "身份证号" in review.text
    token = clerk.form_value(review.text, "token")
    held = api.settings.data_dir / "console-staging"
    assert len(list(held.glob("*.bin"))) == 1
    assert oct(next(held.glob("*.bin")).stat().st_mode & 0o777) == "0o600"
    other.get("/console/publish")
    stolen = other.post("/console/publish/review", {**RELEASE_FIELDS, "token": token,
                                                    "choice": "mask", "idem": "h2"})  # fmt: skip
    assert stolen.status_code == 404 and sql(api, "SELECT count(*) FROM records")[0][0] == 0
    done = clerk.post("/console/publish/review", {**RELEASE_FIELDS, "token": token,
                                                  "choice": "mask", "idem": "h3"})  # fmt: skip
    assert done.status_code == 303
    assert list(held.glob("*.bin")) == [] and list(held.glob("*.json")) == []
    stored = sql(api, "SELECT path FROM blobs")[0][0]
    data = (api.settings.blobs / stored).read_bytes()
    assert valid_resident_id().encode() not in data  # the masked copy was published


def test_the_front_door_is_the_landing_page_in_both_languages(api: Api) -> None:
    web = Web(api.c.app)
    page = web.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    for link in ('href="/verify"', 'href="/records"', 'href="/signin"'):
        assert link in page.text
    assert "核验文件" in page.text and 'lang="zh-CN"' in page.text
    english = web.get("/?lang=en&large=1")
    assert "Verify a document" in english.text and 'class="large"' in english.text
    assert 'href="/records?lang=en&amp;large=1"' in english.text
    assert "script-src" not in page.headers["content-security-policy"]  # no script at all


def test_a_certificate_is_issued_from_the_console_without_showing_the_holders_number(
    api: Api,
) -> None:
    from support.api_client import valid_resident_id

    office = api.office()
    web = Web(api.c.app)
    web.sign_in_key(plain_key(office.publisher))
    form = web.get("/console/certificates/new").text
    fields = {"title": "营业执照", "holder_name": "张三", "holder_id": valid_resident_id(),
              "reviewer": "李伟", "valid_from": "2026-01-01", "valid_until": "2031-01-01",
              "idem": web.form_value(form, "idem")}  # fmt: skip
    missing = web.post("/console/certificates/new", {**fields, "holder_name": ""})
    assert missing.status_code == 400 and "holder_name is required" in missing.text
    r = web.post("/console/certificates/new", fields)
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    rows = sql(api, "SELECT record_id, kind, access_tier FROM records")
    assert [(str(k), str(t)) for _, k, t in rows] == [("certificate", "restricted")]
    # the answer hands out the holder's link (the salt in its fragment) and code, once
    rid = rows[0][0]
    link = re.search(r'id="holder-link" href="([^"]+)"', r.text)
    assert link and f"/holder/{rid}#" in link.group(1)
    salt = link.group(1).partition("#")[2]
    code = re.search(r'id="holder-code">([^<]+)<', r.text)
    assert code and code.group(1).replace(" ", "") == salt and len(salt) == 64
    assert valid_resident_id() not in r.text
    again = web.post("/console/certificates/new", fields)  # a reload: the same answer
    assert again.status_code == 200 and link.group(1) in again.text
    assert len(sql(api, "SELECT record_id FROM records")) == 1
    release = re.search(r'id="to-release" href="([^"]+)"', r.text)
    assert release and "issued=1" in release.group(1)
    page = web.get(release.group(1).replace("&amp;", "&"))
    assert page.status_code == 200 and "证照已签发" in page.text
    assert valid_resident_id() not in page.text


def test_an_auditor_acknowledges_an_alert_at_the_desk_with_a_note(api: Api) -> None:
    from notary.audit.alert_store import add_alert

    office, other = api.office(), api.office()
    (office_pk,) = sql(api, "SELECT id FROM offices WHERE office_id = :o", o=office.id)[0]
    with api.c.app.state.db.session() as s:
        alert = add_alert(s, rule="late_anchor", key="r1", message="late", office_pk=office_pk)
        assert alert is not None
        alert_id = alert.id
        s.commit()
    auditor, stranger = Web(api.c.app), Web(api.c.app)
    auditor.sign_in_key(plain_key(office.auditor))
    stranger.sign_in_key(plain_key(other.auditor))
    desk = auditor.get("/desk")
    assert desk.status_code == 200 and f"/desk/alerts/{alert_id}/ack" in desk.text
    path = f"/desk/alerts/{alert_id}/ack"
    assert auditor.post(path, {"note": "known delay"}, token=False).status_code == 403
    assert auditor.post(path, {"note": "  "}).status_code == 400
    stranger.get("/desk")
    assert stranger.post(path, {"note": "not mine"}).status_code == 404
    row = sql(api, "SELECT acknowledged_at FROM alerts WHERE id = :i", i=alert_id)[0]
    assert row[0] is None  # nothing above changed it
    done = auditor.post(path, {"note": "known delay"})
    assert done.status_code == 303, done.text[:300]
    by, note = sql(api, "SELECT acknowledged_by, ack_note FROM alerts WHERE id = :i", i=alert_id)[0]
    assert note == "known delay" and by.startswith("key:")
    assert f"/desk/alerts/{alert_id}/ack" not in auditor.get("/desk").text  # no longer open
