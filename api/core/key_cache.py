"""Recently verified API keys, so a busy client is not looked up on every request.

Looking a key up (a thread hop, a database read) cost about as much CPU as the rest of a
publish. A key that matched an active key of an active office is remembered for
`ttl_s` seconds under its keyed hash (never the plain key). Revoking a key or suspending an
office clears this process's cache at once (`clear`); other API processes notice within
`ttl_s`. Writes do not rely on it: publishes and certificates check the key and office
again inside their transaction (`api.services.publishing`), other record writes in
`records.office_for_writer`, and admin keys (governance writes) are never cached. Only
reads may run up to `ttl_s` on a key revoked through another process. `ttl_s = 0` turns the
cache off. Failed lookups are never cached.
"""

from __future__ import annotations

import threading
import time

from api.core.deps import Caller

MAX_ENTRIES = 10_000


class KeyCache:
    """Keyed hash → `Caller`, each for `ttl_s` seconds after its lookup."""

    def __init__(self, ttl_s: float, *, max_entries: int = MAX_ENTRIES) -> None:
        self.ttl_s = ttl_s
        self._max = max_entries
        self._entries: dict[str, tuple[float, Caller]] = {}
        self._generation = 0
        self._lock = threading.Lock()

    @property
    def generation(self) -> int:
        """Bumped by every `clear`: a lookup started before it must not be stored."""
        return self._generation

    def get(self, digest: str) -> Caller | None:
        """The caller for a key verified less than `ttl_s` ago, else None."""
        entry = self._entries.get(digest)
        if entry is None or entry[0] < time.monotonic():
            return None
        return entry[1]

    def put(self, digest: str, caller: Caller, generation: int) -> None:
        """Remember a successful lookup that started at `generation`."""
        if self.ttl_s <= 0:
            return
        with self._lock:
            if generation != self._generation:
                return  # a revocation or suspension happened while it was looked up
            if len(self._entries) >= self._max:
                self._entries.pop(next(iter(self._entries)))
            self._entries[digest] = (time.monotonic() + self.ttl_s, caller)

    def clear(self) -> None:
        """Forget every key (a key was revoked or an office suspended)."""
        with self._lock:
            self._generation += 1
            self._entries.clear()
