"""A web3 HTTP provider over several nodes of one chain: stays on one, fails over on errors.

A consortium runs several nodes; the service names them all (`ChainConfig.rpc_urls`). Calls
go to the node that answered last. When it cannot be reached, times out or answers with an
HTTP error, the call is asked of the next node, once round all of them; the last error is
raised when none answers.

Failing over is safe for every call the service makes. Reads are idempotent. A transaction
is signed locally and recorded before it is broadcast (`notary.anchoring.worker`), so
sending the same raw bytes to a second node is at worst a duplicate the chain deduplicates
by hash; nonces are read back from the chain (`eth_getTransactionCount`), never from one
node's memory, so a node change cannot fork a nonce sequence.

An `eth_getLogs` that times out is not failed over: a timeout there means "range too
large" (`notary.chain.logs`), and every node would take as long.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import requests
from web3 import HTTPProvider
from web3.types import RPCEndpoint, RPCResponse


def _fails_over(method: str, exc: Exception) -> bool:
    if isinstance(exc, requests.Timeout):
        return method != "eth_getLogs"
    if isinstance(exc, requests.HTTPError):
        status = exc.response.status_code if exc.response is not None else 0
        return status >= 500 or status in (408, 429)
    return isinstance(exc, requests.ConnectionError | ConnectionError)


class FailoverHTTPProvider(HTTPProvider):
    """`HTTPProvider` over `urls` in order (see the module docstring)."""

    def __init__(self, urls: Sequence[str], **kwargs: Any) -> None:
        if isinstance(urls, str) or not urls:
            raise ValueError("FailoverHTTPProvider needs at least one URL")
        super().__init__(urls[0], **kwargs)
        self.nodes = [HTTPProvider(url, **kwargs) for url in urls]
        self.urls = tuple(urls)
        self._current = 0
        self._lock = threading.Lock()

    @property
    def current_url(self) -> str:
        """The node calls go to now."""
        return self.urls[self._current]

    def make_request(self, method: RPCEndpoint, params: Any) -> RPCResponse:
        """One JSON-RPC call, from the first node that answers it."""
        first = self._current
        error: Exception | None = None
        for step in range(len(self.nodes)):
            index = (first + step) % len(self.nodes)
            try:
                response = self.nodes[index].make_request(method, params)
            except Exception as exc:
                if not _fails_over(str(method), exc):
                    raise
                error = exc
                continue
            if index != first:
                with self._lock:
                    self._current = index
                self.logger.warning(
                    "RPC node %s is down: now using %s", self.urls[first], self.urls[index]
                )
            return response
        assert error is not None
        raise error

    def make_batch_request(self, requests_: list[tuple[RPCEndpoint, Any]]) -> Any:  # type: ignore[override]
        """A batch, on the current node (batches are not failed over call by call)."""
        return self.nodes[self._current].make_batch_request(requests_)

    def is_connected(self, show_traceback: bool = False) -> bool:
        """True when any node answers."""
        return any(node.is_connected() for node in self.nodes)
