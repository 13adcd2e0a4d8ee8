"""Files at rest are the service user's alone: folders 0700, files 0600, blobs 0400.

Every test runs under umask 022 (what a login shell usually has), so the modes come from the
code, not from a strict umask the test happened to inherit.
"""

from __future__ import annotations

import os
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from notary.db.session import make_engine
from notary.local.setup import stop_embedded_chain
from notary.storage.blobstore import BlobStore
from notary.storage.private_files import InsecurePath, NotADirectory, private_dir, private_file


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def loose_umask() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


@pytest.mark.usefixtures("loose_umask")
def test_blobs_are_owner_read_only_and_their_folders_owner_only(tmp_path: Path) -> None:
    # They were 0444 in 0755 folders: any local user could read every restricted file and
    # every certificate holder's data.
    store = BlobStore(tmp_path / "blobs", fsync=False)
    one, _ = store.put_bytes(b"a restricted release")
    many = store.put_many([b"a certificate", b"its holder data"])
    for name in (one, *many):
        assert _mode(store.path(name)) == 0o400
    folders = [p for p in (tmp_path / "blobs").rglob("*") if p.is_dir()]
    assert folders and all(_mode(p) == 0o700 for p in [tmp_path / "blobs", *folders])


@pytest.mark.usefixtures("loose_umask")
def test_a_new_data_dir_is_0700_with_its_parents(tmp_path: Path) -> None:
    made = private_dir(tmp_path / "new" / "data")
    assert _mode(made) == 0o700 and _mode(tmp_path / "new") == 0o700


@pytest.mark.usefixtures("loose_umask")
def test_an_existing_readable_data_dir_is_tightened(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    assert _mode(data) == 0o755
    private_dir(data)
    assert _mode(data) == 0o700


@pytest.mark.parametrize("mode", [0o755, 0o700])
def test_a_data_dir_of_another_user_is_refused_and_left_alone(tmp_path: Path, mode: int) -> None:
    # Even at 0700 its owner could read, rename or replace the keys and the database in it.
    data = tmp_path / "theirs"
    data.mkdir()
    data.chmod(mode)
    if os.geteuid() == 0:
        os.chown(data, 65534, 65534)  # as root: make it someone else's
    elif mode == 0o755:
        data = Path("/usr")  # root's, 0755: never ours
    else:
        pytest.skip("making a folder another user's needs root")
    before = _mode(data)
    with pytest.raises(InsecurePath, match="not this user"):
        private_dir(data)
    assert _mode(data) == before


def test_a_data_dir_path_that_is_a_file_is_bad_input(tmp_path: Path) -> None:
    (tmp_path / "file").write_bytes(b"")
    with pytest.raises(NotADirectory, match="is not a directory"):
        private_dir(tmp_path / "file")
    with pytest.raises(NotADirectory, match="is a file"):
        private_dir(tmp_path / "file" / "data")


@pytest.mark.usefixtures("loose_umask")
def test_private_file_tightens_and_reports_missing(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_bytes(b"{}")
    path.chmod(0o644)
    assert private_file(path) is True and _mode(path) == 0o600
    assert private_file(tmp_path / "missing") is False


@pytest.mark.usefixtures("loose_umask")
def test_the_sqlite_database_and_its_wal_and_shm_are_0600(tmp_path: Path) -> None:
    db = tmp_path / "db" / "notary.sqlite3"
    engine = make_engine(f"sqlite:///{db}")
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE t (x TEXT)"))
            conn.execute(text("INSERT INTO t VALUES ('holder data')"))
        with engine.connect() as conn:  # WAL mode: the -wal and -shm exist while it is open
            conn.execute(text("SELECT * FROM t")).all()
            files = [db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")]
            assert all(p.exists() for p in files)
            assert [_mode(p) for p in files] == [0o600] * 3
    finally:
        engine.dispose()
    assert _mode(db.parent) == 0o700


@pytest.mark.usefixtures("loose_umask")
def test_an_existing_world_readable_database_is_tightened(tmp_path: Path) -> None:
    db = tmp_path / "old.sqlite3"
    sqlite3.connect(db).close()
    db.chmod(0o644)
    make_engine(f"sqlite:///{db}").dispose()
    assert _mode(db) == 0o600


@pytest.mark.usefixtures("loose_umask")
def test_the_cli_sets_an_owner_only_umask() -> None:
    from notary.cli.main import main

    assert main(["--help"]) == 0
    assert os.umask(0o022) == 0o077


@pytest.mark.usefixtures("loose_umask")
def test_the_worker_sets_an_owner_only_umask() -> None:
    from notary.cli.worker import main

    with pytest.raises(SystemExit):
        main(["--help"])
    assert os.umask(0o022) == 0o077


@pytest.mark.usefixtures("loose_umask")
def test_the_api_app_factory_sets_an_owner_only_umask(tmp_path: Path) -> None:
    from api.core.settings import Settings
    from api.main import create_app

    create_app(Settings(data_dir=tmp_path / "data"))
    assert os.umask(0o022) == 0o077


@pytest.mark.usefixtures("loose_umask")
def test_the_api_tightens_an_existing_data_dir_and_blob_dir_on_start(tmp_path: Path) -> None:
    from api.core.db import Database
    from api.core.settings import Settings

    data, blobs = tmp_path / "data", tmp_path / "shared-blobs"
    data.mkdir(mode=0o755)
    blobs.mkdir(mode=0o755)
    database = Database(Settings(data_dir=data, blob_dir=blobs))
    try:
        database.start()
    finally:
        database.close()
    assert (_mode(data), _mode(blobs), _mode(data / "notary.sqlite3")) == (0o700, 0o700, 0o600)


@pytest.mark.usefixtures("loose_umask")
def test_a_keystore_and_its_new_folders_are_owner_only(tmp_path: Path) -> None:
    from notary.storage.keystore import FAST_SCRYPT_N, create_key

    path = tmp_path / "secrets" / "keys" / "office-tax.json"
    create_key(path, "a password", scrypt_n=FAST_SCRYPT_N)
    modes = [_mode(p) for p in (path, path.parent, path.parent.parent)]
    assert modes == [0o600, 0o700, 0o700]


def test_notary_init_refuses_a_file_or_another_users_dir_clearly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from notary.cli.main import main

    monkeypatch.setenv("NOTARY_KEYSTORE_PASSWORD", "a password")
    monkeypatch.delenv("NOTARY_RPC_URL", raising=False)
    (tmp_path / "file").write_bytes(b"")
    assert main(["init", "--data-dir", str(tmp_path / "file")]) == 1
    err = capsys.readouterr().err
    assert "is not a directory" in err and "unexpected" not in err
    if os.geteuid() != 0:
        pytest.skip("making a folder another user's needs root")
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    theirs.chmod(0o755)  # explicitly: this process's umask may be 077 by now
    os.chown(theirs, 65534, 65534)
    try:
        assert main(["init", "--data-dir", str(theirs)]) == 3  # unauthorised, as documented
    finally:
        stop_embedded_chain(theirs)  # had init gone ahead, it would have started one
    assert "not this user" in capsys.readouterr().err
    assert _mode(theirs) == 0o755 and list(theirs.iterdir()) == []


def test_a_database_file_that_cannot_be_created_is_unavailable_not_a_crash() -> None:
    # /proc/self takes no new files, even for root: SQLite's own error is what is reported.
    from notary.db.session import DatabaseUnavailable, session_factory, unit_of_work

    engine = make_engine("sqlite:////proc/self/notary.sqlite3")
    try:
        with pytest.raises(DatabaseUnavailable), unit_of_work(session_factory(engine)) as s:
            s.execute(text("SELECT 1"))
    finally:
        engine.dispose()
