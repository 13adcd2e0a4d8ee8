"""Recompute leaves and fold the accumulator, in this process or in a worker process.

Per anchored revision, `compute_leaf` (a validated `Revision`, a 320-byte Keccak) and the
accumulator step cost more CPU than everything else replay does together. `LeafWorker`
moves exactly that work to a second process, fed page by page, so on a machine with two
cores it overlaps with decoding and rule checks. Both sides keep the record heads they
need; the worker answers each page with the leaves concatenated (32 bytes each, zero for a
revision it could not compute, with the reason) and the accumulator after the page.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import threading
from collections.abc import Sequence
from typing import Any

from notary.accumulator import Accumulator
from notary.errors import InvalidInput
from notary.revision import Revision, compute_leaf

Job = tuple[str, str, str]
"""`("r", record_id_hex, event_data_hex)` or `("b", batch_root_hex, leaf_count_hex)`."""
Result = tuple[bytes, list[tuple[int, str]], bytes, int]
"""(leaves, [(index, error)], accumulator hash, accumulator count)."""

ZERO = bytes(32)


class LeafComputer:
    """The leaf and accumulator work itself (runs in the worker, or inline)."""

    def __init__(
        self, chain_id: int, registry: bytes, heads: dict[str, bytes], acc: Accumulator
    ) -> None:
        self.chain_id = chain_id
        self.registry = registry
        self.heads = heads
        self.acc = acc

    def run(self, jobs: Sequence[Job]) -> Result:
        """Leaves for one page of jobs, in order, and the accumulator after them."""
        out: list[bytes] = []
        errors: list[tuple[int, str]] = []
        heads, acc = self.heads, self.acc
        for i, (what, key, data) in enumerate(jobs):
            if what == "b":
                acc = acc.add_batch(bytes.fromhex(key[2:]), int(data, 16))
                out.append(ZERO)
                continue
            try:
                leaf = compute_leaf(
                    Revision(
                        bytes.fromhex(key[2:]),
                        int(data[66:130], 16),
                        int(data[130:194], 16),  # type: ignore[arg-type]
                        int(data[194:258], 16),
                        bytes.fromhex(data[258:322]),
                        bytes.fromhex(data[322:386]),
                        heads.get(key, ZERO),
                    ),
                    chain_id=self.chain_id,
                    registry=self.registry,
                )
            except InvalidInput as exc:
                errors.append((i, str(exc)))
                out.append(ZERO)
                continue
            heads[key] = leaf
            acc = acc.add_revision(leaf)
            out.append(leaf)
        self.acc = acc
        return b"".join(out), errors, acc.hash, acc.count


def _serve(conn: Any, chain_id: int, registry: bytes, heads: dict[str, bytes], acc: tuple) -> None:
    computer = LeafComputer(chain_id, registry, heads, Accumulator(*acc))
    while True:
        jobs = conn.recv()
        if jobs is None:
            conn.close()
            return
        conn.send(computer.run(jobs))


class LeafWorker:
    """A `LeafComputer` in a child process: `submit` pages, `receive` results in order."""

    def __init__(
        self, chain_id: int, registry: bytes, heads: dict[str, bytes], acc: Accumulator
    ) -> None:
        # fork is cheap and safe while this is the only thread; otherwise spawn.
        method = "fork" if threading.active_count() == 1 else "spawn"
        context = multiprocessing.get_context(method)
        self._conn, child = context.Pipe()
        self._process = context.Process(
            target=_serve,
            args=(child, chain_id, registry, heads, acc.as_tuple()),
            name="replay-leaves",
            daemon=True,
        )
        self._process.start()
        child.close()
        self.pending = 0

    def submit(self, jobs: list[Job]) -> None:
        """Send one page of jobs."""
        self._conn.send(jobs)
        self.pending += 1

    def ready(self) -> bool:
        """True when the oldest submitted page's result can be received without waiting."""
        return self.pending > 0 and self._conn.poll()

    def receive(self) -> Result:
        """The result of the oldest submitted page (waits for it)."""
        result = self._conn.recv()
        self.pending -= 1
        return result

    def close(self) -> None:
        """Stop the worker."""
        with contextlib.suppress(OSError):
            self._conn.send(None)
        self._process.join(timeout=5)
        if self._process.is_alive():
            self._process.kill()
        self._conn.close()
