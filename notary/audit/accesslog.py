"""Recompute an office's hash-chained access log and compare it with the heads on chain.

The entry hash is the one the API writes (`api/services/accesslog.py`):
`sha256(RFC 8785 JSON of {office, seq, at, key, action, record, outcome, prev})`. It is
recomputed here because `notary/` must not import `api/`; a test pins both to the same value.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

import rfc8785
from sqlalchemy import select
from sqlalchemy.orm import Session

from notary.db.models import ZERO32, AccessLogEntry


def entry_hash(entry: AccessLogEntry) -> str:
    """The hash an access-log entry must carry, from its fields (64 lowercase hex)."""
    doc = {
        "office": entry.office_pk,
        "seq": entry.seq,
        "at": entry.at.isoformat(timespec="microseconds"),
        "key": entry.api_key_id,
        "action": entry.action,
        "record": entry.record_id,
        "outcome": entry.outcome,
        "prev": entry.prev_hash,
    }
    return hashlib.sha256(rfc8785.dumps(doc)).hexdigest()


@dataclass(frozen=True, slots=True)
class LogBreak:
    """Where and why an office's access log no longer holds together."""

    office_pk: int
    seq: int
    reason: str


def check_office_log(
    session: Session, office_pk: int, anchored_heads: Iterable[tuple[int, str]] = ()
) -> list[LogBreak]:
    """Every break in one office's log: gaps, broken links, edited entries, and heads
    anchored on chain (`(entries, head hex)`) that the log no longer reproduces."""
    breaks: list[LogBreak] = []
    prev, expected = ZERO32, 1
    hashes: dict[int, str] = {}
    rows = session.scalars(
        select(AccessLogEntry)
        .where(AccessLogEntry.office_pk == office_pk)
        .order_by(AccessLogEntry.seq)
        .execution_options(yield_per=1000)
    )
    for entry in rows:
        if entry.seq != expected:
            missing = f"entries {expected}…{entry.seq - 1} missing"
            breaks.append(LogBreak(office_pk, expected, missing))
        elif entry.prev_hash != prev:
            breaks.append(LogBreak(office_pk, entry.seq, "link to the previous entry broken"))
        if entry_hash(entry) != entry.entry_hash:
            breaks.append(LogBreak(office_pk, entry.seq, "entry content does not match its hash"))
        hashes[entry.seq] = entry.entry_hash
        prev, expected = entry.entry_hash, entry.seq + 1
    for entries, head in anchored_heads:
        if hashes.get(entries) != head.removeprefix("0x"):
            breaks.append(
                LogBreak(
                    office_pk,
                    entries,
                    f"the head anchored on chain after {entries} entries is not in the log",
                )
            )
    return breaks
