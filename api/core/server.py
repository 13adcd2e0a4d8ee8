"""How uvicorn serves the API so that slow clients cannot hold connections.

uvicorn times out an idle keep-alive connection (`timeout_keep_alive`) but not a request
whose headers arrive slowly: a client sending one header byte every few seconds keeps its
connection, and enough of them keep every connection the server allows. `BoundedH11Protocol`
closes a connection whose request headers are not complete within
`NOTARY_HEADER_TIMEOUT_S` seconds (default 10) of their first byte; the body has its own
deadline (`NOTARY_BODY_TIMEOUT_S`, `api.core.limits.BodyLimit`). Use it with uvicorn's h11
implementation and a bound on header size:

    uvicorn --factory api.main:create_app --http api.core.server:BoundedH11Protocol \\
        --timeout-keep-alive 5 --h11-max-incomplete-event-size 16384

`uvicorn_options()` gives the same for `uvicorn.Config` (scripts/run_local.py uses it).
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

HEADER_TIMEOUT_S = 10.0
KEEP_ALIVE_S = 5
MAX_HEADER_BYTES = 16 * 1024


def header_timeout() -> float:
    """Seconds a request's headers may take (`NOTARY_HEADER_TIMEOUT_S`)."""
    try:
        value = float(os.environ.get("NOTARY_HEADER_TIMEOUT_S", HEADER_TIMEOUT_S))
    except ValueError:
        return HEADER_TIMEOUT_S
    return value if value > 0 else HEADER_TIMEOUT_S


class BoundedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline for each request's headers."""

    header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_timer()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._waiting_for_headers():
            self._arm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.header_timer is not None:
            self.header_timer.cancel()
            self.header_timer = None
        super().connection_lost(exc)

    def _waiting_for_headers(self) -> bool:
        """Between requests, or part way through one's headers."""
        return self.conn.their_state is h11.IDLE

    def _arm_header_timer(self) -> None:
        if self.header_timer is None:
            self.header_timer = self.loop.call_later(header_timeout(), self._headers_late)

    def _headers_late(self) -> None:
        self.header_timer = None
        if self.transport.is_closing():
            return
        if self._waiting_for_headers() and (self.conn.trailing_data[0] or self.cycle is None):
            # Headers begun and not finished in time (or nothing at all on a new
            # connection): close it. Idle keep-alive connections are uvicorn's to time out.
            self.transport.close()
        elif self._waiting_for_headers():
            self._arm_header_timer()


def uvicorn_options() -> dict[str, Any]:
    """Keyword arguments for `uvicorn.Config` that bound slow clients."""
    return {
        "http": BoundedH11Protocol,
        "timeout_keep_alive": KEEP_ALIVE_S,
        "h11_max_incomplete_event_size": MAX_HEADER_BYTES,
    }
