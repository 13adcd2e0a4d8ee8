"""The content-addressed blob store: atomic writes, size bounds, safe names, bad disks."""

from __future__ import annotations

import errno
import hashlib
import io
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support import paths

from api.services import blobs
from notary.errors import InvalidInput, NotFound, Unavailable
from notary.storage import atomic, blobstore
from notary.storage.blobstore import (
    TEMP_DIR,
    BlobNotFound,
    BlobStore,
    BlobTooLarge,
    InvalidBlobName,
    StorageUnavailable,
)

REPO = paths.ROOT


def stored_files(store: BlobStore) -> list[Path]:
    """Every file under real names (everything outside tmp/)."""
    return [
        p
        for p in store.root.rglob("*")
        if p.is_file() and TEMP_DIR not in p.relative_to(store.root).parts
    ]


def temp_files(store: BlobStore) -> list[Path]:
    tmp = store.root / TEMP_DIR
    return list(tmp.iterdir()) if tmp.exists() else []


class FailingStream(io.RawIOBase):
    """Yields `good` bytes, then raises as a dropped upload would."""

    def __init__(self, good: bytes) -> None:
        self.good = io.BytesIO(good)

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        chunk = self.good.read(size)
        if not chunk:
            raise ConnectionResetError("client went away")
        return chunk


# -- storing and reading -----------------------------------------------------------------


def test_put_stores_under_the_sha256_with_a_fan_out_path(blob_store: BlobStore) -> None:
    data = "政府信息公开".encode() * 1000
    sha, size = blob_store.put_stream(io.BytesIO(data))
    assert sha == hashlib.sha256(data).hexdigest() and size == len(data)
    assert blob_store.path(sha) == blob_store.root / sha[:2] / sha[2:4] / sha
    assert blob_store.relative_path(sha) == f"{sha[:2]}/{sha[2:4]}/{sha}"
    assert blob_store.exists(sha) and blob_store.size(sha) == size and blob_store.verify(sha)
    with blob_store.open(sha) as f:
        assert f.read() == data
    assert temp_files(blob_store) == []


def test_storing_the_same_bytes_twice_keeps_one_file(blob_store: BlobStore) -> None:
    first = blob_store.put_bytes(b"same")
    assert blob_store.put_bytes(b"same") == first
    assert stored_files(blob_store) == [blob_store.path(first[0])]


def test_large_streams_are_hashed_across_chunks(blob_store: BlobStore) -> None:
    data = os.urandom(3 * (1 << 20) + 17)
    sha, size = blob_store.put_stream(io.BytesIO(data))
    assert (sha, size) == (hashlib.sha256(data).hexdigest(), len(data))


def test_empty_file_is_a_valid_blob(blob_store: BlobStore) -> None:
    sha, size = blob_store.put_bytes(b"")
    assert sha == hashlib.sha256(b"").hexdigest() and size == 0 and blob_store.verify(sha)


@settings(max_examples=30, deadline=None)
@given(data=st.binary(max_size=4096))
def test_any_bytes_round_trip(tmp_path_factory: pytest.TempPathFactory, data: bytes) -> None:
    store = BlobStore(tmp_path_factory.mktemp("prop"), fsync=False)
    sha, _ = store.put_bytes(data)
    with store.open(sha) as f:
        assert f.read() == data
    assert sha == hashlib.sha256(data).hexdigest()


def test_put_many_stores_each_once_and_names_them_in_order(blob_store: BlobStore) -> None:
    before, _ = blob_store.put_bytes(b"already stored")
    datas = [b"one", b"two", b"already stored", b"one", b""]
    names = blob_store.put_many(datas)
    assert names == [hashlib.sha256(d).hexdigest() for d in datas]
    assert names[2] == before
    for name, data in zip(names, datas, strict=True):
        assert blob_store.path(name).read_bytes() == data
    assert len(stored_files(blob_store)) == 4 and temp_files(blob_store) == []


def test_put_many_flushes_the_files_before_naming_them_then_the_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = BlobStore(tmp_path / "blobs")
    datas = [f"release {i}".encode() for i in range(8)]
    names = [hashlib.sha256(d).hexdigest() for d in datas]
    rounds: list[tuple[int, int]] = []  # (temp files, named files) at each flush
    real = blobstore.sync_filesystem

    def spy(fd: int) -> bool:
        named = sum(store.path(n).exists() for n in names)
        rounds.append((len(temp_files(store)), named))
        return real(fd)

    monkeypatch.setattr(blobstore, "sync_filesystem", spy)
    monkeypatch.setattr(os, "fsync", lambda fd: pytest.fail("an fsync per file"))
    if atomic._SYNCFS is None:
        pytest.skip("no syncfs with error reporting here: put_many fsyncs file by file")
    assert store.put_many(datas) == names
    assert rounds == [(8, 0), (0, 8)]


@pytest.mark.parametrize("store_many", [False, True])
def test_a_name_that_exists_is_written_and_flushed_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, store_many: bool
) -> None:
    # A name exists from its rename on, before its flush: it may be another writer's copy
    # still unflushed, or one whose flush failed. Finding it must not count as stored.
    store = BlobStore(tmp_path / "blobs")
    data = b"flushed once, then the disk failed"
    flushes: list[str] = []
    real_syncfs, real_fsync_dir = blobstore.sync_filesystem, blobstore.fsync_dir
    syncfs_calls = []

    def failing_syncfs(fd: int) -> bool:
        syncfs_calls.append(fd)
        if len(syncfs_calls) == 2:  # put_many's second flush: the names, after the renames
            flushes.append("failed")
            raise OSError(errno.EIO, "syncfs: Input/output error")
        flushes.append("ok")
        return real_syncfs(fd)

    def failing_fsync_dir(folder: Path) -> None:
        if "failed" not in flushes:
            flushes.append("failed")
            raise OSError(errno.EIO, "fsync: Input/output error")
        flushes.append("ok")
        real_fsync_dir(folder)

    monkeypatch.setattr(blobstore, "sync_filesystem", failing_syncfs)
    monkeypatch.setattr(blobstore, "fsync_dir", failing_fsync_dir)

    name = hashlib.sha256(data).hexdigest()

    def put() -> str:  # the publish writer's path, or the one of a request storing its file
        if store_many:
            return store.put_many([data])[0]
        blobs.write_file(store.root, name, data)
        return name

    with pytest.raises(StorageUnavailable):
        put()
    assert "failed" in flushes
    first = store.path(name).stat().st_ino  # left under its name, unflushed
    assert put() == name
    assert flushes[-1] == "ok" and store.path(name).stat().st_ino != first
    assert store.path(name).read_bytes() == data


@pytest.mark.parametrize("store_many", [False, True])
def test_a_new_folder_is_synced_into_its_parent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, store_many: bool
) -> None:
    # Syncing only `ab/cd` would leave the names `ab` and `cd` themselves unsynced: a power
    # cut could then lose a file whose publish was acknowledged.
    synced: list[Path] = []
    real = blobstore.fsync_dir
    monkeypatch.setattr(blobstore, "fsync_dir", lambda d: (synced.append(d), real(d)))
    # put_many syncs folder by folder only where syncfs is missing: as there, here.
    monkeypatch.setattr(blobstore, "sync_filesystem", lambda fd: False)
    store = BlobStore(tmp_path / "blobs")

    def put(data: bytes) -> Path:
        name = store.put_many([data])[0] if store_many else store.put_bytes(data)[0]
        return store.path(name).parent

    first = put(b"first")
    assert sorted(synced) == sorted([first, first.parent, store.root])
    synced.clear()
    # Bytes with the same first two hex digits but other next two: only `cd` is new.
    sibling = next(
        data
        for i in range(100_000)
        if (h := hashlib.sha256(data := str(i).encode()).hexdigest())[:2] == first.parent.name
        and h[2:4] != first.name
    )
    second = put(sibling)
    assert sorted(synced) == sorted([second, second.parent])
    synced.clear()
    put(b"first, again")  # a folder that may exist or not: never fewer than the file's own
    assert store.path(hashlib.sha256(b"first, again").hexdigest()).parent in synced


def test_verify_notices_changed_bytes(blob_store: BlobStore) -> None:
    sha, _ = blob_store.put_bytes(b"original")
    path = blob_store.path(sha)
    path.chmod(0o644)
    path.write_bytes(b"tampered")
    assert blob_store.verify(sha) is False


def test_missing_blob_is_not_found(blob_store: BlobStore) -> None:
    missing = hashlib.sha256(b"never stored").hexdigest()
    assert not blob_store.exists(missing)
    for call in (blob_store.open, blob_store.verify, blob_store.size):
        with pytest.raises(BlobNotFound) as info:
            call(missing)
        assert isinstance(info.value, NotFound) and isinstance(info.value, KeyError)


# -- bounds and failures leave nothing behind --------------------------------------------


def test_oversized_stream_is_refused_and_leaves_nothing(tmp_path: Path) -> None:
    store = BlobStore(tmp_path / "blobs", max_size=1000)
    assert store.put_bytes(b"x" * 1000)[1] == 1000  # exactly the limit is fine
    with pytest.raises(BlobTooLarge) as info:
        store.put_stream(io.BytesIO(b"y" * 1001))
    assert isinstance(info.value, InvalidInput) and info.value.limit == 1000
    with pytest.raises(BlobTooLarge):  # a per-call bound overrides the store's
        store.put_stream(io.BytesIO(b"z" * 11), max_size=10)
    assert len(stored_files(store)) == 1 and temp_files(store) == []


def test_stream_error_midway_leaves_no_final_and_no_temp_file(blob_store: BlobStore) -> None:
    with pytest.raises(ConnectionResetError):
        blob_store.put_stream(FailingStream(b"a" * (3 << 20)))  # type: ignore[arg-type]
    assert stored_files(blob_store) == [] and temp_files(blob_store) == []


def test_killed_writer_never_leaves_a_blob_under_a_real_name(tmp_path: Path) -> None:
    """SIGKILL a process in the middle of `put_stream`: at most an orphan in tmp/ remains."""
    root = tmp_path / "blobs"
    script = textwrap.dedent(
        f"""
        import sys, time
        from notary.storage.blobstore import BlobStore

        class Slow:
            def __init__(self):
                self.sent = 0
            def read(self, n):
                if self.sent >= 2:
                    print("writing", flush=True)
                    time.sleep(60)  # killed here, mid-stream
                self.sent += 1
                return b"x" * n

        BlobStore({str(root)!r}).put_stream(Slow())
        """
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "writing"
        (orphan,) = temp_files(BlobStore(root))
        assert orphan.stat().st_size > 0  # the write was really in progress
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    store = BlobStore(root)
    assert stored_files(store) == []
    assert store.clean_temp(older_than_s=3600) == 0  # fresh orphans are left alone …
    assert store.clean_temp(older_than_s=0) == 1  # … old ones removed
    assert temp_files(store) == []


def test_clean_temp_on_a_new_store_is_harmless(tmp_path: Path) -> None:
    assert BlobStore(tmp_path / "nothing-yet").clean_temp(older_than_s=0) == 0


# -- names -------------------------------------------------------------------------------

GOOD = hashlib.sha256(b"x").hexdigest()
BAD_NAMES = [
    "",
    "../../etc/passwd",
    "/etc/passwd",
    "../" + GOOD[3:],
    GOOD[:2] + "/" + GOOD[3:],
    GOOD.upper(),
    "0x" + GOOD[2:],
    GOOD[:-1],
    GOOD + "0",
    GOOD + "\n",
    GOOD[:-1] + "\x00",
    "g" * 64,
    ".." * 32,
]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_names_that_are_not_64_lowercase_hex_are_refused(blob_store: BlobStore, name: str) -> None:
    for call in (blob_store.path, blob_store.exists, blob_store.open, blob_store.verify):
        with pytest.raises(InvalidBlobName) as info:
            call(name)
        assert isinstance(info.value, InvalidInput)


def test_non_string_names_are_refused(blob_store: BlobStore) -> None:
    with pytest.raises(InvalidBlobName):
        blob_store.path(bytes.fromhex(GOOD))  # type: ignore[arg-type]


# -- read-only and full disks ------------------------------------------------------------


def _mount(*args: str) -> bool:
    return subprocess.run(["mount", *args], capture_output=True).returncode == 0


@pytest.fixture
def mounted_tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A small tmpfs of our own (root only), unmounted after the test."""
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    if os.geteuid() != 0 or not _mount("-t", "tmpfs", "-o", "size=512k", "tmpfs", str(mnt)):
        pytest.skip("needs root and mount(8) for a real read-only / full file system")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_read_only_disk_raises_storage_unavailable(mounted_tmpfs: Path) -> None:
    store = BlobStore(mounted_tmpfs / "blobs")
    sha, _ = store.put_bytes(b"published before the disk went read-only")
    assert _mount("-o", "remount,ro", str(mounted_tmpfs))
    with pytest.raises(StorageUnavailable) as info:
        store.put_bytes(b"new upload")
    assert isinstance(info.value, Unavailable) and "not writable" in str(info.value)
    assert store.verify(sha)  # reading still works
    assert stored_files(store) == [store.path(sha)]


def test_read_only_directory_raises_storage_unavailable(tmp_path: Path) -> None:
    """Without root: a directory the process cannot write (skipped as root, which may)."""
    if os.geteuid() == 0:
        pytest.skip("root ignores directory permissions; the tmpfs test covers this")
    root = tmp_path / "blobs"
    root.mkdir()
    root.chmod(0o555)
    try:
        with pytest.raises(StorageUnavailable):
            BlobStore(root).put_bytes(b"x")
    finally:
        root.chmod(0o755)


def test_put_many_on_a_read_only_disk_stores_nothing(mounted_tmpfs: Path) -> None:
    store = BlobStore(mounted_tmpfs / "blobs")
    store.put_bytes(b"before")
    assert _mount("-o", "remount,ro", str(mounted_tmpfs))
    with pytest.raises(StorageUnavailable):
        store.put_many([b"a", b"b"])
    assert len(stored_files(store)) == 1


def test_put_many_on_a_full_disk_leaves_no_temp_file(mounted_tmpfs: Path) -> None:
    store = BlobStore(mounted_tmpfs / "blobs")
    with pytest.raises(StorageUnavailable):
        store.put_many([b"small", b"\0" * (2 << 20)])  # the second does not fit in 512 KiB
    assert stored_files(store) == [] and temp_files(store) == []


def test_full_disk_raises_storage_unavailable_and_cleans_up(mounted_tmpfs: Path) -> None:
    store = BlobStore(mounted_tmpfs / "blobs")
    with pytest.raises(StorageUnavailable):
        store.put_stream(io.BytesIO(b"\0" * (2 << 20)))  # 2 MiB into 512 KiB
    assert stored_files(store) == [] and temp_files(store) == []
