"""Hostile input at every entry point (docs/design.md, "What must always hold" 5).

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

import io
import json
import os
import random
import shutil
import struct
import subprocess
import sys
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import inspect, text
from support import db_fixtures, paths
from support.api_client import MD, Api, Office, make_settings, valid_resident_id

from api.main import create_app
from notary.chain.local import LocalChain, rpc_call
from verifier.trust import TrustList

ROOT = paths.ROOT
UPLOAD_LIMIT = 64 * 1024
"""A small `max_upload_bytes` so that "huge" uploads stay cheap."""
ACCESS_LOG = "access_log"
RNG = random.Random(8)


# --- hostile bytes ----------------------------------------------------------------------------


def valid_pdf(title: str = "hostile") -> bytes:
    """A small, well-formed one-page PDF (pypdf), with a text layer free of personal data."""
    from reportlab.pdfgen import canvas

    buf = io.BytesIO()
    pdf = canvas.Canvas(buf, pagesize=(300, 300))
    pdf.drawString(40, 150, f"{title}: nothing personal here")
    pdf.showPage()
    pdf.save()
    return buf.getvalue()


def encrypted_pdf() -> bytes:
    """`valid_pdf()` encrypted with a user password (its text cannot be read or scanned)."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    for page in PdfReader(io.BytesIO(valid_pdf("secret"))).pages:
        writer.add_page(page)
    writer.encrypt(user_password="u-secret", owner_password="o-secret", algorithm="AES-256")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def png_header(width: int, height: int) -> bytes:
    """A PNG whose IHDR claims `width`×`height` pixels (a decompression bomb's header)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body))
            + kind
            + body
            + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1024)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def blank_png() -> bytes:
    """A real, small PNG without any QR code on it."""
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (64, 64), "white").save(buf, format="PNG")
    return buf.getvalue()


def nested(depth: int) -> str:
    """JSON text of an object nested `depth` levels deep."""
    return '{"a":' * depth + "1" + "}" * depth


RANDOM = RNG.randbytes(4096)
PDF = valid_pdf()
PDF_TRUNCATED = PDF[: len(PDF) // 3]
PDF_GARBAGE = b"%PDF-1.7\n" + RNG.randbytes(2048)
PDF_HEADER_ONLY = b"%PDF-"
ENCRYPTED = encrypted_pdf()
OVER_LIMIT = b"a" * (UPLOAD_LIMIT + 1)
OVER_BODY = b"a" * (UPLOAD_LIMIT + 128 * 1024)
PNG_BOMB = png_header(20000, 20000)


def md_with(**changes: Any) -> str:
    """The valid test metadata with some members replaced, as JSON text."""
    return json.dumps({**MD, **changes})


def md_raw_title(escaped: str) -> str:
    """Metadata JSON whose title is the raw JSON string body `escaped` (escapes kept)."""
    return md_with(title="@@").replace('"@@"', f'"{escaped}"')


# --- the HTTP corpus --------------------------------------------------------------------------


@dataclass
class Ctx:
    """What the cases need: the client, an office with keys, and known ids and hashes."""

    api: Api
    office: Office
    record_id: str
    restricted_sha: str

    @property
    def c(self) -> TestClient:
        return self.api.c


Send = Callable[[Ctx], httpx.Response]
JSON, HTML = "json", "html"


def publish(data: bytes, ctype: str = "text/plain", metadata: str | None = None, **form: str):
    """A case: publish `data` declared as `ctype` with `metadata` (default: valid)."""

    def send(x: Ctx) -> httpx.Response:
        return x.c.post(
            "/api/v1/records",
            files={"file": ("upload.bin", data, ctype)},
            data={"metadata": md_with() if metadata is None else metadata, **form},
            headers=x.office.publisher,
        )

    return send


def revise(
    data: bytes | None,
    ctype: str = "application/pdf",
    record: str | None = None,
    *,
    change_note: str = "hostile",
    metadata: str | None = None,
):
    """A case: a new version of the seeded record (or of `record`) from `data`."""

    def send(x: Ctx) -> httpx.Response:
        form = {"change_note": change_note}
        if metadata is not None:
            form["metadata"] = metadata
        return x.c.post(
            f"/api/v1/records/{record or x.record_id}/revisions",
            files={"file": ("upload.bin", data, ctype)} if data is not None else None,
            data=form,
            headers=x.office.publisher,
        )

    return send


def issue(holder: str, metadata: str | None = None, file: tuple | None = None, **form: str):
    """A case: issue a certificate with raw `holder` JSON text."""

    def send(x: Ctx) -> httpx.Response:
        return x.c.post(
            "/api/v1/certificates",
            data={
                "holder": holder,
                "metadata": md_with() if metadata is None else metadata,
                **form,
            },
            files={"file": file} if file else None,
            headers=x.office.publisher,
        )

    return send


def post_json(path: str, body: Any):
    """A case: POST a JSON body with the office's publisher key."""

    def send(x: Ctx) -> httpx.Response:
        path_ = path.replace("{record}", x.record_id)
        return x.c.post(path_, json=body, headers=x.office.publisher)

    return send


def audit_get(path: str, **params: str):
    """A case: GET with the office's auditor key."""

    def send(x: Ctx) -> httpx.Response:
        return x.c.get(path, params=params, headers=x.office.auditor)

    return send


def get(path: str, **params: str):
    """A case: GET `path` (sent exactly as written, percent-escapes and all)."""

    def send(x: Ctx) -> httpx.Response:
        path_ = path.replace("{record}", x.record_id).replace("{restricted}", x.restricted_sha)
        url = httpx.URL("http://testserver" + path_)
        if params:
            url = url.copy_merge_params(params)
        return x.c.get(url)

    return send


def get_raw(raw_path: bytes):
    """A case: GET with a raw request target that httpx would otherwise normalise."""

    def send(x: Ctx) -> httpx.Response:
        request = x.c.build_request("GET", "http://testserver/")
        request.url = request.url.copy_with(raw_path=raw_path)
        return x.c.send(request)

    return send


def verify_upload(data: bytes | None, ctype: str = "application/octet-stream"):
    """A case: upload `data` to the citizen's `/verify` form (no file at all if None)."""

    def send(x: Ctx) -> httpx.Response:
        files = {"file": ("photo", data, ctype)} if data is not None else None
        return x.c.post("/verify", files=files, data={} if files is None else None)

    return send


def search(q: str):
    """A case: a title search that must match nothing (none of these is in a title)."""

    def send(x: Ctx) -> httpx.Response:
        return x.c.get("/api/v1/records", params={"q": q})

    return send


CASES: dict[str, tuple[Send, str]] = {
    # broken and encrypted files
    "pdf-truncated": (publish(PDF_TRUNCATED, "application/pdf"), JSON),
    "pdf-garbage-after-header": (publish(PDF_GARBAGE, "application/pdf"), JSON),
    "pdf-header-only": (publish(PDF_HEADER_ONLY, "application/pdf"), JSON),
    "pdf-zero-bytes": (publish(b"", "application/pdf"), JSON),
    "text-zero-bytes": (publish(b"", "text/plain"), JSON),
    "pdf-encrypted": (publish(ENCRYPTED, "application/pdf"), JSON),
    "pdf-declared-but-random": (publish(RANDOM, "application/pdf"), JSON),
    "xml-broken": (publish(b"<?xml version='1.0'?><a><b></a>", "application/xml"), JSON),
    "xml-billion-laughs": (
        publish(
            b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">'
            b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;'
            b'&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]><l>&d;&d;&d;</l>',
            "application/xml",
        ),
        JSON,
    ),
    "revise-pdf-truncated": (revise(PDF_TRUNCATED), JSON),
    "revise-pdf-encrypted": (revise(ENCRYPTED), JSON),
    "revise-unknown-record": (revise(b"x", "text/plain", "00000001" + "ab" * 28), JSON),
    "revise-malformed-record": (revise(b"x", "text/plain", "' OR 1=1 --"), JSON),
    # sizes
    "file-over-limit": (publish(OVER_LIMIT), JSON),
    "body-over-limit": (publish(OVER_BODY), JSON),
    "verify-over-limit": (verify_upload(OVER_BODY), JSON),
    # wrong content types
    "ctype-png": (publish(blank_png(), "image/png"), JSON),
    "ctype-exe": (publish(b"MZ\x90\x00" + RANDOM, "application/x-msdownload"), JSON),
    "ctype-html": (publish(b"<script>alert(1)</script>", "text/html"), JSON),
    "ctype-json": (publish(b"{}", "application/json"), JSON),
    "ctype-garbage": (publish(b"x", "not a/type;;;"), JSON),
    "certificate-ctype-text": (
        issue('{"name": "Zhang San"}', file=("c.txt", b"x", "text/plain")),
        JSON,
    ),
    # unicode tricks and oversized metadata
    "title-rtl-override": (
        publish(b"release a", metadata=md_with(title="invoice\u202egpj.exe")),
        JSON,
    ),
    "title-zero-width": (publish(b"release b", metadata=md_with(title="bud\u200bget")), JSON),
    "title-nul": (publish(b"release c", metadata=md_raw_title("budget\\u0000")), JSON),
    "title-lone-surrogate": (publish(b"release d", metadata=md_raw_title("budget \\ud800")), JSON),
    "title-100k": (publish(b"release e", metadata=md_with(title="t" * 100_000)), JSON),
    "category-nul": (publish(b"release f", metadata=md_with(category="a\u0000b")), JSON),
    "extra-lone-surrogate": (
        publish(
            b"release g",
            metadata=md_with(title="@@").replace('"@@"', '"x"')[:-1]
            + ', "extra": {"k": "\\udfff"}}',
        ),
        JSON,
    ),
    "metadata-nested-10k": (publish(b"release h", metadata=nested(10_000)), JSON),
    "metadata-extra-nested-10k": (
        publish(b"release i", metadata=md_with()[:-1] + ', "extra": ' + nested(10_000) + "}"),
        JSON,
    ),
    "metadata-not-json": (publish(b"release j", metadata="{'title': 1"), JSON),
    "metadata-array": (publish(b"release k", metadata="[]"), JSON),
    "metadata-nan": (publish(b"release l", metadata=md_with()[:-1] + ', "title": NaN}'), JSON),
    "metadata-huge": (publish(b"release m", metadata=md_with(title="t" * 60_000)), JSON),
    "tier-garbage": (publish(b"release n", tier="../../etc/passwd"), JSON),
    "holder-nested-10k": (issue(nested(10_000)), JSON),
    "holder-nested-400": (issue(nested(400)), JSON),
    "certificate-extra-array": (issue('{"n": 1}', metadata=md_with(extra=[1, 2])), JSON),
    "certificate-extra-sets-holder-commitment": (
        issue('{"n": 1}', metadata=md_with(extra={"holder_commitment": "ab" * 32})),
        JSON,
    ),
    "certificate-valid-until-past-year-9999": (
        issue('{"n": 1}', valid_until="9999-12-31T23:59:59-05:00"),
        JSON,
    ),
    "certificate-valid-from-before-year-1": (
        issue('{"n": 1}', valid_from="0001-01-01T00:00:00+05:00"),
        JSON,
    ),
    "certificate-title-too-long": (issue('{"n": 1}', metadata=md_with(title="t" * 600)), JSON),
    "revise-title-too-long-with-a-file": (
        revise(b"new bytes", "text/plain", metadata=json.dumps({"title": "t" * 600})),
        JSON,
    ),
    # NUL characters: PostgreSQL cannot store them (a 500 there, stored as is on SQLite)
    "revoke-reason-nul": (post_json("/api/v1/records/{record}/revoke", {"reason": "a\x00b"}), JSON),
    "revise-change-note-nul": (
        revise(None, change_note="a\x00b", metadata=json.dumps({"title": "t2"})),
        JSON,
    ),
    "pii-override-reason-nul": (
        publish(f"持卡人 {valid_resident_id()}".encode(), pii_override_reason="a\x00b"),
        JSON,
    ),
    "alerts-rule-nul": (audit_get("/api/v1/alerts", rule="a\x00b"), JSON),
    "stamped-version-past-int32": (
        get("/api/v1/records/{record}/stamped", version="2147483648"),
        JSON,
    ),
    "holder-lone-surrogate": (issue('{"name": "\\ud800"}'), JSON),
    "holder-array": (issue("[1, 2]"), JSON),
    "holder-100k": (issue(json.dumps({"name": "x" * 100_000})), JSON),
    "certificate-title-rtl": (
        issue('{"name": "Zhang San"}', metadata=md_with(title="cert\u202eexe.pdf")),
        JSON,
    ),
    # path traversal and odd names in /files/
    "files-dotdot": (get_raw(b"/api/v1/files/../../etc/passwd"), JSON),
    "files-dotdot-encoded": (get("/api/v1/files/%2e%2e%2f%2e%2e%2fetc%2fpasswd"), JSON),
    "files-dotdot-double-encoded": (get("/api/v1/files/%252e%252e%252fetc%252fpasswd"), JSON),
    "files-absolute": (get("/api/v1/files/%2fetc%2fpasswd"), JSON),
    "files-nul": (get("/api/v1/files/%00"), JSON),
    "files-hash-nul-suffix": (get("/api/v1/files/" + "ab" * 32 + "%00.pdf"), JSON),
    "files-backslash": (get("/api/v1/files/..%5c..%5cwindows%5cwin.ini"), JSON),
    "files-long-name": (get("/api/v1/files/" + "a" * 5000), JSON),
    "files-unknown-hash": (get("/api/v1/files/" + "cd" * 32), JSON),
    "files-restricted-anonymous": (get("/api/v1/files/{restricted}"), JSON),
    # ids and numbers
    "record-malformed": (get("/api/v1/records/' OR 1=1 --"), JSON),
    "record-nul": (get("/api/v1/records/%00"), JSON),
    "record-unknown": (get("/api/v1/records/00000001" + "ab" * 28), JSON),
    "record-history-long": (get("/api/v1/records/" + "f" * 5000 + "/history"), JSON),
    "certificate-not-a-certificate": (get("/api/v1/certificates/{record}"), JSON),
    "receipt-text": (get("/api/v1/receipts/abc"), JSON),
    "receipt-negative": (get("/api/v1/receipts/-1"), JSON),
    "receipt-huge": (get("/api/v1/receipts/99999999999999999999999"), JSON),
    "receipt-unknown": (get("/api/v1/receipts/987654"), JSON),
    "receipt-wait-nan": (get("/api/v1/receipts/1", wait="nan"), JSON),
    # SQL metacharacters outside search
    "search-limit-injection": (get("/api/v1/records", limit="1; DROP TABLE records"), JSON),
    "search-date-garbage": (get("/api/v1/records", **{"from": "2026-13-45"}), JSON),
    "search-q-too-long": (search("q" * 5000), JSON),
    # garbled QR payloads
    "v-garbage": (get("/v/garbage"), HTML),
    "v-nul": (get("/v/%00%00"), HTML),
    "v-long": (get("/v/" + "A" * 5000), HTML),
    "v-traversal": (get("/v/..%2f..%2fetc%2fpasswd"), HTML),
    "v-unicode": (get("/v/%E2%80%AE%F0%9F%92%A9"), HTML),
    "v-base64-garbage": (get("/v/AQID" + "_-" * 40), HTML),
    "v-page-png-garbage": (get("/v/garbage/page.png"), HTML),
    # garbage and oversized images and files to /verify
    "verify-no-file": (verify_upload(None), HTML),
    "verify-empty": (verify_upload(b""), HTML),
    "verify-random": (verify_upload(RANDOM), HTML),
    "verify-png-magic-garbage": (verify_upload(b"\x89PNG\r\n\x1a\n" + RANDOM, "image/png"), HTML),
    "verify-jpeg-magic-garbage": (verify_upload(b"\xff\xd8\xff" + RANDOM, "image/jpeg"), HTML),
    "verify-png-bomb": (verify_upload(PNG_BOMB, "image/png"), HTML),
    "verify-png-no-qr": (verify_upload(blank_png(), "image/png"), HTML),
    "verify-pdf-truncated": (verify_upload(PDF_TRUNCATED, "application/pdf"), HTML),
    "verify-pdf-encrypted": (verify_upload(ENCRYPTED, "application/pdf"), HTML),
}

SEARCHES = {
    "sql-or": "' OR 1=1 --",
    "sql-union": "x' UNION SELECT key_hash FROM api_keys --",
    "percent": "%",
    "underscore": "_",
    "backslash": "\\",
    "like-escape": "\\%",
    "nul": "budget\x00",
    "rtl": "\u202e",
}
"""Title searches: valid queries, so a 200 that matches nothing (or a clean 4xx)."""


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


@dataclass(frozen=True)
class State:
    """Row counts of every table, the blob files on disk and the chain's height."""

    counts: dict[str, int]
    blobs: frozenset[str]
    block: int


def state(x: Ctx, anvil: LocalChain) -> State:
    """The state that hostile input must not change."""
    engine = x.c.app.state.db.engine
    with engine.connect() as conn:
        counts = {
            t: conn.execute(text(f'SELECT count(*) FROM "{t}"')).scalar_one()
            for t in inspect(conn).get_table_names()
            if t != "alembic_version"
        }
    root = x.api.settings.blobs
    blobs = frozenset(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
    return State(counts, blobs, int(rpc_call(anvil.url, "eth_blockNumber"), 16))


def assert_unchanged(before: State, after: State) -> None:
    """Same rows everywhere (the access log may grow), same blobs, same chain height."""
    grown = {t: n for t, n in after.counts.items() if t != ACCESS_LOG}
    assert grown == {t: n for t, n in before.counts.items() if t != ACCESS_LOG}
    assert after.counts.get(ACCESS_LOG, 0) >= before.counts.get(ACCESS_LOG, 0)
    assert after.blobs == before.blobs, "a blob was written for a refused request"
    assert after.block == before.block, "a transaction reached the chain"


def assert_client_error(response: httpx.Response, kind: str) -> None:
    """A 4xx with a JSON `detail`, or (verify pages) a 4xx HTML page or JSON 413."""
    status, ctype = response.status_code, response.headers.get("content-type", "")
    assert 400 <= status < 500, (status, response.text[:500])
    if kind == HTML and ctype.startswith("text/html"):
        assert "<html" in response.text.lower()
        return
    if kind == HTML and not response.content and status == 404:
        return  # /v/…/page.png: a bare 404 for an image URL
    assert ctype.startswith("application/json"), (status, ctype, response.text[:300])
    body = response.json()
    assert body.get("detail"), body


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


# --- the CLIs -----------------------------------------------------------------------------

PASSWORD = "hostile-cli-password"


def cli(data_dir: Path, anvil: LocalChain, *args: str, module: str = "notary.cli.main"):
    """Run a CLI in a subprocess with a clean NOTARY_* environment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NOTARY_")}
    env.update(
        NOTARY_DATA_DIR=str(data_dir),
        NOTARY_RPC_URL=anvil.url,
        NOTARY_GAS_POLICY="zero",
        NOTARY_KEYSTORE_PASSWORD=PASSWORD,
        NOTARY_SCRYPT_N="1024",
    )
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


@pytest.fixture(scope="module")
def cli_data_dir(anvil: LocalChain, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An initialised notary data dir (registry, demo office, keys, database)."""
    path = tmp_path_factory.mktemp("hostile-cli")
    proc = cli(path, anvil, "init", "--json")
    assert proc.returncode == 0, proc.stderr
    return path


def cli_state(data_dir: Path, anvil: LocalChain) -> State:
    """Row counts of the CLI's SQLite database, its blobs and the chain height."""
    import sqlite3

    with sqlite3.connect(data_dir / "notary.sqlite3") as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        counts = {
            t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0]
            for t in tables
            if t != "alembic_version"
        }
    root = data_dir / "blobs"
    blobs = frozenset(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
    return State(counts, blobs, int(rpc_call(anvil.url, "eth_blockNumber"), 16))


UNKNOWN_ID = "00000001" + "ab" * 28


def cli_cases(tmp: Path) -> dict[str, tuple[str, ...]]:
    """The notary CLI corpus (files made under `tmp`)."""
    (tmp / "dir").mkdir(exist_ok=True)
    (tmp / "broken.pdf").write_bytes(PDF_TRUNCATED)
    (tmp / "ok.txt").write_text("fine")
    pub = ("--title", "t", "--category", "c")
    return {
        "publish-missing-file": ("publish", str(tmp / "nope.pdf"), *pub),
        "publish-directory": ("publish", str(tmp / "dir"), *pub),
        "publish-bad-date": ("publish", str(tmp / "ok.txt"), *pub, "--published-on", "2026-13-45"),
        "publish-control-title": (
            "publish", str(tmp / "ok.txt"), "--title", "a\x1bb", "--category", "c",
        ),
        "history-unknown": ("history", UNKNOWN_ID, "--json"),
        "history-malformed": ("history", "' OR 1=1 --", "--json"),
        "status-malformed": ("status", "zz" * 32),
        "revoke-unknown": ("revoke", UNKNOWN_ID, "--reason", "hostile"),
        "revise-malformed": ("revise", "../../etc/passwd", str(tmp / "ok.txt")),
        "json-before-command": ("--json", "history", UNKNOWN_ID),
        "json-with-value": ("history", UNKNOWN_ID, "--json=yes"),
        "unknown-command": ("frobnicate", "--json"),
        "audit-replay-bad-registry": (
            "audit", "replay", "--registry", "0xnot", "--out", str(tmp / "audit"),
        ),
        "audit-diff-missing-state": ("audit", "diff", "--state", str(tmp / "nope.json")),
        "checkpoint-verify-garbage": (
            "checkpoint", "verify", str(tmp / "broken.pdf"), "--rpc", "http://127.0.0.1:1",
        ),
    }  # fmt: skip


def verifier_cases(tmp: Path, anvil: LocalChain, registry: str) -> dict[str, tuple[str, ...]]:
    """The verifier CLI corpus: garbage files, images and payloads."""
    (tmp / "garbage.bin").write_bytes(RANDOM)
    (tmp / "bomb.png").write_bytes(PNG_BOMB)
    (tmp / "garbage.png").write_bytes(b"\x89PNG\r\n\x1a\n" + RANDOM)
    (tmp / "empty.bin").write_bytes(b"")
    (tmp / "trust.json").write_text("{not json")
    trust = ("--rpc", anvil.url, "--registry", registry)
    return {
        "verifier-check-garbage": (*trust, "check", str(tmp / "garbage.bin")),
        "verifier-check-empty": (*trust, "check", str(tmp / "empty.bin")),
        "verifier-check-missing": (*trust, "check", str(tmp / "nope.bin")),
        "verifier-check-directory": (*trust, "check", str(tmp)),
        "verifier-scan-bomb": (*trust, "scan", str(tmp / "bomb.png")),
        "verifier-scan-garbage": (*trust, "scan", str(tmp / "garbage.png")),
        "verifier-url-garbage": (*trust, "url", "https://x/v/%00garbage"),
        "verifier-bad-trust-file": ("--trust", str(tmp / "trust.json"), "url", "garbage"),
        "verifier-bad-registry": ("--rpc", anvil.url, "--registry", "0xnot", "url", "garbage"),
    }


def test_cli_hostile_input_is_refused_and_changes_nothing(
    cli_data_dir: Path, anvil: LocalChain, registry_deployment: Any, tmp_path: Path
) -> None:
    """Every case exits non-zero without a traceback; afterwards nothing has changed.

    One test runs the whole CLI corpus (each start of a CLI costs seconds of imports); a
    failure names every case that misbehaved.
    """
    runs = [(name, "notary.cli.main", args) for name, args in cli_cases(tmp_path).items()]
    runs += [
        (name, "verifier.cli", args)
        for name, args in verifier_cases(tmp_path, anvil, registry_deployment.address).items()
    ]
    before = cli_state(cli_data_dir, anvil)
    problems = []
    for name, module, args in runs:
        proc = cli(cli_data_dir, anvil, *args, module=module)
        if (
            proc.returncode == 0
            or "Traceback" in proc.stderr
            or (not proc.stderr.strip() and not proc.stdout.strip())
        ):
            problems.append(f"{name}: exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    assert not problems, "\n\n".join(problems)
    assert_unchanged(before, cli_state(cli_data_dir, anvil))


# --- the process itself ---------------------------------------------------------------------


def test_deeply_nested_json_is_refused_not_a_crash(tmp_path: Path) -> None:
    """py_ecc (under eth-account) raises the recursion limit to 100,000 when imported; JSON
    nested deeper than the C stack then killed the whole process (a segfault) instead of
    raising RecursionError. web3 is imported first here, the order that `notary` alone cannot
    prevent. Run in a process of its own, so a regression cannot take the test run with it."""
    code = f"""
import sys, web3
from fastapi.testclient import TestClient
sys.path.insert(0, "tests")
from support.api_client import make_settings
from api.main import create_app
assert sys.getrecursionlimit() < 10_000, sys.getrecursionlimit()
from pathlib import Path
settings = make_settings("sqlite:///{tmp_path / "n.sqlite3"}", Path("{tmp_path}"))
with TestClient(create_app(settings)) as client:
    r = client.post(
        "/api/v1/records/00000001{"ab" * 28}/revoke",
        content=b"[" * 200_000,
        headers={{"Content-Type": "application/json"}},
    )
    print(r.status_code)
"""
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, (done.returncode, done.stderr[-2000:])
    assert done.stdout.strip().startswith("4"), done.stdout
