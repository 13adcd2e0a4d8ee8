"""Shared helpers for the audit tests (no tests here): anchor a small, varied history on the
real anvil and write the rows the service would have written for it."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from notary.formats.revision import Kind, Revision, compute_leaf, reason_hash


@dataclass
class History:
    """What `build_history` anchored, to compare replay and the database with."""

    office: object
    leaves: dict[bytes, bytes] = field(default_factory=dict)
    versions: dict[bytes, int] = field(default_factory=dict)
    contents: dict[tuple[bytes, int], bytes] = field(default_factory=dict)
    records: list[bytes] = field(default_factory=list)


def next_revision(client, history: History, record_id: bytes, content: bytes) -> Revision:
    """The next revision of `record_id` with `content` (kept in `history`)."""
    version = history.versions.get(record_id, 0) + 1
    rev = Revision(
        record_id=record_id,
        version=version,
        kind=Kind.DISCLOSURE,
        valid_until=0,
        content_hash=hashlib.sha256(content).digest(),
        metadata_hash=hashlib.sha256(b"meta:" + content).digest(),
        prev_leaf=history.leaves.get(record_id, bytes(32)),
    )
    history.leaves[record_id] = compute_leaf(rev, chain_id=client.chain_id, registry=client.address)
    history.versions[record_id] = version
    history.contents[(record_id, version)] = content
    if record_id not in history.records:
        history.records.append(record_id)
    return rev


def build_history(
    client,
    office,
    governance,
    *,
    log_head: bytes | None = None,
    log_entries: int = 7,
    batch: bool = True,
) -> History:
    """Three records: A (v1, v2), B (v1, revoked), C (v1, replaced by A); a batch root (of
    leaves nobody has: `batch=False` for a database that must match the chain) and an
    access-log head. Five or six transactions."""
    h = History(office)
    a, b, c = office.record_id(), office.record_id(), office.record_id()
    client.anchor(office.signer, next_revision(client, h, a, b"A1"))
    client.anchor_many(
        office.signer,
        [
            next_revision(client, h, a, b"A2"),
            next_revision(client, h, b, "乙 v1".encode()),
            next_revision(client, h, c, b"C1"),
        ],
    )
    client.revoke(office.signer, b, reason_hash("published by mistake"))
    client.replace(office.signer, c, a)
    if batch:
        client.anchor_batch(office.signer, hashlib.sha256(b"batch").digest(), 4)
    head = log_head if log_head is not None else hashlib.sha256(b"head").digest()
    client.anchor_access_log(office.signer, head, log_entries)
    return h


REASON = "published by mistake"


def add_office_with_log(session, office, entries: int = 5):
    """The office's database row and `entries` access-log entries; returns (row, head)."""
    from datetime import UTC, datetime, timedelta

    from notary.audit.accesslog import entry_hash
    from notary.db.models import ZERO32, AccessLogEntry, Office

    row = Office(office_id=office.office_id.hex(), number=office.number, name=office.name)
    session.add(row)
    session.flush()
    prev = ZERO32
    start = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
    for seq in range(1, entries + 1):
        e = AccessLogEntry(
            office_pk=row.id,
            seq=seq,
            at=start + timedelta(seconds=seq, microseconds=seq),
            api_key_id=None,
            action="read",
            record_id=None,
            outcome="ok",
            prev_hash=prev,
        )
        e.entry_hash = entry_hash(e)
        session.add(e)
        prev = e.entry_hash
    session.commit()
    return row, bytes.fromhex(prev)


def populate_db(session, office_row, state, history, blob_store):
    """The rows the API and the worker would have written for `history`, from the replay."""
    from datetime import UTC, datetime, timedelta

    from notary.db.models import Blob, Record, Replacement, Revision, Revocation
    from notary.db.types import AccessTier, AnchorMode, AnchorState, RecordKind, RecordStatus

    accepted = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    for rec in state.records.values():
        session.add(
            Record(
                record_id=rec.record_id[2:],
                office_pk=office_row.id,
                kind=RecordKind.DISCLOSURE,
                access_tier=AccessTier.PUBLIC,
                status=RecordStatus.CURRENT,
                head_version=rec.version,
                title="示范公告",
            )
        )
    session.flush()
    for e in state.revisions:
        content = history.contents[(bytes.fromhex(e.record_id[2:]), e.version)]
        sha, size = blob_store.put_bytes(content)
        if session.get(Blob, sha) is None:
            session.add(Blob(sha256=sha, size=size, path=blob_store.relative_path(sha)))
        session.add(
            Revision(
                record_id=e.record_id[2:],
                version=e.version,
                content_hash=e.content_hash[2:],
                metadata_json=(b"meta:" + content).decode("utf-8"),
                metadata_hash=e.metadata_hash[2:],
                prev_leaf=e.prev_leaf[2:],
                leaf=e.leaf[2:],
                accepted_at=accepted,
                anchor_state=AnchorState.ANCHORED,
                anchor_mode=AnchorMode.DIRECT,
                tx_hash=e.tx_hash[2:],
                block_number=e.block_number,
                log_index=e.log_index,
                anchored_at=accepted + timedelta(seconds=5),
            )
        )
    session.flush()
    for rec in state.records.values():
        row = session.get(Record, rec.record_id[2:])
        anchored = {
            "anchor_state": AnchorState.ANCHORED,
            "tx_hash": rec.closed_tx and rec.closed_tx[2:],
            "block_number": rec.closed_block,
        }
        if rec.status == "revoked":
            row.status = RecordStatus.REVOKED
            session.add(
                Revocation(
                    record_id=row.record_id,
                    reason=REASON,
                    reason_hash=rec.reason_hash[2:],
                    **anchored,
                )
            )
        elif rec.status == "replaced":
            row.status, row.replaced_by = RecordStatus.REPLACED, rec.replaced_by[2:]
            session.add(
                Replacement(record_id=row.record_id, by_record_id=rec.replaced_by[2:], **anchored)
            )
    session.commit()
