"""Compare the replayed chain history with the service's database (docs/design.md, "What must always hold" 2).

`run_diff` lists every disagreement as a `Discrepancy` of one kind:

| kind | meaning |
| --- | --- |
| `missing_on_chain` | a revision the database has (anchored, or accepted longer ago than the anchoring delay) that the chain lacks |
| `missing_in_db` | a revision on chain (of an office in this database) that the database lacks, or a batch with fewer rows than its leaf count |
| `content_hash_changed` | the database's content hash differs from the chain's (batch rows: the row no longer rebuilds its proven leaf) |
| `metadata_hash_changed` | the metadata hash differs, or the stored metadata JSON no longer hashes to it |
| `anchor_changed` | leaf, transaction or block recorded for an anchored revision differ from the chain |
| `status_changed` | current / revoked / replaced (or the revocation reason) differs |
| `blob_corrupt` | a stored file is missing or its bytes no longer match its SHA-256 |
| `access_log_broken` | an office's hash-chained access log is broken or lost an anchored head |

Only offices present in the database are compared: one chain serves many offices. Rows the
database says were anchored after the replay's last block are left to a later replay (an
auditor diffs against a saved replay while the service goes on anchoring).
"""  # noqa: E501

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from notary.audit.state import ACTIVE, REPLACED, REVOKED, ReplayState, RevisionEntry
from notary.db.accesslog import check_office_log
from notary.db.leaf import to_struct
from notary.db.models import Blob, Office, Record, Replacement, Revision, Revocation
from notary.db.types import AnchorMode, AnchorState, RecordStatus
from notary.errors import InvalidInput
from notary.formats.merkle import verify_inclusion
from notary.formats.revision import compute_leaf
from notary.storage.blobstore import BlobNotFound, BlobStore

DEFAULT_ANCHORING_DELAY = timedelta(minutes=10)
"""How long an accepted revision may stay unanchored before its absence is reported."""


@dataclass(frozen=True, slots=True)
class Discrepancy:
    """One disagreement between the database and the chain."""

    kind: str
    message: str
    record_id: str | None = None
    version: int | None = None
    office_number: int | None = None
    block_number: int | None = None
    tx_hash: str | None = None

    def to_json(self) -> dict[str, Any]:
        """A JSON object (for the CLI's `--json`, the API and alert details)."""
        return asdict(self)


def run_diff(
    session: Session,
    replay_state: ReplayState,
    blobstore: BlobStore | None,
    *,
    anchoring_delay: timedelta = DEFAULT_ANCHORING_DELAY,
    now: datetime | None = None,
) -> list[Discrepancy]:
    """Every disagreement between the database behind `session` and `replay_state`."""
    now = now or datetime.now(UTC)
    cutoff = now - anchoring_delay
    offices = {o.number: o for o in session.scalars(select(Office))}
    out: list[Discrepancy] = []
    records = {r.record_id: r for r in session.scalars(select(Record))}  # read once, used twice
    out += _diff_revisions(session, replay_state, offices, records, cutoff)
    out += _diff_status(session, replay_state, records, cutoff)
    if blobstore is not None:
        out += _diff_blobs(session, blobstore)
    out += _diff_access_logs(session, replay_state, offices)
    return out


def _h(value: str) -> str:
    return value.removeprefix("0x")


def _diff_revisions(
    session: Session,
    state: ReplayState,
    offices: dict[int, Office],
    records: dict[str, Record],
    cutoff: datetime,
) -> list[Discrepancy]:
    out: list[Discrepancy] = []
    chain: dict[tuple[str, int], RevisionEntry] = {
        (_h(e.record_id), e.version): e for e in state.revisions if e.office_number in offices
    }
    batches = {
        _h(a.value or ""): a
        for a in state.actions
        if a.action == "batch" and a.office_number in offices
    }
    in_batches: Counter[str] = Counter()
    for rev in session.scalars(select(Revision).order_by(Revision.id)):
        number = int(rev.record_id[:8], 16)
        where = {"record_id": "0x" + rev.record_id, "version": rev.version, "office_number": number}
        entry = chain.pop((rev.record_id, rev.version), None)
        if entry is None:
            if rev.anchor_mode is AnchorMode.BATCH and _in_batch(rev, batches.keys()):
                in_batches[rev.batch_root or ""] += 1
                problem = _batch_leaf_problem(rev, records.get(rev.record_id), state)
                if problem:
                    out.append(Discrepancy("content_hash_changed", problem, **where))
                continue
            if _after(rev.block_number, state):
                continue
            if rev.anchor_state is AnchorState.ANCHORED or rev.accepted_at < cutoff:
                claimed = f" (the database says anchored in {rev.tx_hash})" if rev.tx_hash else ""
                out.append(
                    Discrepancy(
                        "missing_on_chain",
                        f"revision v{rev.version} accepted {rev.accepted_at.isoformat()} "
                        f"is not on chain{claimed}",
                        **where,
                    )
                )
            continue
        at = {**where, "block_number": entry.block_number, "tx_hash": entry.tx_hash}
        if rev.content_hash != _h(entry.content_hash):
            out.append(
                Discrepancy(
                    "content_hash_changed",
                    f"database content hash {rev.content_hash}, chain {_h(entry.content_hash)}",
                    **at,
                )
            )
        if rev.metadata_hash != _h(entry.metadata_hash):
            out.append(
                Discrepancy(
                    "metadata_hash_changed",
                    f"database metadata hash {rev.metadata_hash}, chain {_h(entry.metadata_hash)}",
                    **at,
                )
            )
        elif hashlib.sha256(rev.metadata_json.encode("utf-8")).hexdigest() != rev.metadata_hash:
            out.append(
                Discrepancy(
                    "metadata_hash_changed",
                    "the stored metadata JSON no longer hashes to the anchored metadata hash",
                    **at,
                )
            )
        # A revision on chain must be recorded as anchored, with the chain's leaf, transaction
        # and block; only one still being sent (broadcast, not yet recorded) may lack them.
        sending = rev.anchor_state is AnchorState.SENDING
        changed = [
            name
            for name, db, ch in (
                ("leaf", rev.leaf, _h(entry.leaf)),
                ("tx_hash", rev.tx_hash, _h(entry.tx_hash)),
                ("block_number", rev.block_number, entry.block_number),
            )
            if db != ch and not (db is None and sending)
        ]
        if rev.anchor_state not in (AnchorState.ANCHORED, AnchorState.SENDING):
            changed.insert(0, f"anchor state {rev.anchor_state.value}")
        if changed:
            out.append(
                Discrepancy("anchor_changed", f"{', '.join(changed)} differ from the chain", **at)
            )
    for root, action in batches.items():  # every leaf of a batch has its row
        if in_batches[root] != (action.count or 0):
            out.append(
                Discrepancy(
                    "missing_in_db",
                    f"batch {root} holds {action.count} revision(s) on chain, the database "
                    f"{in_batches[root]}",
                    office_number=action.office_number,
                    block_number=action.block_number,
                    tx_hash=action.tx_hash,
                )
            )
    for (record_id, version), entry in chain.items():
        out.append(
            Discrepancy(
                "missing_in_db",
                f"revision v{version} is on chain but not in the database",
                record_id="0x" + record_id,
                version=version,
                office_number=entry.office_number,
                block_number=entry.block_number,
                tx_hash=entry.tx_hash,
            )
        )
    return out


def _after(block_number: int | None, state: ReplayState) -> bool:
    """Whether a row's anchoring block is past what the replay read."""
    return block_number is not None and block_number > state.last_block


def _batch_leaf_problem(rev: Revision, record: Record | None, state: ReplayState) -> str | None:
    """Why a batch revision's row no longer gives its anchored leaf, if it does not: the chain
    holds only the batch root, so the row's own fields must rebuild the proven leaf."""
    if record is None:
        return "the revision's record is missing from the database"
    prev = bytes.fromhex(rev.prev_leaf) if rev.prev_leaf else bytes(32)
    try:
        leaf = compute_leaf(
            to_struct(rev, record, prev), chain_id=state.chain_id, registry=state.registry
        )
    except (ValueError, InvalidInput) as exc:
        return f"the row cannot rebuild its leaf: {exc}"
    if leaf.hex() != rev.leaf:
        return "the row's hashes no longer give the leaf anchored in its batch"
    if hashlib.sha256(rev.metadata_json.encode("utf-8")).hexdigest() != rev.metadata_hash:
        return "the stored metadata JSON no longer hashes to the anchored metadata hash"
    return None


def _in_batch(rev: Revision, batches: Iterable[str]) -> bool:
    if rev.batch_root is None or rev.batch_root not in batches or rev.leaf is None:
        return False
    try:
        proof = [bytes.fromhex(p) for p in rev.merkle_proof or ()]
        return verify_inclusion(bytes.fromhex(rev.batch_root), bytes.fromhex(rev.leaf), proof)
    except ValueError:
        return False


def _diff_status(
    session: Session, state: ReplayState, records: dict[str, Record], cutoff: datetime
) -> list[Discrepancy]:
    out: list[Discrepancy] = []
    revocations = {r.record_id: r for r in session.scalars(select(Revocation))}
    replacements = {r.record_id: r for r in session.scalars(select(Replacement))}
    for record in records.values():
        chain = state.records.get("0x" + record.record_id)
        if chain is None:
            continue  # never anchored: reported per revision
        where = {
            "record_id": "0x" + record.record_id,
            "office_number": chain.office_number,
            "block_number": chain.closed_block,
            "tx_hash": chain.closed_tx,
        }
        expected = {
            ACTIVE: (RecordStatus.CURRENT, RecordStatus.EXPIRED),
            REVOKED: (RecordStatus.REVOKED,),
            REPLACED: (RecordStatus.REPLACED,),
        }[chain.status]
        if record.status not in expected:
            pending = revocations.get(record.record_id) or replacements.get(record.record_id)
            young = pending is not None and (
                (pending.anchor_state is not AnchorState.ANCHORED and _created(pending) >= cutoff)
                or _after(pending.block_number, state)
            )
            if not (chain.status == ACTIVE and young):
                out.append(
                    Discrepancy(
                        "status_changed",
                        f"database status {record.status.value}, chain {chain.status}",
                        **where,
                    )
                )
            continue
        if chain.status == REPLACED and record.replaced_by != _h(chain.replaced_by or ""):
            out.append(
                Discrepancy(
                    "status_changed",
                    f"database says replaced by {record.replaced_by}, chain by {chain.replaced_by}",
                    **where,
                )
            )
        revocation = revocations.get(record.record_id)
        if chain.status == REVOKED and revocation is not None:
            text_hash = hashlib.sha256(revocation.reason.encode("utf-8")).hexdigest()
            if revocation.reason_hash != _h(chain.reason_hash or "") or text_hash != _h(
                chain.reason_hash or ""
            ):
                out.append(
                    Discrepancy(
                        "status_changed",
                        "the revocation reason no longer matches the reason hash on chain",
                        **where,
                    )
                )
    return out


def _created(row: Revocation | Replacement) -> datetime:
    return row.revoked_at if isinstance(row, Revocation) else row.replaced_at


def _diff_blobs(session: Session, store: BlobStore) -> list[Discrepancy]:
    out: list[Discrepancy] = []
    for blob in session.scalars(select(Blob).order_by(Blob.sha256)):
        try:
            ok = store.verify(blob.sha256)
            reason = "its bytes no longer match its SHA-256"
        except BlobNotFound:
            ok, reason = False, "the file is missing from the blob store"
        if not ok:
            out.append(Discrepancy("blob_corrupt", f"blob {blob.sha256}: {reason}"))
    return out


def _diff_access_logs(
    session: Session, state: ReplayState, offices: dict[int, Office]
) -> list[Discrepancy]:
    out: list[Discrepancy] = []
    for number, office in sorted(offices.items()):
        heads = [
            (a.count or 0, a.value or "")
            for a in state.actions
            if a.action == "access_log" and a.office_number == number
        ]
        for brk in check_office_log(session, office.id, heads):
            out.append(
                Discrepancy(
                    "access_log_broken",
                    f"office {number} access log, entry {brk.seq}: {brk.reason}",
                    office_number=number,
                )
            )
    return out
