"""Recompute leaves and fold the accumulator, a page of events at a time.

The common revision (a disclosure whose fields are in range) is hashed straight from its
event's words; anything else goes through the validating `compute_leaf`, whose error is
reported. A page's answer is its leaves concatenated (32 bytes each, zero for a revision
that could not be computed, with the reason) and the accumulator after the page. (A worker
process for this was tried and dropped: with a C keccak the leaf work costs less than
shipping the events to another process.)
"""

from __future__ import annotations

from collections.abc import Sequence

from notary.errors import InvalidInput
from notary.formats.accumulator import HASH_SIZE, REVISION_TAG, Accumulator
from notary.formats.keccak import keccak
from notary.formats.revision import LEAF_TAG, Revision, compute_leaf, prev_leaf_word

Job = tuple[str, str, str]
"""`("r", record_id_hex, event_data_hex)` or `("b", batch_root_hex, leaf_count_hex)`."""
Result = tuple[bytes, list[tuple[int, str]], bytes, int]
"""(leaves, [(index, error)], accumulator hash, accumulator count)."""

ZERO = bytes(32)
ZERO_HEX = "0" * 128


class LeafComputer:
    """The leaf and accumulator work, keeping the record heads it needs."""

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
        # The accumulator is folded on raw bytes and checked once per page.
        acc_hash, acc_count = acc.hash, acc.count
        prefix = LEAF_TAG + self.chain_id.to_bytes(32, "big") + self.registry.rjust(32, b"\0")
        for i, (what, key, data) in enumerate(jobs):
            if what == "b":
                acc = Accumulator(acc_hash, acc_count).add_batch(
                    bytes.fromhex(key[2:]), int(data, 16)
                )
                acc_hash, acc_count = acc.hash, acc.count
                out.append(ZERO)
                continue
            prev = heads.get(key)
            version = int(data[66:130], 16)
            if (
                data[66:122] == ZERO_HEX[:56]  # version fits uint32
                and data[130:258] == ZERO_HEX[:128]  # a disclosure: kind 0, valid_until 0
                and version >= 1
                and (version == 1) == (prev is None)
                and len(key) == 66
                and len(data) >= 386
            ):
                # The common case, already valid: hash the event's own words.
                leaf = keccak(
                    prefix
                    + bytes.fromhex(key[2:] + data[66:386])
                    + (prev_leaf_word(prev) if prev else ZERO)
                )
            else:
                try:
                    leaf = compute_leaf(
                        Revision(
                            bytes.fromhex(key[2:]),
                            version,
                            int(data[130:194], 16),  # type: ignore[arg-type]
                            int(data[194:258], 16),
                            bytes.fromhex(data[258:322]),
                            bytes.fromhex(data[322:386]),
                            prev or ZERO,
                        ),
                        chain_id=self.chain_id,
                        registry=self.registry,
                    )
                except (InvalidInput, ValueError) as exc:
                    errors.append((i, str(exc)))
                    out.append(ZERO)
                    continue
            heads[key] = leaf
            acc_hash = keccak(acc_hash + REVISION_TAG + leaf)[:HASH_SIZE]
            acc_count += 1
            out.append(leaf)
        self.acc = Accumulator(acc_hash, acc_count)
        return b"".join(out), errors, acc_hash, acc_count
