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

from collections.abc import Sequence
from typing import Any

import requests
from web3 import HTTPProvider
from web3.types import RPCEndpoint, RPCResponse

from notary.chain.nodes import NodeRing


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
        self.ring = NodeRing(urls, lambda url: HTTPProvider(url, **kwargs))
        self.nodes, self.urls = self.ring.nodes, self.ring.urls

    @property
    def current_url(self) -> str:
        """The node calls go to now."""
        return self.ring.current_url

    def make_request(self, method: RPCEndpoint, params: Any) -> RPCResponse:
        """One JSON-RPC call, from the first node that answers it."""
        return self.ring.call(
            lambda node: node.make_request(method, params),
            lambda exc: _fails_over(str(method), exc),
            lambda old, new: self.logger.warning("RPC node %s is down: now using %s", old, new),
        )

    def make_batch_request(self, requests_: list[tuple[RPCEndpoint, Any]]) -> Any:  # type: ignore[override]
        """A batch, on the current node (batches are not failed over call by call)."""
        return self.ring.current.make_batch_request(requests_)

    def is_connected(self, show_traceback: bool = False) -> bool:
        """True when any node answers."""
        return any(node.is_connected() for node in self.nodes)
