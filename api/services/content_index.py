"""The service's own content index: which of its anchored revisions hold some bytes.

An uploaded file without a QR code is found by its SHA-256. The independent verifier finds
it by reading every anchor of every trusted registry, which grows with the chain; the
service instead asks its own database (an index on `revisions.content_hash`) and has the
verifier confirm only the revisions named there on the chain, each in the block the database
recorded (one block read; the chain, not the database, decides). Bytes the database does not
know are "unknown" here, even when another service anchored them on a trusted registry:
only the independent verifier (`verifier check FILE`) searches the whole chain.

The same index answers the public lookup route (`GET /api/v1/content/{sha256}`,
`public_anchors`), which the independent verifier asks with `--index URL` instead of scanning:
there a revision is named only when its record's tier lets an anonymous caller see it
(`api.services.tier_view.record_view`), so an internal record's bytes answer exactly as
unknown bytes do.
"""

from __future__ import annotations

import functools
from typing import Any

from fastapi import Request

from api.services.links import verify_target
from api.services.tier_view import RecordFacts, record_view
from notary.db.types import AccessTier
from notary.pdf.verify_links import VerifyTarget
from verifier.verify import MAX_INDEX_HITS, ContentHit, ContentIndex


@functools.cache
def _hits_query() -> Any:
    """The newest anchored revisions with a content hash (built once)."""
    from sqlalchemy import bindparam, select

    from notary.db.models import Record, Revision
    from notary.db.types import AnchorState

    return (
        select(Revision.record_id, Revision.version, Revision.block_number, Record.access_tier)
        .join(Record, Record.record_id == Revision.record_id)
        .where(Revision.content_hash == bindparam("sha"))
        .where(Revision.anchor_state == AnchorState.ANCHORED)
        .order_by(Revision.id.desc())
        .limit(MAX_INDEX_HITS)
    )


def _rows(db: Any, digest: bytes) -> list[Any]:
    """The index rows (record id, version, block, tier) for a digest, newest first."""
    from notary.db.session import READ_ONLY

    with db.engine.connect() as conn:  # a read: no SQLite write lock
        return list(
            conn.execution_options(**READ_ONLY).execute(_hits_query(), {"sha": digest.hex()})
        )


def _hit(own: VerifyTarget, rid: str, version: Any, block: Any) -> ContentHit:
    return ContentHit(
        own.chain_id,
        own.registry,
        bytes.fromhex(rid),
        int(version),
        None if block is None else int(block),
    )


def public_anchors(request: Request, digest: bytes) -> list[ContentHit]:
    """The anchored revisions of this node's registry holding `digest` that an anonymous
    caller may be told of (a hint for the independent verifier, who checks each on chain).
    Internal records are left out, so their bytes get the answer unknown bytes get."""
    db = getattr(request.app.state, "db", None)
    own = verify_target(request) if hasattr(request.app.state, "settings") else None
    if own is None or db is None or db.engine is None:
        return []
    return [
        _hit(own, rid, version, block)
        for rid, version, block, tier in _rows(db, digest)
        if record_view(RecordFacts(tier=AccessTier(tier))).visible
    ]


def database_index(request: Request) -> ContentIndex:
    """The content index of this node's database for its own registry (empty without a
    database or a registry: every unstamped upload is then unknown)."""
    db = getattr(request.app.state, "db", None)
    own = verify_target(request) if hasattr(request.app.state, "settings") else None

    def lookup(digest: bytes) -> list[ContentHit]:
        if own is None or db is None or db.engine is None:
            return []
        return [_hit(own, rid, version, block) for rid, version, block, _tier in _rows(db, digest)]

    return lookup
