"""The holder's capability of a certificate, kept only as a hash.

Revision ID: 0006_holder_capability
Revises: 0005_console
Create Date: 2026-12-10

`records.holder_cap_sha256` is `sha256(capability)` where the capability is
`sha256("holder" || salt || record id)` (docs/privacy.md, "The holder's link"). The
service compares a holder's capability with it and keeps neither the capability nor the
salt in the database. Certificates issued before this revision have none: their holder
link opens nothing (their stamped PDF still carries the salt in its codes).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_holder_capability"
down_revision: str | None = "0005_console"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("records") as batch:
        batch.add_column(sa.Column("holder_cap_sha256", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("records") as batch:
        batch.drop_column("holder_cap_sha256")
