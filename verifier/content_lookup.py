"""A content index over HTTP: a publishing service's public lookup route, for `--index URL`.

`verifier check FILE` finds unstamped bytes by their SHA-256. Without an index that means
reading every `RevisionAnchored` log of every trusted registry (work that grows with the
chain). With `--index URL` the verifier asks the service at URL which anchored revisions
hold the hash (`GET {URL}/api/v1/content/{sha256}`), and `verifier.verify` reads each named
revision on chain in the one block the service names: only revisions of trusted registries,
with exactly that content hash, count. The index is a hint and nothing more: one that lies
can make the verifier say "unknown", never "authentic" (docs/verifier.md).

The answer is read strictly (size, shape, types); a service that cannot be reached, or that
answers something else, makes the verdict "unavailable" with the reason, as a node would.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit

from verifier.source import SourceUnavailable
from verifier.verify import MAX_INDEX_HITS, ContentHit, ContentIndex

LOOKUP_PATH = "/api/v1/content/"
MAX_ANSWER_BYTES = 64 * 1024
"""An honest answer names at most 8 revisions (about 2 KB); more is not read."""
TIMEOUT_S = 5.0

_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
_BYTES32 = re.compile(r"[0-9a-fA-F]{64}")


class IndexUrlError(ValueError):
    """The `--index` URL is not an http(s) URL."""


def _base(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        raise IndexUrlError(f"--index must be an http(s) URL of a publishing service: {url!r}")
    return url.rstrip("/")


def _int(value: Any, name: str, *, lo: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < lo:
        raise ValueError(f"{name} must be an integer >= {lo}")
    return value


def _hit(item: Any) -> ContentHit:
    if not isinstance(item, dict):
        raise ValueError("an anchor must be an object")
    registry, record_id = item.get("registry"), item.get("record_id")
    if not isinstance(registry, str) or not _ADDRESS.fullmatch(registry):
        raise ValueError("registry must be an address")
    if not isinstance(record_id, str) or not _BYTES32.fullmatch(record_id.removeprefix("0x")):
        raise ValueError("record_id must be 64 hex digits")
    block = item.get("block_number")
    return ContentHit(
        chain_id=_int(item.get("chain_id"), "chain_id", lo=1),
        registry=registry,
        record_id=bytes.fromhex(record_id.removeprefix("0x")),
        version=_int(item.get("version"), "version", lo=1),
        block=None if block is None else _int(block, "block_number"),
    )


def parse_answer(body: bytes) -> list[ContentHit]:
    """The hits of a lookup answer (at most `MAX_INDEX_HITS`); ValueError when malformed."""
    data = json.loads(body)
    anchors = data.get("anchors") if isinstance(data, dict) else None
    if not isinstance(anchors, list):
        raise ValueError("no list of anchors")
    return [_hit(a) for a in anchors[:MAX_INDEX_HITS]]


def http_index(url: str, *, timeout: float = TIMEOUT_S) -> ContentIndex:
    """The content index served at `url` (a service's base URL; IndexUrlError if not http)."""
    base = _base(url)

    def lookup(digest: bytes) -> list[ContentHit]:
        request = urllib.request.Request(
            base + LOOKUP_PATH + digest.hex(), headers={"Accept": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                body = response.read(MAX_ANSWER_BYTES + 1)
        except urllib.error.HTTPError as exc:
            if exc.code == 404:  # the service knows no anchor of these bytes
                return []
            raise SourceUnavailable(f"the index at {base} answered HTTP {exc.code}") from None
        except (OSError, ValueError) as exc:
            raise SourceUnavailable(f"the index at {base} cannot be reached: {exc}") from None
        if len(body) > MAX_ANSWER_BYTES:
            raise SourceUnavailable(f"the index at {base} answered more than 64 KiB")
        try:
            return parse_answer(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise SourceUnavailable(f"the index at {base} answered garbage: {exc}") from None

    return lookup
