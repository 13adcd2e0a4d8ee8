"""Alerts can be acknowledged with a note, are seen again, and reach the webhook reliably.

Revision ID: 0004_audit_ack
Revises: 0003_replacement_reason
Create Date: 2026-12-10

- `acknowledged_by`, `ack_note`: who acknowledged an alert (an auditor's key, or the CLI
  operator's name) and why;
- `last_seen_at`: the last audit run that found the same fingerprint again (an
  acknowledged alert stays acknowledged; a sighting after `acknowledged_at` is shown as
  `seen_after_ack`);
- `notified_at`: when the webhook took the alert (NULL: not yet; the scheduled audit
  retries). Rows stored before are marked notified at their creation, so an upgrade does
  not replay old alerts to the webhook.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_audit_ack"
down_revision: str | None = "0003_replacement_reason"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("alerts") as batch:
        batch.add_column(sa.Column("acknowledged_by", sa.String(200), nullable=True))
        batch.add_column(sa.Column("ack_note", sa.Text(), nullable=True))
        batch.add_column(sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("notified_at", sa.DateTime(timezone=True), nullable=True))
    alerts = sa.table(
        "alerts",
        sa.column("created_at", sa.DateTime(timezone=True)),
        sa.column("last_seen_at", sa.DateTime(timezone=True)),
        sa.column("notified_at", sa.DateTime(timezone=True)),
    )
    op.execute(
        sa.update(alerts).values(last_seen_at=alerts.c.created_at, notified_at=alerts.c.created_at)
    )
    op.create_index("ix_alerts_ack_rule", "alerts", ["acknowledged", "rule"])


def downgrade() -> None:
    op.drop_index("ix_alerts_ack_rule", table_name="alerts")
    with op.batch_alter_table("alerts") as batch:
        for name in ("notified_at", "last_seen_at", "ack_note", "acknowledged_by"):
            batch.drop_column(name)
