"""A small keep-alive HTTP(S) transport for JSON-RPC: one `http.client` connection per thread.

The verify page makes one or two `eth_call`s per request; through httpx each cost more CPU
than rendering the page (a profile under 50 clients put a third of the process in httpx).
The standard library's connection does the same POST for a fraction of that. Connections
are per thread because `http.client` is not thread-safe; a connection the node closed
while idle is reopened once, and a POST is only retried when nothing was sent or the node
closed the connection without answering (JSON-RPC reads are idempotent anyway).

`RpcPool` spreads one registry's reads over several nodes of a consortium: it stays on the
node that answers and moves to the next one when a call fails (down, HTTP error, timeout,
error answer), so one node down costs a verifier one failed call, not its verdicts. A
refusal of a too large `eth_getLogs` range is not a node failure (every node refuses it)
and is raised at once, for the caller to page.
"""

from __future__ import annotations

import base64
import http.client
import itertools
import json
import threading
from collections.abc import Sequence
from typing import Any
from urllib.parse import unquote, urlsplit

from notary.chain.nodes import NodeRing
from notary.chain.paging import refusal_text

_REFUSED_STATUS = frozenset({408, 413, 502, 503, 504})


class RpcHttpError(Exception):
    """The node could not be reached, answered with an HTTP error or a JSON-RPC error.

    `status` is the HTTP status of an HTTP error, `code` and `rpc_message` the JSON-RPC
    error of an error answer, `timed_out` says the node did not answer in time.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: object = None,
        rpc_message: object = None,
        timed_out: bool = False,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.rpc_message = rpc_message
        self.timed_out = timed_out

    @property
    def is_range_refusal(self) -> bool:
        """True when this means "ask `eth_getLogs` for a smaller range" (Besu's -32005,
        a "too many results" answer, a gateway error or a timeout on a large range)."""
        if self.timed_out or self.status in _REFUSED_STATUS:
            return True
        return self.code is not None and refusal_text(self.code, self.rpc_message)


class RpcHttp:
    """POST JSON bodies to one URL over per-thread keep-alive connections."""

    def __init__(self, url: str, *, timeout: float) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise RpcHttpError(f"not an http(s) URL: {url!r}")
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port
        self._path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self._timeout = timeout
        self._headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if parts.username is not None:  # https://user:secret@node/… (some providers)
            token = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
            self._headers["Authorization"] = "Basic " + base64.b64encode(token).decode()
        self._local = threading.local()
        self._ids = itertools.count(1)

    def _connection(self) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            conn = cls(self._host, self._port, timeout=self._timeout)
            self._local.conn = conn
        return conn

    def _drop(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def post(self, body: bytes) -> bytes:
        """The response body of a POST; RpcHttpError on transport or HTTP errors."""
        for attempt in (1, 2):
            conn = self._connection()
            try:
                conn.request("POST", self._path, body=body, headers=self._headers)
                response = conn.getresponse()
                data = response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as exc:
                self._drop()  # an idle keep-alive connection the node closed: reopen once
                if attempt == 2:
                    raise RpcHttpError(f"{type(exc).__name__}: {exc}") from exc
                continue
            except (OSError, http.client.HTTPException) as exc:
                self._drop()
                timed_out = isinstance(exc, TimeoutError)
                raise RpcHttpError(f"{type(exc).__name__}: {exc}", timed_out=timed_out) from exc
            if response.will_close:
                self._drop()
            if response.status != 200:
                raise RpcHttpError(
                    f"HTTP {response.status} {response.reason}", status=response.status
                )
            return data
        raise AssertionError("unreachable")

    def call(self, method: str, params: list[Any]) -> Any:
        """The `result` of one JSON-RPC call; RpcHttpError for transport, HTTP, JSON and
        JSON-RPC errors alike (the node cannot be read for this question)."""
        body = {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": params}
        try:
            answer = json.loads(self.post(json.dumps(body).encode()))
        except ValueError as exc:
            raise RpcHttpError(f"{method}: the node's answer is not JSON") from exc
        except RpcHttpError as exc:
            raise RpcHttpError(
                f"{method}: {exc}", status=exc.status, timed_out=exc.timed_out
            ) from exc
        if not isinstance(answer, dict) or "error" in answer or "result" not in answer:
            error = answer.get("error") if isinstance(answer, dict) else answer
            code = error.get("code") if isinstance(error, dict) else None
            text = error.get("message") if isinstance(error, dict) else None
            raise RpcHttpError(f"{method}: {error}", code=code, rpc_message=text)
        return answer["result"]

    def close(self) -> None:
        """Close this thread's connection (others close when their threads end)."""
        self._drop()


class RpcPool:
    """`RpcHttp.call` over several nodes of one chain, failing over in order.

    Calls go to the node that answered last; a failed call is asked of the next node, and
    so on once round all of them; the last error is raised when none answers. A range
    refusal is raised at once (see the module docstring).
    """

    def __init__(self, urls: Sequence[str], *, timeout: float) -> None:
        if isinstance(urls, str) or not urls:
            raise RpcHttpError("no RPC URL given")
        self.ring = NodeRing(urls, lambda url: RpcHttp(url, timeout=timeout))
        self.nodes, self.urls = self.ring.nodes, self.ring.urls

    @property
    def current_url(self) -> str:
        """The URL of the node calls go to now."""
        return self.ring.current_url

    def call(self, method: str, params: list[Any]) -> Any:
        """The `result` of one JSON-RPC call from the first node that answers it."""

        def fails_over(exc: Exception) -> bool:
            # A range refusal with a JSON-RPC code: every node refuses it, the caller pages.
            return isinstance(exc, RpcHttpError) and not (
                exc.is_range_refusal and exc.code is not None
            )

        return self.ring.call(lambda node: node.call(method, params), fails_over)

    def close(self) -> None:
        """Close this thread's connections to every node."""
        for node in self.nodes:
            node.close()
