"""The `notary` CLI, run for real in subprocesses against a temp data dir and anvil.

Each start of the CLI costs seconds of imports on a loaded machine, so the flows are few
and each does a lot; they share one initialised data dir (module scope).
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from support import paths
from support.cli_run import PASSWORD, run

from notary.chain.local import free_port

ROOT = paths.ROOT


@pytest.fixture(scope="module")
def data_dir(anvil, tmp_path_factory) -> Path:
    """A data dir initialised (twice: the second run must reuse everything)."""
    path = tmp_path_factory.mktemp("notary-data")
    first = json.loads(run(path, anvil, "init", "--json").stdout)
    second = json.loads(run(path, anvil, "init", "--json").stdout)
    assert first == second  # same registry, office, keys and database
    return path


def test_init_with_a_database_that_is_down_can_be_corrected(anvil, tmp_path: Path):
    path = tmp_path / "d"
    down = f"postgresql://notary:S3cretPW@127.0.0.1:{free_port()}/notary"
    failed = run(path, anvil, "init", "--db-url", down, check=4)  # database unavailable
    assert "S3cretPW" not in failed.stderr + failed.stdout
    fixed = json.loads(
        run(
            path, anvil, "init", "--db-url", f"sqlite:///{tmp_path / 'ok.sqlite3'}", "--json"
        ).stdout
    )
    assert fixed["db_url"].endswith("ok.sqlite3")


def test_init_twice_reuses_registry_office_and_keys(data_dir: Path):
    assert (data_dir / "keys" / "governance.json").exists()
    assert (data_dir / "keys" / "office-demo.json").stat().st_mode & 0o077 == 0
    assert "registry" in json.loads((data_dir / "chain.json").read_text())


def test_publish_revise_revoke_and_read_back(data_dir: Path, anvil, tmp_path: Path):
    a, b, c = (tmp_path / n for n in ("a.txt", "b.txt", "a2.txt"))
    a.write_text("budget 2024")
    b.write_text("final accounts 2023")
    c.write_text("budget 2024, corrected")
    published = json.loads(
        run(data_dir, anvil, "publish", str(a), str(b), "--title", "Budget",
            "--category", "budget", "--json").stdout
    )  # fmt: skip
    assert [p["anchor_state"] for p in published] == ["anchored", "anchored"]
    record = published[0]["record_id"]
    assert published[0]["verify_url"].startswith("http://")
    revised = json.loads(run(data_dir, anvil, "revise", record, str(c), "--json").stdout)
    assert (revised["version"], revised["anchor_state"]) == (2, "anchored")
    status = json.loads(run(data_dir, anvil, "status", str(c), "--json").stdout)
    assert (status["record_id"], status["chain_version"]) == (record, 2)
    revoked = json.loads(
        run(data_dir, anvil, "revoke", record, "--reason", "wrong figures", "--json").stdout
    )
    assert revoked["state"] == "anchored"
    history = json.loads(run(data_dir, anvil, "history", record, "--json").stdout)
    assert history["status"] == "revoked"
    assert [r["version"] for r in history["revisions"]] == [1, 2]
    blobs = sorted((data_dir / "blobs").rglob("*"))
    late = tmp_path / "a3.txt"
    late.write_text("budget 2024, corrected again")
    refused = run(data_dir, anvil, "revise", record, str(late), check=1)
    assert "revoked" in refused.stderr
    assert sorted((data_dir / "blobs").rglob("*")) == blobs  # a refused file is not stored


def test_bad_input_gets_one_line_and_its_exit_code(data_dir: Path, anvil, tmp_path: Path):
    missing = run(data_dir, anvil, "publish", str(tmp_path / "nope.pdf"), "--title", "t",
                  "--category", "c", check=1)  # fmt: skip
    assert "no such file" in missing.stderr
    unknown = run(data_dir, anvil, "history", "00000001" + "ab" * 28, "--json", check=1)
    assert json.loads(unknown.stdout)["exit_code"] == 1
    f = tmp_path / "x.txt"
    f.write_text("x")
    wrong = run(data_dir, anvil, "publish", str(f), "--title", "t", "--category", "c",
                password="not-the-password", check=3)  # fmt: skip
    assert "wrong password" in wrong.stderr
    usage = run(data_dir, anvil, "publish", str(f), check=2)
    assert "title" in usage.stderr.lower()
    date = run(data_dir, anvil, "publish", str(f), "--title", "t", "--category", "c",
               "--published-on", "2024-13-01", check=2)  # fmt: skip
    assert "YYYY-MM-DD" in date.stderr


def test_a_suspended_office_is_refused_as_unauthorised(data_dir: Path, anvil, tmp_path: Path):
    # A key left by an attempt that failed before registering is used again, not refused.
    from notary.storage.keystore import create_key, key_path

    create_key(key_path(data_dir, "office", "tax"), PASSWORD, scrypt_n=1024)
    assert (
        "must not be empty"
        in run(data_dir, anvil, "office", "add", "tax", "--name", " ", check=1).stderr
    )
    run(data_dir, anvil, "office", "add", "tax", "--name", "Tax office")
    run(data_dir, anvil, "office", "suspend", "tax")
    # A suspension whose database update failed (here: undone) completes when run again.
    with sqlite3.connect(data_dir / "notary.sqlite3") as db:
        db.execute("UPDATE offices SET status = 'active' WHERE name = 'Tax office'")
    run(data_dir, anvil, "office", "suspend", "tax")
    with sqlite3.connect(data_dir / "notary.sqlite3") as db:
        [(status,)] = db.execute("SELECT status FROM offices WHERE name = 'Tax office'")
    assert status == "suspended"
    f = tmp_path / "notice.txt"
    f.write_text("notice")
    refused = run(data_dir, anvil, "publish", str(f), "--title", "t", "--category", "c",
                  "--office", "tax", check=3)  # fmt: skip
    assert "suspended" in refused.stderr


def test_a_publish_the_chain_did_not_take_says_it_was_accepted(
    data_dir: Path, anvil, tmp_path: Path
):
    # The record is committed before anchoring: repeating the command made a second record.
    f = tmp_path / "late.txt"
    f.write_text("published while the chain was down")

    class Down:
        url = f"http://127.0.0.1:{free_port()}"

    refused = run(data_dir, Down, "publish", str(f), "--title", "t", "--category", "c", check=4)
    assert "Accepted and waiting to be anchored: 1 file(s)" in refused.stderr
    assert "do not repeat" in refused.stderr


def test_a_certificate_is_not_revised(data_dir: Path, anvil, tmp_path: Path):
    # Certificates are issued through the API; one in the same database is refused here too.
    f = tmp_path / "licence.txt"
    f.write_text("licence")
    published = json.loads(
        run(data_dir, anvil, "publish", str(f), "--title", "Licence", "--category", "c",
            "--json").stdout
    )  # fmt: skip
    record = published["record_id"]
    with sqlite3.connect(data_dir / "notary.sqlite3") as db:
        db.execute("UPDATE records SET kind = 'certificate' WHERE record_id = ?", (record,))
    f.write_text("licence, unsalted")
    refused = run(data_dir, anvil, "revise", record, str(f), check=1)
    assert "certificate cannot be revised" in refused.stderr
    history = json.loads(run(data_dir, anvil, "history", record, "--json").stdout)
    assert [r["version"] for r in history["revisions"]] == [1]


def test_stamp_puts_a_verifiable_code_on_every_page(data_dir: Path, anvil, tmp_path: Path):
    from support.pdf_samples import PageSpec, reportlab_pdf

    from notary.pdf.stamp import read_stamp_urls, recover_original

    pdf = tmp_path / "release.pdf"
    pdf.write_bytes(reportlab_pdf((PageSpec(), PageSpec(), PageSpec())))
    published = json.loads(
        run(data_dir, anvil, "publish", str(pdf), "--title", "Release", "--category", "guide",
            "--json").stdout
    )  # fmt: skip
    out = tmp_path / "stamped.pdf"
    done = json.loads(
        run(data_dir, anvil, "stamp", published["record_id"], str(pdf), "-o", str(out),
            "--json").stdout
    )  # fmt: skip
    assert done["version"] == 1
    stamped = out.read_bytes()
    assert stamped.startswith(pdf.read_bytes())
    assert recover_original(stamped) == pdf.read_bytes()
    urls = read_stamp_urls(stamped)
    assert len(urls) == 3 and urls[0] != urls[1]
    assert all(u.startswith("http://") and "/v/" in u for u in urls)
    other = tmp_path / "other.pdf"
    other.write_bytes(reportlab_pdf(title="other"))
    refused = run(data_dir, anvil, "stamp", published["record_id"], str(other), "-o",
                  str(tmp_path / "x.pdf"), check=1)  # fmt: skip
    assert "not a published version" in refused.stderr
