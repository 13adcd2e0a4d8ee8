"""Limits on what one request or one client can make the service do.

The request body limit is enforced before the body is read: a declared `Content-Length`
over the limit gets a JSON 413 at once, without reading a byte; a body that streams past the
limit (chunked, or longer than declared) is cut off as soon as the count passes it: the 413
is raised from `receive`, so form parsing stops there. A body that does not arrive within
`body_seconds` of the request's start is cut off with 408, so a client trickling a body
cannot hold a worker.

`RateLimiter` is a token bucket per client address for the expensive anonymous routes;
`rate_limited` spends one token of the app's single bucket set (the verify uploads and page
images, the holder's link: `NOTARY_RATE_LIMIT_*`).
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections import OrderedDict

import anyio
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyLimit:
    """ASGI middleware: 413 `{"detail": ...}` for request bodies over `limit` bytes."""

    def __init__(self, app: ASGIApp, limit: int, body_seconds: float | None = None) -> None:
        self.app = app
        self.limit = limit
        self.body_seconds = body_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        detail = f"request body over the {self.limit}-byte limit"
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    await _reply(send, 400, "Content-Length is not a number")
                    return
                if declared > self.limit:
                    await _reply(send, 413, detail)
                    return
        seen = 0
        deadline = None if self.body_seconds is None else time.monotonic() + self.body_seconds

        async def counting_receive() -> Message:
            nonlocal seen
            if deadline is None:
                message = await receive()
            else:
                message = await _receive_by(receive, deadline)
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise HTTPException(413, detail)
            return message

        await self.app(scope, counting_receive, send)


async def _receive_by(receive: Receive, deadline: float) -> Message:
    """The next body message, or 408 once the request's body deadline has passed."""
    with anyio.move_on_after(max(deadline - time.monotonic(), 0)) as scope:
        return await receive()
    assert scope.cancelled_caught
    raise HTTPException(408, "the request body did not arrive in time")


class RateLimiter:
    """A token bucket per client: `burst` requests at once, then `per_minute` on average.

    Memory is bounded: at most `clients` buckets are kept, the least recently seen dropped
    first (a dropped client starts again with a full bucket, which only forgives).
    """

    def __init__(self, per_minute: float, burst: int, clients: int = 100_000) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self.clients = clients
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        """False when the limit is off (`per_minute` 0)."""
        return self.rate > 0

    def take(self, client: str, now: float | None = None) -> float | None:
        """Spend one token of `client`'s bucket: None when allowed, else the seconds until
        a token is back (for `Retry-After`)."""
        if not self.enabled:
            return None
        now = time.monotonic() if now is None else now
        with self._lock:
            tokens, last = self._buckets.pop(client, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            allowed = tokens >= 1.0
            self._buckets[client] = (tokens - 1.0 if allowed else tokens, now)
            while len(self._buckets) > self.clients:
                self._buckets.popitem(last=False)
        return None if allowed else (1.0 - tokens) / self.rate


def _app_limiter(request: Request) -> RateLimiter:
    """The app's limiter of expensive anonymous requests (`NOTARY_RATE_LIMIT_*`)."""
    state = request.app.state
    limiter = getattr(state, "rate_limiter", None)
    if limiter is None:
        from api.core.settings import Settings

        settings = getattr(state, "settings", None) or Settings()
        limiter = RateLimiter(settings.rate_limit_per_minute, settings.rate_limit_burst)
        state.rate_limiter = limiter
    return limiter


def rate_limited(request: Request) -> float | None:
    """None if this client may make one more expensive anonymous request now, else the
    seconds to wait."""
    settings = getattr(request.app.state, "settings", None)
    proxies = frozenset(getattr(settings, "trusted_proxies", ()) or ())
    return _app_limiter(request).take(client_address(request.scope, proxies))


def retry_after(seconds: float) -> str:
    """A `Retry-After` value: whole seconds, at least 1."""
    return str(max(1, math.ceil(seconds)))


def client_address(scope: Scope, trusted_proxies: frozenset[str] = frozenset()) -> str:
    """The client's address: the peer, or behind a trusted proxy the nearest address in
    `X-Forwarded-For` that is not itself a trusted proxy."""
    peer = (scope.get("client") or ("unknown", 0))[0]
    if peer not in trusted_proxies:
        return peer
    for name, value in scope.get("headers", ()):
        if name == b"x-forwarded-for":
            hops = [h.strip() for h in value.decode("latin-1").split(",") if h.strip()]
            for hop in reversed(hops):
                if hop not in trusted_proxies:
                    return hop
    return peer


async def _reply(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
