"""One table from transaction purpose to how it is sent and settled.

Revisions are planned into jobs (`notary.anchoring.plan`) and have their own module
(`revisions.py`); every other purpose is one registry call per database row, and this table
says, per purpose: the registry function, the table whose rows it settles, which pending rows
are ready and with which arguments, and the event that proves a row is on chain already (a
refused or lost transaction is settled from that event instead of failing).

| purpose | function | rows | ready when | proving event |
| --- | --- | --- | --- | --- |
| `revocation` | `revoke(recordId, reasonHash)` | `revocations` | the record has no revision pending or sending | `RecordRevoked(recordId)` |
| `replacement` | `replace(recordId, byRecordId, reasonHash)` | `replacements` | neither record has a revision pending or sending | `RecordReplaced(recordId)` |
| `access_log` | `anchorAccessLog(head, upToSeq)` | `access_log_anchors` | always (oldest first) | none: anchoring a head again is harmless |
"""  # noqa: E501

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from notary.chain.events import RecordReplaced, RecordRevoked, RegistryEvent
from notary.db.models import AccessLogAnchor, Record, Replacement, Revision, Revocation
from notary.db.types import AnchorState, TxPurpose

PENDING_PER_ROUND = 100
"""Rows of one purpose signed per round (the rest wait for the next)."""

_BUSY = (AnchorState.PENDING, AnchorState.SENDING)

OtherRow = Revocation | Replacement | AccessLogAnchor
Ready = tuple[Any, int, tuple[Any, ...]]
"""(row, office pk, call arguments) of one row ready to send."""


@dataclass(frozen=True, slots=True)
class Purpose:
    """How one kind of non-revision transaction is sent and settled."""

    purpose: TxPurpose
    function: str
    """The registry function called, one row per transaction."""
    table: type[OtherRow]
    """The rows it settles (their `anchor_state`, `tx_hash`, `block_number`)."""
    ready: Callable[[Session, Sequence[int]], list[Ready]]
    """Pending rows of these offices that may be sent now, with their call arguments."""
    event: type[RegistryEvent] | None = None
    """The event proving a row is on chain already; None when sending again is harmless."""
    topic: Callable[[Any], bytes] | None = None
    """The event's first indexed topic for a row (how to look the event up)."""

    @property
    def failed_rule(self) -> str:
        """The alert rule raised when the chain refuses a row for good."""
        return f"{self.purpose.value}_failed"


def _busy_records() -> Any:
    return select(Revision.record_id).where(Revision.anchor_state.in_(_BUSY)).scalar_subquery()


def _ready_revocations(session: Session, offices: Sequence[int]) -> list[Ready]:
    busy = _busy_records()
    rows = session.execute(
        select(Revocation, Record.office_pk)
        .join(Record, Record.record_id == Revocation.record_id)
        .where(
            Revocation.anchor_state == AnchorState.PENDING,
            Record.office_pk.in_(list(offices)),
            Revocation.record_id.not_in(busy),
        )
        .limit(PENDING_PER_ROUND)
    )
    return [
        (rev, office_pk, (bytes.fromhex(rev.record_id), bytes.fromhex(rev.reason_hash)))
        for rev, office_pk in rows
    ]


def _ready_replacements(session: Session, offices: Sequence[int]) -> list[Ready]:
    busy = _busy_records()
    rows = session.execute(
        select(Replacement, Record.office_pk)
        .join(Record, Record.record_id == Replacement.record_id)
        .where(
            Replacement.anchor_state == AnchorState.PENDING,
            Record.office_pk.in_(list(offices)),
            Replacement.record_id.not_in(busy),
            Replacement.by_record_id.not_in(busy),
        )
        .limit(PENDING_PER_ROUND)
    )
    # The supersede reason's hash goes on chain, zero when the replacement gave none.
    return [
        (
            rep,
            office_pk,
            (bytes.fromhex(rep.record_id), bytes.fromhex(rep.by_record_id), _reason(rep)),
        )
        for rep, office_pk in rows
    ]


def _reason(rep: Replacement) -> bytes:
    return bytes.fromhex(rep.reason_hash) if rep.reason_hash else bytes(32)


def _ready_access_log_heads(session: Session, offices: Sequence[int]) -> list[Ready]:
    rows = session.scalars(
        select(AccessLogAnchor)
        .where(
            AccessLogAnchor.anchor_state == AnchorState.PENDING,
            AccessLogAnchor.office_pk.in_(list(offices)),
        )
        .order_by(AccessLogAnchor.id)
        .limit(PENDING_PER_ROUND)
    )
    return [(a, a.office_pk, (bytes.fromhex(a.head), a.up_to_seq)) for a in rows]


OTHER_PURPOSES: dict[TxPurpose, Purpose] = {
    p.purpose: p
    for p in (
        Purpose(
            TxPurpose.REVOCATION,
            "revoke",
            Revocation,
            _ready_revocations,
            RecordRevoked,
            lambda row: bytes.fromhex(row.record_id),
        ),
        Purpose(
            TxPurpose.REPLACEMENT,
            "replace",
            Replacement,
            _ready_replacements,
            RecordReplaced,
            lambda row: bytes.fromhex(row.record_id),
        ),
        Purpose(TxPurpose.ACCESS_LOG, "anchorAccessLog", AccessLogAnchor, _ready_access_log_heads),
    )
}
"""Every purpose but revisions, in the order a round sends them."""
