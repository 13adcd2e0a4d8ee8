"""The verifier's JSON-RPC transport (`verifier.rpc_http`) against a real local HTTP server."""

from __future__ import annotations

import base64
import http.server
import threading
from collections.abc import Iterator
from typing import ClassVar

import pytest

from verifier.rpc_http import RpcHttp, RpcHttpError


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like an RPC node
    seen: ClassVar[list[tuple[str, str | None, bytes]]] = []
    status = 200
    close_after = False

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).seen.append((self.path, self.headers.get("Authorization"), body))
        answer = b'{"jsonrpc":"2.0","id":1,"result":"0x1"}'
        self.send_response(self.status)
        self.send_header("Content-Length", str(len(answer)))
        if self.close_after:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(answer)
        if self.close_after:
            self.close_connection = True

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def node() -> Iterator[tuple[http.server.ThreadingHTTPServer, type[_Handler]]]:
    handler = type("Handler", (_Handler,), {"seen": [], "status": 200, "close_after": False})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server, handler
    finally:
        server.shutdown()
        server.server_close()


def test_posts_to_the_path_and_reuses_or_reopens_the_connection(node) -> None:
    server, handler = node
    port = server.server_address[1]
    rpc = RpcHttp(f"http://127.0.0.1:{port}/rpc?key=abc", timeout=2)
    assert rpc.post(b'{"a":1}') == b'{"jsonrpc":"2.0","id":1,"result":"0x1"}'
    handler.close_after = True  # the node closes after answering: the next call reconnects
    assert rpc.post(b'{"a":2}').endswith(b'"0x1"}')
    assert rpc.post(b'{"a":3}').endswith(b'"0x1"}')
    assert [(p, b) for p, _, b in handler.seen] == [
        ("/rpc?key=abc", b'{"a":1}'),
        ("/rpc?key=abc", b'{"a":2}'),
        ("/rpc?key=abc", b'{"a":3}'),
    ]


def test_credentials_in_the_url_become_basic_auth(node) -> None:
    server, handler = node
    rpc = RpcHttp(f"http://us%40er:s3cret@127.0.0.1:{server.server_address[1]}/", timeout=2)
    rpc.post(b"{}")
    assert handler.seen[0][1] == "Basic " + base64.b64encode(b"us@er:s3cret").decode()


def test_http_errors_and_dead_nodes_raise(node) -> None:
    server, handler = node
    port = server.server_address[1]
    handler.status = 503
    with pytest.raises(RpcHttpError, match="HTTP 503"):
        RpcHttp(f"http://127.0.0.1:{port}/", timeout=2).post(b"{}")
    server.shutdown()
    server.server_close()
    with pytest.raises(RpcHttpError):
        RpcHttp(f"http://127.0.0.1:{port}/", timeout=2).post(b"{}")


@pytest.mark.parametrize("url", ["ftp://node/", "node:8545", "http:///nohost"])
def test_refuses_urls_that_are_not_http(url: str) -> None:
    with pytest.raises(RpcHttpError, match="not an http"):
        RpcHttp(url, timeout=1)
