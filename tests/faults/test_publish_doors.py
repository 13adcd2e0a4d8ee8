"""One publishing path for every door: the same hostile files get the same refusals through
the API (SQLite and PostgreSQL) and the `notary` command (a real subprocess on a real anvil),
and change nothing; what the CLI accepts is stored as the API stores it (media type, tier,
access-log entry, PII override)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from support.api_client import Api, make_settings, sql
from support.cli_run import PASSWORD
from support.paths import ROOT
from support.pdf_samples import reportlab_pdf

from notary.pii import resident_id_check_digit

ID17 = "11010519900307123"
RESIDENT_ID = ID17 + resident_id_check_digit(ID17)
LIMIT = 4096

# name → (bytes, the type a browser would declare, what every door's refusal says)
HOSTILE: dict[str, tuple[bytes, str, str]] = {
    "empty": (b"", "text/plain", "the file is empty"),
    "png": (b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "image/png", "'image/png' not accepted"),
    "zip": (b"PK\x03\x04" + b"\x00" * 64, "application/zip", "'application/zip' not accepted"),
    "exe": (
        b"MZ\x90\x00\xff\xfe" + bytes(range(256)),
        "application/octet-stream",
        "'application/octet-stream' not accepted",
    ),
    "pdf-not-at-start": (b"junk\n%PDF-1.4\n%%EOF\n", "application/pdf", "not a PDF"),
    "personal-data": (
        f"申请人身份证号 {RESIDENT_ID}".encode(),
        "text/plain",
        "personal data found",
    ),
    "too-large": (b"a" * (LIMIT + 1), "text/plain", "file over the limit"),
}


def cli(data_dir: Path, anvil, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NOTARY_")}
    env.update(
        NOTARY_DATA_DIR=str(data_dir),
        NOTARY_RPC_URL=anvil.url,
        NOTARY_GAS_POLICY="zero",
        NOTARY_KEYSTORE_PASSWORD=PASSWORD,
        NOTARY_SCRYPT_N="1024",
        NOTARY_MAX_UPLOAD_BYTES=str(LIMIT),
    )
    proc = subprocess.run(
        [sys.executable, "-m", "notary.cli.main", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


@pytest.fixture(scope="module")
def data_dir(anvil, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("doors-cli")
    assert cli(path, anvil, "init", "--json").returncode == 0
    return path


def _state(data_dir: Path) -> tuple[int, ...]:
    db = sqlite3.connect(data_dir / "notary.sqlite3")
    try:
        tables = ("records", "revisions", "blobs", "access_log", "pii_overrides")
        rows = tuple(db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables)
    finally:
        db.close()
    return (*rows, sum(1 for p in (data_dir / "blobs").rglob("*") if p.is_file()))


def _publish_args(path: Path, *extra: str) -> list[str]:
    return ["publish", str(path), "--title", "Budget", "--category", "budget", "--json", *extra]


@pytest.fixture
def api(db_url: str, tmp_path: Path):
    from fastapi.testclient import TestClient

    from api.main import create_app

    settings = make_settings(db_url, tmp_path / "data", max_upload_bytes=LIMIT)
    with TestClient(create_app(settings)) as client:
        yield Api(client, settings)


def test_every_hostile_file_is_refused_alike_by_the_api(api: Api) -> None:
    office = api.office()
    before = (
        sql(api, "SELECT count(*) FROM records")[0][0],
        sql(api, "SELECT count(*) FROM blobs")[0][0],
    )
    for name, (data, ctype, says) in HOSTILE.items():
        r = api.publish(office, data, ctype=ctype)
        assert 400 <= r.status_code < 500, (name, r.status_code, r.text)
        assert says in r.json()["detail"], (name, r.json())
        assert RESIDENT_ID not in r.text, name  # only masked previews
    after = (
        sql(api, "SELECT count(*) FROM records")[0][0],
        sql(api, "SELECT count(*) FROM blobs")[0][0],
    )
    assert after == before


def test_every_hostile_file_is_refused_alike_by_the_cli(data_dir: Path, anvil, tmp_path) -> None:
    before = _state(data_dir)
    for name, (data, _, says) in HOSTILE.items():
        path = tmp_path / f"{name}.bin"
        path.write_bytes(data)
        proc = cli(data_dir, anvil, *_publish_args(path))
        assert proc.returncode != 0, (name, proc.stdout)
        assert says in proc.stderr, (name, proc.stderr)
        assert RESIDENT_ID not in proc.stderr, name
    assert _state(data_dir) == before


def test_the_cli_stores_what_the_api_stores(data_dir: Path, anvil, tmp_path) -> None:
    """A PDF keeps its media type (so its stamped copy can be made), the tier is the one
    asked for, the access log has the publish, and an override is recorded."""
    pdf = tmp_path / "notice.pdf"
    pdf.write_bytes(reportlab_pdf(title="公告"))
    out = json.loads(cli(data_dir, anvil, *_publish_args(pdf, "--tier", "restricted")).stdout)
    db = sqlite3.connect(data_dir / "notary.sqlite3")
    try:
        media, tier = db.execute(
            "SELECT b.media_type, r.access_tier FROM records r JOIN revisions v ON "
            "v.record_id = r.record_id JOIN blobs b ON b.sha256 = v.content_hash "
            "WHERE r.record_id = ?", (out["record_id"],),
        ).fetchone()  # fmt: skip
        logged = db.execute(
            "SELECT action, outcome FROM access_log WHERE record_id = ?", (out["record_id"],)
        ).fetchall()
        meta = json.loads(db.execute(
            "SELECT metadata_json FROM revisions WHERE record_id = ?", (out["record_id"],)
        ).fetchone()[0])  # fmt: skip
    finally:
        db.close()
    assert (media, tier.lower()) == ("application/pdf", "restricted")
    assert logged == [("publish", "ok")] and meta["access_tier"] == "restricted"

    personal = tmp_path / "answer.txt"
    personal.write_text(f"答复 申请人 {RESIDENT_ID}", encoding="utf-8")
    masked = json.loads(cli(data_dir, anvil, *_publish_args(personal, "--mask")).stdout)
    assert masked["content_hash"].removeprefix("0x") != _sha256(personal.read_bytes())
    before = _state(data_dir)
    kept = cli(data_dir, anvil, *_publish_args(personal, "--pii-override-reason", "court order"))
    assert kept.returncode == 0, kept.stderr
    assert _state(data_dir)[4] == before[4] + 1  # the override is recorded


def test_a_cli_revision_goes_through_the_same_guard(data_dir: Path, anvil, tmp_path) -> None:
    first = tmp_path / "v1.txt"
    first.write_text("第一版")
    record = json.loads(cli(data_dir, anvil, *_publish_args(first)).stdout)["record_id"]
    before = _state(data_dir)
    for name in ("png", "personal-data", "too-large", "empty"):
        data, _, says = HOSTILE[name]
        path = tmp_path / f"rev-{name}.bin"
        path.write_bytes(data)
        proc = cli(data_dir, anvil, "revise", record, str(path), "--note", "update")
        assert proc.returncode != 0 and says in proc.stderr, (name, proc.stderr)
    assert _state(data_dir) == before
    second = tmp_path / "v2.txt"
    second.write_text("第二版")
    ok = cli(data_dir, anvil, "revise", record, str(second), "--note", "update", "--json")
    assert ok.returncode == 0, ok.stderr
    db = sqlite3.connect(data_dir / "notary.sqlite3")
    try:
        query = "SELECT action FROM access_log WHERE record_id = ? ORDER BY seq"
        actions = [a for (a,) in db.execute(query, (record,))]
    finally:
        db.close()
    assert actions == ["publish", "revise"]


def _sha256(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()
