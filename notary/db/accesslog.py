"""The hash-chained access log's one walk: recompute an office's chain, compare anchored heads.

`entry_hash = sha256(RFC 8785 JSON of {office, seq, at, key, action, record, outcome, prev})`,
so any edited, deleted or reordered row breaks every hash after it. The API appends entries
with `digest` (`notary/publishing/accesslog.py`) and checks them with `verify`; the audit diff
compares the log with the heads anchored on chain through `check_office_log`. Both walk the
log once, streaming, keeping only the hashes at the anchored positions (a log may hold tens
of millions of entries).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

import rfc8785
from sqlalchemy import select
from sqlalchemy.orm import Session

from notary.db.models import ZERO32, AccessLogAnchor, AccessLogEntry


def digest(
    office_pk: int,
    seq: int,
    at: datetime,
    key: int | None,
    action: str,
    record: str | None,
    outcome: str,
    prev: str,
) -> str:
    """The hash of one entry from its fields (64 lowercase hex)."""
    doc = {
        "office": office_pk,
        "seq": seq,
        "at": at.isoformat(timespec="microseconds"),
        "key": key,
        "action": action,
        "record": record,
        "outcome": outcome,
        "prev": prev,
    }
    return hashlib.sha256(rfc8785.dumps(doc)).hexdigest()


def entry_hash(entry: AccessLogEntry) -> str:
    """The hash an access-log entry must carry, recomputed from its fields."""
    return digest(
        entry.office_pk,
        entry.seq,
        entry.at,
        entry.api_key_id,
        entry.action,
        entry.record_id,
        entry.outcome,
        entry.prev_hash,
    )


@dataclass(frozen=True, slots=True)
class LogBreak:
    """Where and why an office's access log no longer holds together."""

    office_pk: int
    seq: int
    reason: str


@dataclass(slots=True)
class LogWalk:
    """What one walk of an office's log found."""

    entries: int = 0
    head: str | None = None
    """`entry_hash` of the last entry walked."""
    breaks: list[LogBreak] = field(default_factory=list)
    heads_checked: int = 0


def walk_office_log(
    session: Session,
    office_pk: int,
    anchored_heads: Iterable[tuple[int, str]] = (),
    *,
    first_break_only: bool = False,
) -> LogWalk:
    """Walk one office's log: gaps, broken links, edited entries, and anchored heads
    (`(entries, head hex)`) the log no longer reproduces.

    With `first_break_only`, stop at the first break (the API's check); else list them all
    (the audit).
    """
    heads = [(n, h.removeprefix("0x")) for n, h in anchored_heads]
    wanted = {n for n, _ in heads}
    walk = LogWalk()
    prev, expected = ZERO32, 1
    at_wanted: dict[int, str] = {}
    rows = session.scalars(
        select(AccessLogEntry)
        .where(AccessLogEntry.office_pk == office_pk)
        .order_by(AccessLogEntry.seq)
        .execution_options(yield_per=1000)
    )
    for entry in rows:
        if entry.seq != expected:
            walk.breaks.append(
                LogBreak(office_pk, expected, f"entries {expected}…{entry.seq - 1} missing")
            )
        elif entry.prev_hash != prev:
            walk.breaks.append(LogBreak(office_pk, entry.seq, "link to the previous entry broken"))
        if entry_hash(entry) != entry.entry_hash:
            walk.breaks.append(
                LogBreak(office_pk, entry.seq, "entry content does not match its hash")
            )
        if walk.breaks and first_break_only:
            return walk
        if entry.seq in wanted:
            at_wanted[entry.seq] = entry.entry_hash
        prev = walk.head = entry.entry_hash
        expected = entry.seq + 1
        walk.entries += 1
    for entries, head in heads:
        walk.heads_checked += 1
        if at_wanted.get(entries) != head:
            walk.breaks.append(
                LogBreak(
                    office_pk,
                    entries,
                    f"the head anchored after {entries} entries is not in the log",
                )
            )
            if first_break_only:
                return walk
    return walk


def check_office_log(
    session: Session, office_pk: int, anchored_heads: Iterable[tuple[int, str]] = ()
) -> list[LogBreak]:
    """Every break in one office's log, against the heads anchored on chain."""
    return walk_office_log(session, office_pk, anchored_heads).breaks


@dataclass(frozen=True, slots=True)
class ChainCheck:
    """Outcome of recomputing one office's chain (the API's `GET /access-log/verify`)."""

    ok: bool
    entries: int
    head: str | None
    first_bad_seq: int | None = None
    reason: str | None = None
    anchored_heads_checked: int = 0


def verify(session: Session, office_pk: int) -> ChainCheck:
    """Recompute every hash and link of an office's chain, up to its first break, and
    compare the heads queued or anchored for it (`access_log_anchors`)."""
    heads = session.execute(
        select(AccessLogAnchor.up_to_seq, AccessLogAnchor.head).where(
            AccessLogAnchor.office_pk == office_pk
        )
    ).all()
    walk = walk_office_log(session, office_pk, [(n, h) for n, h in heads], first_break_only=True)
    if walk.breaks:
        bad = walk.breaks[0]
        return ChainCheck(False, walk.entries, walk.head, bad.seq, bad.reason, walk.heads_checked)
    return ChainCheck(True, walk.entries, walk.head, anchored_heads_checked=walk.heads_checked)
