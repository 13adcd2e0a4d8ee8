"""Stored certificate-issue answers lose their salt and holder data.

Revision ID: 0002_rest
Revises: 0001
Create Date: 2026-12-02

An `Idempotency-Key` row kept the whole first answer, and a certificate issue's answer
carries the commitment salt and the holder's data: both in clear in the database, for ever.
The API now stores that answer without them and reads them back from the office's holder
preimage blob on a replay (`api/routers/certificates.py`); this strips the rows stored
before. Old rows are then purged by the worker once past the TTL like any other.

Downgrade changes nothing: the stripped values cannot be put back without the blob store,
and an older API replaying a stripped row answers without them.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_rest"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SECRET_KEYS = ("salt", "holder")

_rows = sa.table(
    "idempotency_keys",
    sa.column("id", sa.Integer),
    sa.column("response_json", sa.JSON),
)


def _is_certificate_issue(body: object) -> bool:
    """The issue answer is the one with a `salt` and a `document_url` (CertificateIssued)."""
    return isinstance(body, dict) and "salt" in body and "document_url" in body


def upgrade() -> None:
    bind = op.get_bind()
    # A text filter first: only rows that mention a salt are read at all.
    candidates = bind.execute(
        sa.select(_rows.c.id, _rows.c.response_json).where(
            sa.cast(_rows.c.response_json, sa.Text).like('%"salt"%')
        )
    ).all()
    for row_id, body in candidates:
        if _is_certificate_issue(body):
            kept = {k: v for k, v in body.items() if k not in SECRET_KEYS}
            bind.execute(sa.update(_rows).where(_rows.c.id == row_id).values(response_json=kept))


def downgrade() -> None:
    pass
