"""The real app serving a test registry as its own, anchored rows written as the worker would,
and odd-shaped PDFs."""

from __future__ import annotations

import hashlib
import io
import json

from notary.db import repo
from notary.db.types import AnchorState
from notary.pdf.verify_links import VerifyTarget
from verifier.chainsource import RegistryPool


def record_anchored(app, reg, rid: bytes, version: int, leaf: bytes, content: bytes) -> None:
    """Write the anchored revision into the app's database as the worker would have."""
    from sqlalchemy import select

    from notary.db.models import Revision
    from notary.errors import NotFound

    meta = json.dumps({"title": "公告"})
    with app.state.db.session() as s:
        try:
            office = repo.get_office(s, office_id=reg.office_id)
        except NotFound:
            office = repo.create_office(
                s, office_id=reg.office_id, number=reg.office_number, name="局"
            )
        common = {
            "title": "公告",
            "content_hash": hashlib.sha256(content).hexdigest(),
            "metadata_json": meta,
            "metadata_hash": hashlib.sha256(meta.encode()).digest(),
        }
        if version == 1:
            repo.create_record(
                s, record_id=rid, office=office, kind="disclosure", access_tier="public", **common
            )
        else:
            repo.add_revision(s, record_id=rid, version=version, **common)
        rev = s.execute(
            select(Revision).where(Revision.record_id == rid.hex(), Revision.version == version)
        ).scalar_one()
        rev.anchor_state, rev.tx_hash = AnchorState.ANCHORED, "ab" * 32
        rev.block_number, rev.leaf = 1, leaf.hex()
        s.commit()


def own_app(reg, tmp_path, db_url=None, **settings):
    """The real app serving `reg` as this node's own registry."""
    from api.core.settings import Settings
    from api.main import create_app

    kwargs = {"data_dir": tmp_path, **settings}
    if db_url:
        kwargs["database_url"] = db_url
    app = create_app(Settings(**kwargs))
    app.state.verify_trust = reg.trust()
    app.state.verify_target = VerifyTarget(
        scheme="http", host="testserver", chain_id=reg.chain_id, registry=reg.address
    )
    app.state.verify_connect = RegistryPool()
    app.state.verify_ttl = 0.0
    return app


def tall_pdf(width_pt: float = 10, height_pt: float = 3000, pages: int = 1) -> bytes:
    """A real PDF with pages of `width_pt` × `height_pt` points (pypdf)."""
    from pypdf import PdfWriter

    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=width_pt, height=height_pt)
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()
