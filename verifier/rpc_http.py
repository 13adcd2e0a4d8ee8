"""A small keep-alive HTTP(S) transport for JSON-RPC: one `http.client` connection per thread.

The verify page makes one or two `eth_call`s per request; through httpx each cost more CPU
than rendering the page (a profile under 50 clients put a third of the process in httpx).
The standard library's connection does the same POST for a fraction of that. Connections
are per thread because `http.client` is not thread-safe; a connection the node closed
while idle is reopened once, and a POST is only retried when nothing was sent or the node
closed the connection without answering (JSON-RPC reads are idempotent anyway).
"""

from __future__ import annotations

import base64
import http.client
import itertools
import json
import threading
from typing import Any
from urllib.parse import unquote, urlsplit


class RpcHttpError(Exception):
    """The node could not be reached or answered with an HTTP error."""


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
                raise RpcHttpError(f"{type(exc).__name__}: {exc}") from exc
            if response.will_close:
                self._drop()
            if response.status != 200:
                raise RpcHttpError(f"HTTP {response.status} {response.reason}")
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
            raise RpcHttpError(f"{method}: {exc}") from exc
        if not isinstance(answer, dict) or "error" in answer or "result" not in answer:
            error = answer.get("error") if isinstance(answer, dict) else answer
            raise RpcHttpError(f"{method}: {error}")
        return answer["result"]

    def close(self) -> None:
        """Close this thread's connection (others close when their threads end)."""
        self._drop()
