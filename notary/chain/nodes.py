"""Several RPC nodes, one in use: a call goes to the node that answered last, and on a
failure that calls for it, to the next one, round all of them once.

Pure bookkeeping, shared by the service's web3 provider (`notary.chain.failover`) and the
verifier's JSON-RPC pool (`verifier.rpc_http.RpcPool`): what a node is and which failures
move on to the next are theirs.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

N = TypeVar("N")
T = TypeVar("T")


class NodeRing(Generic[N]):
    """`nodes[i]` serves `urls[i]`; `current_url` is the one calls go to now."""

    def __init__(self, urls: Sequence[str], make: Callable[[str], N]) -> None:
        self.urls = tuple(urls)
        self.nodes = [make(url) for url in self.urls]
        self._current = 0
        self._lock = threading.Lock()

    @property
    def current(self) -> N:
        """The node calls go to now."""
        return self.nodes[self._current]

    @property
    def current_url(self) -> str:
        """The URL of the node calls go to now."""
        return self.urls[self._current]

    def call(
        self,
        ask: Callable[[N], T],
        fails_over: Callable[[Exception], bool],
        on_switch: Callable[[str, str], None] | None = None,
    ) -> T:
        """`ask(node)` of the first node that answers, starting from the current one.

        An exception for which `fails_over` is false is raised at once; when every node
        failed, the last failure is raised. The node that answered becomes the current one
        (`on_switch(old_url, new_url)` is told when it changed).
        """
        first = self._current
        error: Exception | None = None
        for step in range(len(self.nodes)):
            index = (first + step) % len(self.nodes)
            try:
                answer = ask(self.nodes[index])
            except Exception as exc:
                if not fails_over(exc):
                    raise
                error = exc
                continue
            if index != first:
                with self._lock:
                    self._current = index
                if on_switch is not None:
                    on_switch(self.urls[first], self.urls[index])
            return answer
        assert error is not None
        raise error
