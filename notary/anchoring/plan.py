"""Planning and bookkeeping for the anchoring worker (`notary.anchoring.worker`).

This module holds the parts of the outbox that are not about the loop itself:

- turning database revisions into registry `Revision` structs and their leaves, taking the
  previous leaf from the previous version (anchored, or earlier in the same job);
- planning one round of work into *jobs* (one transaction each): `direct` (one revision),
  `many` (consecutive versions / distinct records in one `anchorMany`) or `batch` (a Merkle
  root over archive records' leaves);
- the small data-layer helpers the worker needs on top of `notary.db.repo` (release a
  transaction's revisions back to pending, record revocation/replacement/access-log
  transactions, raise alerts).

Nothing here talks to the chain.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from sqlalchemy import select, update
from sqlalchemy.orm import Session, selectinload

from notary.audit.alert_store import add_alert
from notary.db.leaf import to_struct
from notary.db.models import (
    AccessLogAnchor,
    AnchorTx,
    Record,
    Replacement,
    Revision,
    Revocation,
)
from notary.db.types import (
    AnchorMode,
    AnchorState,
    Severity,
    TxPurpose,
    TxState,
    hex32,
    utcnow,
)
from notary.formats.merkle import MerkleTree
from notary.formats.revision import ZERO32, compute_leaf
from notary.formats.revision import Revision as ChainRevision

ModeName = Literal["auto", "direct", "many", "batch"]
ARCHIVE_CATEGORIES = frozenset({"archive"})
"""Records in these categories are back-fill archives: anchored in batch mode only."""


# ---------------------------------------------------------------------------------------------
# Leaves
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Item:
    """One revision ready to anchor: its database id, registry struct and leaf."""

    revision_id: int
    office_pk: int
    struct: ChainRevision
    leaf: bytes
    archive: bool

    @property
    def key(self) -> tuple[bytes, int]:
        """(record id, version): how the chain names the revision."""
        return (self.struct.record_id, self.struct.version)


def anchored_leaves(session: Session, record_ids: Iterable[str]) -> dict[tuple[str, int], bytes]:
    """Known leaves of anchored revisions of these records, by (record id hex, version)."""
    ids = sorted(set(record_ids))
    out: dict[tuple[str, int], bytes] = {}
    for start in range(0, len(ids), 500):
        rows = session.execute(
            select(Revision.record_id, Revision.version, Revision.leaf).where(
                Revision.record_id.in_(ids[start : start + 500]),
                Revision.anchor_state == AnchorState.ANCHORED,
            )
        )
        out.update({(r.record_id, r.version): bytes.fromhex(r.leaf) for r in rows if r.leaf})
    return out


@dataclass(slots=True)
class LeafProblem:
    """A revision that cannot be anchored as stored: its leaf or previous leaf disagrees
    with the computed one, or its values cannot be encoded as a registry revision."""

    revision_id: int
    message: str


def build_items(
    session: Session,
    rows: Sequence[Revision],
    *,
    chain_id: int,
    registry: str,
    archive_categories: frozenset[str] = ARCHIVE_CATEGORIES,
) -> tuple[list[Item], list[LeafProblem]]:
    """Structs and leaves for `rows` (in id order); rows whose previous leaf is unknown skip.

    A row's previous leaf comes from the previous version: anchored in the database, or
    an earlier row of `rows`. Rows of a record after a skipped row are skipped too.
    """
    known = anchored_leaves(session, (r.record_id for r in rows))
    items: list[Item] = []
    problems: list[LeafProblem] = []
    blocked: set[str] = set()
    for row in sorted(rows, key=lambda r: (r.record_id, r.version)):
        if row.record_id in blocked:
            continue
        prev = ZERO32 if row.version == 1 else known.get((row.record_id, row.version - 1))
        if prev is None:
            blocked.add(row.record_id)
            continue
        if row.prev_leaf is not None and row.version > 1 and row.prev_leaf != prev.hex():
            problems.append(LeafProblem(row.id, "stored prev_leaf differs from the previous leaf"))
            blocked.add(row.record_id)
            continue
        record = row.record
        try:
            struct = to_struct(row, record, prev)
            leaf = compute_leaf(struct, chain_id=chain_id, registry=registry)
        except ValueError as exc:  # InvalidInput, or a malformed hex column
            # One row that cannot be encoded fails alone; the rest of the round goes on.
            problems.append(LeafProblem(row.id, f"cannot encode the revision: {exc}"))
            blocked.add(row.record_id)
            continue
        if row.leaf is not None and row.leaf != leaf.hex():
            problems.append(LeafProblem(row.id, "stored leaf differs from the computed leaf"))
            blocked.add(row.record_id)
            continue
        known[(row.record_id, row.version)] = leaf
        archive = (record.category or "") in archive_categories
        items.append(Item(row.id, record.office_pk, struct, leaf, archive))
    items.sort(key=lambda i: i.revision_id)
    return items, problems


# ---------------------------------------------------------------------------------------------
# Jobs
# ---------------------------------------------------------------------------------------------


@dataclass(slots=True)
class Job:
    """One transaction's worth of work for one office."""

    mode: AnchorMode
    office_pk: int
    items: list[Item] = field(default_factory=list)

    @property
    def record_ids(self) -> set[bytes]:
        """The records this job touches."""
        return {i.struct.record_id for i in self.items}

    def tree(self) -> MerkleTree:
        """Batch mode: the Merkle tree over the leaves, in revision-id order."""
        return MerkleTree([i.leaf for i in self.items])


def plan_jobs(
    items: Sequence[Item],
    *,
    mode: ModeName = "auto",
    many_size: int = 100,
    batch_size: int = 1000,
    max_jobs: int = 16,
) -> list[Job]:
    """Group `items` (id order) into independent jobs: no record appears in two jobs.

    - archive items (and every item in `batch` mode) → batch jobs of up to `batch_size`;
    - `direct` → one job per record, its lowest pending version only;
    - `many` → records kept whole (consecutive versions together), up to `many_size`;
    - `auto` → `direct` when an office has exactly one pending revision, else `many`.
    """
    by_office: dict[int, tuple[list[Item], list[Item]]] = {}
    for item in items:
        archive, normal = by_office.setdefault(item.office_pk, ([], []))
        (archive if item.archive or mode == "batch" else normal).append(item)
    jobs: list[Job] = []
    for office_pk, (archive, normal) in by_office.items():
        for start in range(0, len(archive), batch_size):
            jobs.append(Job(AnchorMode.BATCH, office_pk, archive[start : start + batch_size]))
        office_mode = mode
        if mode == "auto":
            office_mode = "direct" if len(normal) == 1 else "many"
        if office_mode == "direct":
            seen: set[bytes] = set()
            for item in normal:
                if item.struct.record_id not in seen:
                    seen.add(item.struct.record_id)
                    jobs.append(Job(AnchorMode.DIRECT, office_pk, [item]))
        elif normal:
            groups: dict[bytes, list[Item]] = {}
            for item in normal:
                groups.setdefault(item.struct.record_id, []).append(item)
            job = Job(AnchorMode.MANY, office_pk)
            for group in groups.values():
                if job.items and len(job.items) + len(group) > many_size:
                    jobs.append(job)
                    job = Job(AnchorMode.MANY, office_pk)
                job.items.extend(group[:many_size])
            if job.items:
                jobs.append(job)
    return jobs[:max_jobs]


# ---------------------------------------------------------------------------------------------
# Data-layer helpers (on top of notary.db.repo)
# ---------------------------------------------------------------------------------------------


def select_pending(
    session: Session, *, office_pks: Sequence[int], limit: int = 1000
) -> list[Revision]:
    """Pending revisions of these offices, oldest first, locked (SKIP LOCKED on PostgreSQL)."""
    stmt = (
        select(Revision)
        .join(Record, Record.record_id == Revision.record_id)
        .where(Revision.anchor_state == AnchorState.PENDING, Record.office_pk.in_(office_pks))
        .order_by(Revision.id)
        .limit(limit)
        .with_for_update(skip_locked=True, of=Revision)
        .options(selectinload(Revision.record))
    )
    return list(session.scalars(stmt))


def revisions_of_tx(session: Session, tx_hash: str) -> list[Revision]:
    """The revisions a recorded transaction carries (in id order)."""
    stmt = (
        select(Revision)
        .where(Revision.tx_hash == hex32(tx_hash))
        .order_by(Revision.id)
        .options(selectinload(Revision.record))
    )
    return list(session.scalars(stmt))


def release(session: Session, *, tx_hash: str, revision_ids: Sequence[int], error: str) -> None:
    """Put revisions of an abandoned transaction back to pending; mark the tx dropped."""
    if revision_ids:
        session.execute(
            update(Revision)
            .where(
                Revision.id.in_(list(revision_ids)), Revision.anchor_state == AnchorState.SENDING
            )
            .values(anchor_state=AnchorState.PENDING, tx_hash=None, batch_root=None)
            .execution_options(synchronize_session=False)
        )
    session.execute(
        update(AnchorTx)
        .where(
            AnchorTx.tx_hash == hex32(tx_hash), AnchorTx.state.in_([TxState.SIGNED, TxState.SENT])
        )
        .values(state=TxState.DROPPED, error=error[:4000])
    )


def record_tx(
    session: Session,
    *,
    purpose: TxPurpose,
    tx_hash: str,
    raw_tx: bytes,
    nonce: int,
    signer: str,
    item_count: int = 1,
) -> AnchorTx:
    """Record a signed non-revision transaction (revocation, replacement, access log)."""
    tx = AnchorTx(
        purpose=purpose,
        mode=AnchorMode.DIRECT,
        signer=signer.lower(),
        nonce=nonce,
        tx_hash=hex32(tx_hash),
        raw_tx=raw_tx.hex(),
        state=TxState.SIGNED,
        item_count=item_count,
    )
    session.add(tx)
    session.flush()
    return tx


def set_other_state(
    session: Session,
    table: type[Revocation] | type[Replacement] | type[AccessLogAnchor],
    row_id: int,
    state: AnchorState,
    *,
    tx_hash: str | None = None,
    block_number: int | None = None,
) -> None:
    """Move a revocation / replacement / access-log anchor row (of `table`) to `state`."""
    values: dict[str, object] = {"anchor_state": state, "tx_hash": tx_hash}
    if state is AnchorState.ANCHORED:
        values |= {"block_number": block_number, "anchored_at": utcnow()}
    session.execute(
        update(table)
        .where(table.id == row_id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )


def settle_tx(
    session: Session, tx_hash: str, state: TxState, *, block: int | None = None, error: str = ""
) -> None:
    """Mark a recorded transaction confirmed / failed / dropped."""
    values: dict[str, object] = {"state": state}
    if block is not None:
        values |= {"block_number": block, "confirmed_at": utcnow()}
    if error:
        values["error"] = error[:4000]
    session.execute(update(AnchorTx).where(AnchorTx.tx_hash == hex32(tx_hash)).values(**values))


def raise_alert(
    session: Session,
    *,
    rule: str,
    office_pk: int | None,
    record_id: str | None,
    details: dict[str, object],
    key: str,
    severity: Severity = Severity.CRITICAL,
) -> None:
    """Add an alert once per fingerprint (`notary.audit.alert_store.add_alert`); its message
    is the rule and the error; the scheduled audit passes it on to the webhook."""
    error = details.get("error")
    message = f"{rule}: {error}" if error else rule
    add_alert(
        session,
        rule=rule,
        key=key,
        message=message,
        severity=severity,
        office_pk=office_pk,
        record_id=record_id,
        details=dict(details),
    )
