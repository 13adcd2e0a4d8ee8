"""A replacement keeps its supersede reason, and the reason's hash is anchored.

Revision ID: 0003_replacement_reason
Revises: 0002_rest
Create Date: 2026-12-03

The registry's `replace(recordId, byRecordId, reasonHash)` anchors the SHA-256 of the
supersede reason, as `revoke` anchors the revocation reason's (docs/formats.md). The reason
text stays in the database, its hash goes to the chain. Rows made before have no reason: both
columns are NULL and the worker anchors a zero hash for them.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_replacement_reason"
down_revision: str | None = "0002_rest"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the nullable `reason` and `reason_hash` columns to `replacements`."""
    with op.batch_alter_table("replacements") as batch:
        batch.add_column(sa.Column("reason", sa.Text(), nullable=True))
        batch.add_column(sa.Column("reason_hash", sa.String(64), nullable=True))


def downgrade() -> None:
    """Drop them again (the hashes stay on chain)."""
    with op.batch_alter_table("replacements") as batch:
        batch.drop_column("reason_hash")
        batch.drop_column("reason")
