"""The CLI door refuses the same free text as the API: characters outside the free-text rule
and personal data in text that becomes public (real CLI subprocesses, real anvil)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from support.cli_run import run

from notary.pii import resident_id_check_digit

ID17 = "11010519900307123"
RESIDENT_ID = ID17 + resident_id_check_digit(ID17)


@pytest.fixture(scope="module")
def data_dir(anvil, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("door-cli")
    run(path, anvil, "init", "--json")
    return path


def _counts(data_dir: Path) -> tuple[int, int, int, int]:
    db = sqlite3.connect(data_dir / "notary.sqlite3")
    try:
        rows = [db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in
                ("records", "revisions", "revocations", "offices")]  # fmt: skip
    finally:
        db.close()
    blobs = sum(1 for p in (data_dir / "blobs").rglob("*") if p.is_file())
    return (*rows[:3], blobs)


def test_cli_refuses_bidi_and_invisible_characters(data_dir: Path, anvil, tmp_path: Path):
    release = tmp_path / "release.txt"
    release.write_text("budget 2026")
    before = _counts(data_dir)
    for args, code_point in [
        (("--title", "invoice\u202egpj.exe", "--category", "budget"), "U+202E"),
        (("--title", "Budget", "--category", "bud\u200eget"), "U+200E"),
    ]:
        out = run(data_dir, anvil, "publish", str(release), *args, check=1)
        assert code_point in out.stderr, out.stderr
    published = json.loads(
        run(
            data_dir,
            anvil,
            "publish",
            str(release),
            "--title",
            "Budget",
            "--category",
            "b",
            "--json",
        ).stdout
    )
    record = published["record_id"]
    out = run(data_dir, anvil, "revoke", record, "--reason", "wrong\u2067 figures", check=1)
    assert "--reason" in out.stderr and "U+2067" in out.stderr
    update = tmp_path / "update.txt"
    update.write_text("budget 2026, corrected")
    out = run(data_dir, anvil, "revise", record, str(update), "--note", "fix\u200b", check=1)
    assert "--note" in out.stderr and "U+200B" in out.stderr
    out = run(data_dir, anvil, "office", "add", "tax", "--name", "Tax\u202e office", check=1)
    assert "--name" in out.stderr and "U+202E" in out.stderr
    records, revisions, revocations, blobs = _counts(data_dir)
    assert (records, revisions, revocations) == (before[0] + 1, before[1] + 1, before[2])
    assert blobs == before[3] + 1  # only the accepted release


def test_cli_refuses_personal_data_in_public_text(data_dir: Path, anvil, tmp_path: Path):
    release = tmp_path / "answer.txt"
    release.write_text("the answer to an application")
    before = _counts(data_dir)
    out = run(
        data_dir, anvil, "publish", str(release), "--title", f"关于{RESIDENT_ID}",
        "--category", "answers", check=1,
    )  # fmt: skip
    assert "personal data" in out.stderr and "--title: id_card" in out.stderr
    assert RESIDENT_ID not in out.stderr  # only the masked preview
    published = json.loads(
        run(
            data_dir,
            anvil,
            "publish",
            str(release),
            "--title",
            "Answer",
            "--category",
            "a",
            "--json",
        ).stdout
    )
    out = run(
        data_dir, anvil, "revoke", published["record_id"], "--reason", "电话 13812345678",
        check=1,
    )  # fmt: skip
    assert "--reason: mobile" in out.stderr
    after = _counts(data_dir)
    assert after[2] == before[2] and after[0] == before[0] + 1
