"""Where verify codes point, and which of those places are foreign (docs/qr-payload.md,
"Codes that point to another host").

A code's host is only shown, never trusted: the verdict comes from the chain. But a genuine
stamped PDF whose codes were rewritten to a look-alike host sends every reader who scans its
paper copy there, so whoever checks codes names every place they point to that is neither
its own (a service's public verify URL) nor one the trust list names for the code's registry
(`verify_hosts`). One rule for the service's upload results and the `verifier` command.

A place is an origin: scheme, host and port, the port made explicit from the scheme's
default (443 for https, 80 for http). A trust list's `verify_hosts` entry names an https
origin (`name` is port 443, `name:port` that port): a verify URL in plain http can be
answered by anyone on the network path, so it is only ever "own" for a service that itself
runs on http (a local deployment).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple
from urllib.parse import urlsplit

from verifier.payload import PayloadError, parse_code
from verifier.trust import TrustList

DEFAULT_PORTS = {"https": 443, "http": 80}


class Origin(NamedTuple):
    """Scheme, lowercase host and port of a verify URL."""

    scheme: str
    host: str
    port: int

    def __str__(self) -> str:
        """As shown in a warning: `host` for https on 443, with `:port` otherwise, and with
        `http://` in front for plain http."""
        text = self.host if self.port == DEFAULT_PORTS[self.scheme] else f"{self.host}:{self.port}"
        return text if self.scheme == "https" else f"{self.scheme}://{text}"


def origin(scheme: str, netloc: str) -> Origin | None:
    """The origin of `scheme://netloc`; None if it is not an http(s) host with a valid port."""
    scheme = scheme.strip().lower()
    if scheme not in DEFAULT_PORTS:
        return None
    try:
        parts = urlsplit(f"//{netloc.strip()}")
        port = parts.port
    except ValueError:
        return None
    host = (parts.hostname or "").lower()
    if not host:
        return None
    if ":" in host:  # urlsplit drops an IPv6 address's brackets
        host = f"[{host}]"
    return Origin(scheme, host, port if port is not None else DEFAULT_PORTS[scheme])


def url_origin(url: str) -> Origin | None:
    """The origin of an absolute http(s) URL (None otherwise)."""
    parts = urlsplit(url.strip())
    return origin(parts.scheme, parts.netloc)


class HostCheck(NamedTuple):
    """Where codes point: foreign places, and places nothing could be compared with."""

    foreign: tuple[str, ...]
    """Places that are neither own nor listed for the code's registry, first seen first."""
    unchecked: tuple[str, ...]
    """Places of codes whose registry lists no `verify_hosts` when there are no own
    origins either (an independent verifier with a bare trust list): not judged."""

    @property
    def warning(self) -> bool:
        """Whether a result must carry a host warning (never plain green)."""
        return bool(self.foreign)


def check_hosts(texts: Iterable[str], own: frozenset[Origin], trust: TrustList) -> HostCheck:
    """Judge the places the codes in `texts` point to.

    A text that is not a code of this system (another QR code on a page) and a code without
    a host (a bare payload) point nowhere and are skipped. A code's place is fine when it
    is in `own` or is an https origin its registry's trust entry lists in `verify_hosts`;
    else it is foreign, unless there was nothing to compare it with (`own` empty and no
    hosts listed for its registry): then it is unchecked.
    """
    foreign: dict[str, None] = {}
    unchecked: dict[str, None] = {}
    for text in texts:
        try:
            code = parse_code(text)
        except PayloadError:
            continue
        if code.host is None or code.scheme is None:
            continue
        place = origin(code.scheme, code.host)
        if place is None or place in own:
            continue
        entry = trust.find_prefix(code.chain_id, code.registry_prefix)
        listed = {origin("https", h) for h in entry.verify_hosts} if entry is not None else set()
        if place in listed:
            continue
        if not own and not listed:
            unchecked[str(place)] = None
        else:
            foreign[str(place)] = None
    return HostCheck(tuple(foreign), tuple(unchecked))


def stamped_code_texts(data: bytes) -> tuple[str, ...]:
    """The verify URLs stamped on a PDF's pages (empty when it carries no readable stamp)."""
    from notary.pdf import stamp  # pypdf only for PDFs

    try:
        return tuple(stamp.read_stamp_urls(data))
    except Exception:  # not stamped or damaged: the verdict already says so
        return ()
