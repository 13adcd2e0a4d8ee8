"""Fill the outbox with pending revisions of synthetic files (tests and `bench_anchor.py`).

Each revision stands for a 1 KB file (random bytes, hashed) with small canonical metadata;
nothing is stored on disk. Not used by the service itself.
"""

from __future__ import annotations

import hashlib
import json
import os

from sqlalchemy.orm import Session

from notary.db import repo
from notary.db.models import Office
from notary.db.types import AccessTier, RecordKind
from notary.formats.revision import new_record_id


def _metadata(title: str, n: int) -> tuple[str, str]:
    text = json.dumps({"format": 1, "title": title, "n": n}, sort_keys=True, separators=(",", ":"))
    return text, hashlib.sha256(text.encode()).hexdigest()


def seed_revisions(
    session: Session,
    *,
    office: Office,
    records: int,
    versions: int = 1,
    category: str | None = None,
    file_size: int = 1024,
) -> list[str]:
    """Add `records` records with `versions` pending versions each; returns the record ids."""
    ids: list[str] = []
    for r in range(records):
        record_id = new_record_id(office.number).hex()
        for v in range(1, versions + 1):
            content = hashlib.sha256(os.urandom(file_size)).hexdigest()
            text, digest = _metadata(f"seed {r} v{v}", v)
            common = {
                "title": f"seed {r}",
                "content_hash": content,
                "metadata_json": text,
                "metadata_hash": digest,
                "category": category,
            }
            if v == 1:
                repo.create_record(
                    session,
                    record_id=record_id,
                    office=office,
                    kind=RecordKind.DISCLOSURE,
                    access_tier=AccessTier.PUBLIC,
                    **common,
                )
            else:
                repo.add_revision(session, record_id=record_id, version=v, **common)
        ids.append(record_id)
    return ids
