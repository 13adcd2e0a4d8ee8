"""The exception root of the `notary` package.

Every error a caller can cause derives from `NotaryError`; each also derives from the stdlib
exception it resembles so generic handlers keep working. Modules define their own subclasses
here-by-import (e.g. `class RecordNotFound(NotaryError, KeyError)`), and the API maps each
class to one HTTP status in one place.
"""

from __future__ import annotations


class NotaryError(Exception):
    """Root of every error raised on purpose by the notary library."""


class InvalidInput(NotaryError, ValueError):
    """Input that is malformed, out of bounds or otherwise unacceptable."""


class NotFound(NotaryError, KeyError):
    """Something named by id does not exist."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable.
        return str(self.args[0]) if self.args else self.__class__.__name__


class Conflict(NotaryError):
    """The request contradicts the current state (duplicate, out of order, closed record)."""


class Unauthorised(NotaryError, PermissionError):
    """The caller or key may not do this."""


class Unavailable(NotaryError, ConnectionError):
    """A dependency (chain node, database, disk) cannot be reached right now; retry later."""
