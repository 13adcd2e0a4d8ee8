"""One strict cursor over a binary format: every read is bounded, every leftover is an error.

The QR payload and the proof bundle are read with it, so both refuse a short read, a
non-minimal varint and trailing bytes the same way, each with its own exception type and
a message that names the field.
"""

from __future__ import annotations

from collections.abc import Callable


class ByteReader:
    """A cursor over `data`; failures raise `error(message)` naming `subject` and the field."""

    __slots__ = ("_error", "data", "pos", "subject")

    def __init__(self, data: bytes, *, subject: str, error: Callable[[str], Exception]) -> None:
        self.data = data
        self.pos = 0
        self.subject = subject
        self._error = error

    def take(self, n: int, what: str) -> bytes:
        """The next `n` bytes (the field `what`), or an error if fewer are left."""
        left = len(self.data) - self.pos
        if left < n:
            raise self._error(
                f"{self.subject} truncated: {what} needs {n} bytes at offset {self.pos}, "
                f"only {left} left"
            )
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def uint(self, n: int, what: str) -> int:
        """A big-endian unsigned integer of `n` bytes."""
        return int.from_bytes(self.take(n, what), "big")

    def varint(self, what: str, max_len: int, maximum: int) -> int:
        """Unsigned LEB128 in 1..`maximum`, minimal encoding only, at most `max_len` bytes."""
        value = 0
        for i in range(max_len):
            byte = self.take(1, what)[0]
            value |= (byte & 0x7F) << (7 * i)
            if not byte & 0x80:
                if byte == 0 and i > 0:
                    raise self._error(f"{what} is not minimally encoded")
                if not 1 <= value <= maximum:
                    raise self._error(f"{what} {value} is out of range (1..{maximum})")
                return value
        raise self._error(f"{what} is longer than {max_len} bytes")

    def remaining(self) -> int:
        """How many bytes are left."""
        return len(self.data) - self.pos

    def end(self) -> None:
        """Raise unless every byte was read."""
        if extra := self.remaining():
            raise self._error(
                f"{self.subject} has {extra} trailing byte(s) after offset {self.pos}"
            )
