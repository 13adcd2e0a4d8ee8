"""A stored revision as the registry's struct: the one mapping from rows to leaf inputs.

The worker plans its transactions with it and the audit diff recomputes stored leaves with
it, so both read a row the same way.
"""

from __future__ import annotations

from notary.db.models import Record, Revision
from notary.db.types import RecordKind
from notary.formats.fields import valid_until_seconds
from notary.formats.revision import ZERO32, Kind
from notary.formats.revision import Revision as ChainRevision


def to_struct(row: Revision, record: Record, prev_leaf: bytes) -> ChainRevision:
    """The registry struct of a database revision with the given previous leaf.

    Raises `InvalidInput` for a row the door would have refused (say, a validity end at or
    before the epoch, written by a bug or a migration): `build_items` isolates it.
    """
    valid_until = valid_until_seconds(record.valid_until)
    kind = Kind.CERTIFICATE if record.kind is RecordKind.CERTIFICATE else Kind.DISCLOSURE
    return ChainRevision(
        record_id=bytes.fromhex(row.record_id),
        version=row.version,
        kind=kind,
        valid_until=valid_until,
        content_hash=bytes.fromhex(row.content_hash),
        metadata_hash=bytes.fromhex(row.metadata_hash),
        prev_leaf=prev_leaf if row.version > 1 else ZERO32,
    )
