"""A Besu-like JSON-RPC node for the tests: a small threaded HTTP proxy in front of anvil.

anvil answers `eth_getLogs` over any range; a Besu node of a government consortium does not.
This proxy forwards every call to an upstream node (anvil) and behaves as such a node would:

- **Range limit.** Besu's `--rpc-max-logs-range` (1,000 blocks when Besu 22.10 introduced
  it, 5,000 since 23.1) refuses an `eth_getLogs` whose `toBlock - fromBlock` exceeds the
  limit with JSON-RPC error -32005, "Requested range exceeds maximum RPC range limit" (Besu's
  `RpcErrorType.EXCEEDS_RPC_MAX_BLOCK_RANGE`). Block tags ("latest", "pending", "safe",
  "finalized", "earliest") are resolved here against the upstream head, as Besu resolves
  them before comparing, so a range ending at "latest" is counted too.
- **Result cap.** Besu has no option capping the number of logs returned; hosted nodes and
  gateways do (Infura, Alchemy: -32005 "query returned more than 10000 results"). The
  proxy models that node: more than `max_logs_results` logs in one answer is refused with
  that error, and nothing is returned (never a silently truncated list).
- **Slow or failing.** `delay_s` sleeps before every call; `fail_share` of calls (drawn from
  a seeded generator, so a run is repeatable) are answered with HTTP 503 or a JSON-RPC
  internal error, alternately, without reaching the upstream node.
- **Killed.** `stop()` closes the listening socket and every open keep-alive connection, as
  a node that went down does.

Counters (`calls` by method, `blocks_asked` in `eth_getLogs`, `refused`) let a test or a
benchmark see what a reader asked for. `anvil_*`, `evm_*` and every other method pass
through unchanged.
"""

from __future__ import annotations

import contextlib
import http.client
import http.server
import json
import random
import socket
import threading
import time
from collections import Counter
from typing import Any
from urllib.parse import urlsplit

RANGE_ERROR = {"code": -32005, "message": "Requested range exceeds maximum RPC range limit"}
"""Besu's answer to an `eth_getLogs` over more than `--rpc-max-logs-range` blocks."""

_TAGS_AT_HEAD = {"latest", "pending", "safe", "finalized"}


def results_error(limit: int) -> dict[str, Any]:
    """The hosted-node answer to a log query with more than `limit` results."""
    return {"code": -32005, "message": f"query returned more than {limit} results"}


class _Upstream:
    """Per-thread keep-alive connections to the upstream node."""

    def __init__(self, url: str, timeout: float) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.path = parts.path or "/"
        self.timeout = timeout
        self._local = threading.local()

    def post(self, body: bytes) -> tuple[int, bytes]:
        """POST `body` upstream; (status, response body). One retry on a stale connection."""
        for attempt in (1, 2):
            conn = getattr(self._local, "conn", None)
            if conn is None:
                conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
                self._local.conn = conn
            try:
                conn.request("POST", self.path, body, {"Content-Type": "application/json"})
                response = conn.getresponse()
                return response.status, response.read()
            except (OSError, http.client.HTTPException):
                conn.close()
                self._local.conn = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def call(self, method: str, params: list[Any]) -> Any:
        """The result of one upstream call (the proxy's own questions, e.g. the head)."""
        body = json.dumps({"jsonrpc": "2.0", "id": 0, "method": method, "params": params})
        _status, data = self.post(body.encode())
        return json.loads(data)["result"]


class BesuProxy:
    """A Besu-like JSON-RPC endpoint at `.url` in front of `upstream_url`.

    `max_logs_range`: the largest `toBlock - fromBlock` served (0: no limit, as Besu's 0).
    `max_logs_results`: the most logs one `eth_getLogs` may return (0: no cap).
    `delay_s`: seconds every call waits. `fail_share`: the share of calls that fail
    (`fail_methods` restricts which methods may fail; None: any). `seed`: the failure draw.
    """

    def __init__(
        self,
        upstream_url: str,
        *,
        max_logs_range: int = 1000,
        max_logs_results: int = 0,
        delay_s: float = 0.0,
        fail_share: float = 0.0,
        fail_methods: set[str] | None = None,
        seed: int = 0,
        timeout: float = 30.0,
    ) -> None:
        if max_logs_range < 0 or max_logs_results < 0 or delay_s < 0:
            raise ValueError("limits and delay must be non-negative")
        if not 0.0 <= fail_share <= 1.0:
            raise ValueError("fail_share must be within [0, 1]")
        self.upstream_url = upstream_url
        self.max_logs_range = max_logs_range
        self.max_logs_results = max_logs_results
        self.delay_s = delay_s
        self.fail_share = fail_share
        self.fail_methods = fail_methods
        self._upstream = _Upstream(upstream_url, timeout)
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._failures = 0
        self.calls: Counter[str] = Counter()
        self.blocks_asked = 0
        self.refused = 0
        self.failed = 0
        self._sockets: set[socket.socket] = set()
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        self._stopped = False

    # --- lifecycle -------------------------------------------------------------------

    def stop(self) -> None:
        """Go down: stop listening and cut every open connection (idempotent)."""
        if self._stopped:
            return
        self._stopped = True
        self._server.shutdown()
        self._server.server_close()
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def __enter__(self) -> BesuProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def reset_counters(self) -> None:
        """Zero the counters (between phases of a test or a benchmark)."""
        with self._lock:
            self.calls.clear()
            self.blocks_asked = self.refused = self.failed = 0

    # --- one call --------------------------------------------------------------------

    def _draw_failure(self, method: str) -> str | None:
        """None, or how this call fails ("http" or "rpc"), drawn from the seeded generator."""
        if self.fail_share <= 0 or (
            self.fail_methods is not None and method not in self.fail_methods
        ):
            return None
        with self._lock:
            if self._random.random() >= self.fail_share:
                return None
            self._failures += 1
            self.failed += 1
            return "http" if self._failures % 2 else "rpc"

    def _block_number(self, value: Any, head: list[int]) -> int:
        """A filter's block parameter as a number ("earliest" 0, head tags the head)."""
        if value is None:
            value = "latest"
        if isinstance(value, int):
            return value
        if value == "earliest":
            return 0
        if value in _TAGS_AT_HEAD:
            if not head:
                head.append(int(self._upstream.call("eth_blockNumber", []), 16))
            return head[0]
        return int(value, 16)

    def _check_logs_range(self, params: list[Any]) -> dict[str, Any] | None:
        """Besu's range error for a filter over too many blocks, else None."""
        flt = params[0] if params and isinstance(params[0], dict) else {}
        if "blockHash" in flt:
            with self._lock:
                self.blocks_asked += 1
            return None
        head: list[int] = []
        start = self._block_number(flt.get("fromBlock"), head)
        stop = self._block_number(flt.get("toBlock"), head)
        with self._lock:
            self.blocks_asked += max(0, stop - start + 1)
        if self.max_logs_range and stop - start > self.max_logs_range:
            with self._lock:
                self.refused += 1
            return RANGE_ERROR
        return None

    def handle(self, request: dict[str, Any]) -> tuple[int, dict[str, Any] | None]:
        """(HTTP status, JSON-RPC answer) for one request object."""
        method = str(request.get("method"))
        with self._lock:
            self.calls[method] += 1
        if self.delay_s:
            time.sleep(self.delay_s)
        failure = self._draw_failure(method)
        if failure == "http":
            return 503, None
        rid = request.get("id")
        if failure == "rpc":
            return 200, {
                "jsonrpc": "2.0",
                "id": rid,
                "error": {"code": -32603, "message": "Internal error"},
            }
        if method == "eth_getLogs":
            error = self._check_logs_range(request.get("params") or [])
            if error is not None:
                return 200, {"jsonrpc": "2.0", "id": rid, "error": error}
        status, data = self._upstream.post(json.dumps(request).encode())
        if status != 200:
            return status, None
        answer = json.loads(data)
        if (
            method == "eth_getLogs"
            and self.max_logs_results
            and isinstance(answer.get("result"), list)
            and len(answer["result"]) > self.max_logs_results
        ):
            with self._lock:
                self.refused += 1
            return 200, {"jsonrpc": "2.0", "id": rid, "error": results_error(self.max_logs_results)}
        return 200, answer

    def _handler_class(self) -> type[http.server.BaseHTTPRequestHandler]:
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as a node serves it

            def setup(self) -> None:
                super().setup()
                with proxy._lock:
                    proxy._sockets.add(self.connection)

            def finish(self) -> None:
                with proxy._lock:
                    proxy._sockets.discard(self.connection)
                with contextlib.suppress(OSError):
                    super().finish()

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    request = json.loads(body)
                    if isinstance(request, list):  # a batch: each call on its own
                        results = [proxy.handle(r) for r in request]
                        if any(status != 200 for status, _ in results):
                            status, answer = 503, None
                        else:
                            status, answer = 200, [a for _, a in results]
                    else:
                        status, answer = proxy.handle(request)
                except (ValueError, AttributeError, TypeError):
                    status = 200
                    answer = {
                        "jsonrpc": "2.0",
                        "id": None,
                        "error": {"code": -32700, "message": "Parse error"},
                    }
                except OSError:  # the upstream node is down: the gateway cannot answer
                    status, answer = 502, None
                if proxy._stopped:  # killed while this call was in flight: no answer
                    self.close_connection = True
                    return
                payload = b"" if answer is None else json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: object) -> None:
                pass

        return Handler
