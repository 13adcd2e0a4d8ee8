"""Uploads held while a clerk reviews the personal data found in them.

When the PII guard stops a console publish, the clerk chooses to mask or to override with a
reason without sending the file again: the bytes wait here, in the data directory
(`console-staging/`, owner-only files), named by a random token and bound to the session
that uploaded them. They are deleted once published or cancelled, and any left over are
deleted after `TTL_S` by the next upload. Only the session that staged a file can use it.
"""

from __future__ import annotations

import hmac
import json
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from notary.errors import NotFound
from notary.storage.atomic import atomic_write_bytes, make_dirs

FOLDER = "console-staging"
TTL_S = 30 * 60
MAX_STAGED = 200
"""Files kept at once across all sessions; the oldest go first beyond this."""


@dataclass(frozen=True, slots=True)
class Staged:
    """A held upload: its bytes and what the form said about them."""

    data: bytes
    filename: str
    content_type: str


def _folder(data_dir: Path) -> Path:
    folder = data_dir / FOLDER
    make_dirs(folder)
    return folder


def _valid(token: str) -> bool:
    return 20 <= len(token) <= 64 and all(c.isalnum() or c in "-_" for c in token)


def sweep(data_dir: Path, *, now: float | None = None) -> None:
    """Delete held files older than `TTL_S`, and the oldest beyond `MAX_STAGED`."""
    now = time.time() if now is None else now
    files = sorted(_folder(data_dir).glob("*.bin"), key=lambda p: p.stat().st_mtime)
    for i, path in enumerate(files):
        if now - path.stat().st_mtime > TTL_S or len(files) - i > MAX_STAGED:
            drop_path(path)


def drop_path(path: Path) -> None:
    """Delete a held file and its description."""
    path.unlink(missing_ok=True)
    path.with_suffix(".json").unlink(missing_ok=True)


def put(data_dir: Path, owner: str, data: bytes, filename: str, content_type: str) -> str:
    """Hold `data` for the session `owner`; returns the token naming it."""
    sweep(data_dir)
    token = secrets.token_urlsafe(24)
    folder = _folder(data_dir)
    meta = {"owner": owner, "filename": filename[:200], "content_type": content_type[:100]}
    atomic_write_bytes(folder / f"{token}.json", json.dumps(meta).encode(), mode=0o600)
    atomic_write_bytes(folder / f"{token}.bin", data, mode=0o600)
    return token


def get(data_dir: Path, owner: str, token: str) -> Staged:
    """The held upload `token` names, if `owner` staged it and it has not expired."""
    gone = NotFound("the uploaded file is no longer held; choose it again")
    if not _valid(token):
        raise gone
    folder = _folder(data_dir)
    try:
        meta = json.loads((folder / f"{token}.json").read_text())
        path = folder / f"{token}.bin"
        if time.time() - path.stat().st_mtime > TTL_S:
            drop_path(path)
            raise gone
        data = path.read_bytes()
    except (OSError, ValueError):
        raise gone from None
    if not hmac.compare_digest(str(meta.get("owner", "")), owner):
        raise gone
    return Staged(data=data, filename=meta["filename"], content_type=meta["content_type"])


def drop(data_dir: Path, token: str) -> None:
    """Delete the held upload `token` names (unknown tokens change nothing)."""
    if _valid(token):
        drop_path(_folder(data_dir) / f"{token}.bin")
