"""Content hashing: streamed SHA-256 / SM3 agree with hashlib on any data and any chunking."""

from __future__ import annotations

import hashlib
import io
import random
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from notary.errors import InvalidInput
from notary.formats.hashing import (
    CHUNK_SIZE,
    ContentHash,
    Digest,
    hash_file,
    hash_stream,
    sha256_bytes,
    sha256_file,
    sha256_stream,
    sm3_bytes,
)


def _sm3(data: bytes) -> bytes:
    h = hashlib.new("sm3")
    h.update(data)
    return h.digest()


class _ReadOnly(io.RawIOBase):
    """A stream with `read` but no usable `readinto`, returning short reads."""

    def __init__(self, data: bytes, step: int) -> None:
        self._data, self._pos, self._step = data, 0, step

    def read(self, n: int = -1) -> bytes:
        n = self._step if n < 0 else min(n, self._step)
        chunk = self._data[self._pos : self._pos + n]
        self._pos += len(chunk)
        return chunk

    readinto = None  # type: ignore[assignment]


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=5000))
def test_hashing_bytes_matches_hashlib(data: bytes) -> None:
    assert sha256_bytes(data).value == hashlib.sha256(data).digest()
    assert sm3_bytes(data).value == _sm3(data)


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=5000), st.integers(min_value=1, max_value=700))
def test_stream_without_readinto_matches_hashlib(data: bytes, step: int) -> None:
    result = hash_stream(_ReadOnly(data, step), sm3=True)
    assert result.sha256.value == hashlib.sha256(data).digest()
    assert result.sm3 is not None and result.sm3.value == _sm3(data)
    assert result.size == len(data)


@settings(max_examples=25, deadline=None)
@given(
    st.sampled_from([0, 1, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 2 * CHUNK_SIZE])
    | st.integers(min_value=0, max_value=3 * CHUNK_SIZE + 7),
    st.integers(min_value=0, max_value=2**32),
)
def test_file_hash_matches_hashlib_across_chunk_boundaries(
    tmp_path_factory: pytest.TempPathFactory, size: int, seed: int
) -> None:
    data = random.Random(seed).randbytes(size)
    path = tmp_path_factory.mktemp("h") / "f.bin"
    path.write_bytes(data)
    both = hash_file(path, sm3=True)
    assert both.sha256.value == hashlib.sha256(data).digest()
    assert both.sm3 is not None and both.sm3.value == _sm3(data)
    assert both.size == size
    only = hash_file(path)
    assert only.sm3 is None and only.sha256 == both.sha256 and only.size == size
    assert sha256_file(path) == both.sha256


def test_stream_hash_reads_from_the_current_position() -> None:
    stream = io.BytesIO(b"headerBODY")
    stream.read(6)
    assert sha256_stream(stream).value == hashlib.sha256(b"BODY").digest()


@pytest.mark.skipif(shutil.which("sha256sum") is None, reason="needs coreutils sha256sum")
def test_file_hash_equals_sha256sum_output(tmp_path: Path) -> None:
    path = tmp_path / "doc.pdf"
    path.write_bytes(b"%PDF-1.7\n" + bytes(range(256)) * 5000)
    out = subprocess.run(["sha256sum", str(path)], capture_output=True, text=True, check=True)
    assert sha256_file(path).hex() == out.stdout.split()[0]


def test_missing_file_is_invalid_input(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="cannot hash"):
        hash_file(tmp_path / "nope.pdf")
    with pytest.raises(InvalidInput):
        hash_file(tmp_path)


def test_text_stream_is_refused() -> None:
    with pytest.raises(InvalidInput, match="binary"):
        hash_stream(io.StringIO("text"))  # type: ignore[arg-type]


def test_digest_is_a_frozen_32_byte_value() -> None:
    d = Digest(bytes(range(32)))
    assert d.hex() == bytes(range(32)).hex()
    assert d.hex0x() == "0x" + d.hex()
    assert str(d) == d.hex() and bytes(d) == d.value
    assert Digest.from_hex(d.hex0x()) == d == Digest.from_hex(d.hex().upper())
    assert ContentHash is Digest
    assert hash(d) == hash(Digest(bytearray(range(32))))
    with pytest.raises(AttributeError):
        d.value = b""  # type: ignore[misc]


@pytest.mark.parametrize("bad", [bytes(31), bytes(33), "00" * 32, 7, None])
def test_digest_refuses_anything_but_32_bytes(bad: object) -> None:
    with pytest.raises(InvalidInput):
        Digest(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "text", ["", "0x", "ab" * 31, "ab" * 33, "zz" * 32, "0X" + "ab" * 31 + "a", " " + "ab" * 32]
)
def test_digest_from_hex_is_strict(text: str) -> None:
    with pytest.raises(InvalidInput):
        Digest.from_hex(text)
