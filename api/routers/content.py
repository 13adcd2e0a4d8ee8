"""The public content lookup: which anchored revisions of this service hold some bytes.

`verifier check FILE --index URL` asks it instead of scanning every anchor on the chain, and
then checks each answer on chain in one block read (docs/verifier.md): the chain decides, so
a wrong answer here can only make the verifier say "unknown", never "authentic".
"""

from __future__ import annotations

from fastapi import APIRouter, Request

from api.schemas import ContentAnchorPublic, ContentLookupPublic
from api.services.content_index import public_anchors
from notary.errors import NotFound
from notary.formats.revision import parse_bytes32

router = APIRouter(prefix="/content", tags=["content"])


@router.get("/{sha256}", response_model=ContentLookupPublic)
def lookup_content(sha256: str, request: Request) -> ContentLookupPublic:
    """The anchored revisions holding the bytes with this SHA-256 that anyone may be told of.

    Bytes no revision holds, and bytes only internal records hold, get the same 404.
    """
    digest = parse_bytes32(sha256, "sha256")  # 400 with the reason when it is not hex
    hits = public_anchors(request, digest)
    if not hits:
        raise NotFound(f"no anchored revision holds content {digest.hex()}")
    return ContentLookupPublic(
        sha256=digest.hex(),
        anchors=[
            ContentAnchorPublic(
                chain_id=h.chain_id,
                registry=h.registry,
                record_id=h.record_id.hex(),
                version=h.version,
                block_number=h.block,
            )
            for h in hits
        ],
    )
