"""Which hosts the codes of an uploaded file or photo point to, and which are foreign.

A code's host is only shown, never trusted (docs/qr-payload.md): the verdict comes from the
chain. But a genuine stamped PDF whose codes were rewritten to a look-alike host sends every
reader who scans its paper copy to that host. An upload result therefore names every host
that is neither this service's public verify host (`NOTARY_PUBLIC_BASE_URL`, and the host of
the node's verify target) nor one the trust list names for the code's registry
(`verify_hosts`); a code without a host (a bare payload) points nowhere and is not foreign.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from fastapi import Request

from verifier.payload import PayloadError, parse_code
from verifier.trust import TrustList

DEFAULT_PORTS = (":443", ":80")


def normal_host(host: str) -> str:
    """A host as compared: lowercase, without a default port."""
    host = host.strip().lower()
    for port in DEFAULT_PORTS:
        if host.endswith(port):
            return host.removesuffix(port)
    return host


def own_hosts(request: Request) -> frozenset[str]:
    """This service's verify hosts: the public base URL's host and the verify target's."""
    state = request.app.state
    hosts: set[str] = set()
    settings = getattr(state, "settings", None)
    base = getattr(settings, "public_base_url", None)
    if base:
        hosts.add(normal_host(urlsplit(base).netloc))
    target = getattr(state, "verify_target", None)
    if target is not None and getattr(target, "host", None):
        hosts.add(normal_host(target.host))
    return frozenset(hosts - {""})


def foreign_hosts(texts: Iterable[str], own: frozenset[str], trust: TrustList) -> tuple[str, ...]:
    """The distinct hosts, in first-seen order, of codes in `texts` that point neither to
    `own` nor to a host the trust list names for the code's registry. Texts that are not
    codes of this system (other QR codes on a page) are skipped."""
    found: dict[str, None] = {}
    for text in texts:
        try:
            code = parse_code(text)
        except PayloadError:
            continue
        if code.host is None:
            continue
        host = normal_host(code.host)
        if host in own:
            continue
        entry = trust.find_prefix(code.chain_id, code.registry_prefix)
        if entry is not None and host in {normal_host(h) for h in entry.verify_hosts}:
            continue
        found[host] = None
    return tuple(found)


def stamped_code_texts(data: bytes) -> tuple[str, ...]:
    """The verify URLs stamped on a PDF's pages (empty when it carries no readable stamp)."""
    from notary.pdf import stamp

    try:
        return tuple(stamp.read_stamp_urls(data))
    except Exception:  # not stamped or damaged: the verdict already says so
        return ()
