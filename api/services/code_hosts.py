"""Which places the codes of an uploaded file or photo point to, and which are foreign.

The rule is the verifier's (`verifier.hosts`, docs/qr-payload.md): a code's origin (scheme,
host, port) must be this service's own or one the trust list names for the code's registry.
This module only says what "own" is for this service: the origin of its public verify URL
(`NOTARY_PUBLIC_BASE_URL`) and of the node's verify target.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from fastapi import Request

from verifier.hosts import Origin, check_hosts, origin, stamped_code_texts
from verifier.trust import TrustList

__all__ = ["foreign_hosts", "own_hosts", "stamped_code_texts"]


def own_hosts(request: Request) -> frozenset[Origin]:
    """This service's verify origins: the public base URL's and the verify target's."""
    state = request.app.state
    found: set[Origin | None] = set()
    settings = getattr(state, "settings", None)
    base = getattr(settings, "public_base_url", None)
    if base:
        parts = urlsplit(base)
        found.add(origin(parts.scheme, parts.netloc))
    target = getattr(state, "verify_target", None)
    if target is not None and getattr(target, "host", None):
        found.add(origin(target.scheme, target.host))
    return frozenset(o for o in found if o is not None)


def foreign_hosts(
    texts: Iterable[str], own: frozenset[Origin], trust: TrustList
) -> tuple[str, ...]:
    """The distinct foreign places, in first-seen order, of the codes in `texts`."""
    return check_hosts(texts, own, trust).foreign
