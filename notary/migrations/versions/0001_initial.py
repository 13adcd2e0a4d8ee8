"""Initial schema: offices, keys, records, revisions, outbox, access log, audit tables.

Revision ID: 0001
Revises:
Create Date: 2026-11-25

Written out by hand (frozen: it does not import the models). Column conventions as in
`notary.db.types`: 32-byte values as VARCHAR(64) lowercase hex, timestamps WITH TIME ZONE,
enumerations as VARCHAR(20) with a CHECK constraint.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIGINT_PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
ANCHOR_STATES = ("pending", "sending", "anchored", "failed")
ANCHOR_MODES = ("direct", "many", "batch")


def _hex32(name: str, *args: object, nullable: bool = False, **kw: object) -> sa.Column:
    return sa.Column(name, sa.String(64), *args, nullable=nullable, **kw)


def _ts(name: str, *, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _enum(name: str, values: Sequence[str], enum_name: str, *, nullable: bool = False) -> sa.Column:
    kind = sa.Enum(*values, name=enum_name, native_enum=False, create_constraint=True, length=20)
    return sa.Column(name, kind, nullable=nullable)


def _anchor_columns() -> list[sa.Column]:
    """Outbox columns shared by revocations, replacements and access-log anchors."""
    return [
        _enum("anchor_state", ANCHOR_STATES, "anchor_state"),
        _hex32("tx_hash", nullable=True),
        sa.Column("block_number", sa.BigInteger(), nullable=True),
    ]


def upgrade() -> None:
    op.create_table(
        "offices",
        sa.Column("id", sa.Integer(), nullable=False),
        _hex32("office_id"),
        sa.Column("number", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        _enum("status", ("active", "suspended"), "office_status"),
        _ts("created_at"),
        sa.CheckConstraint(
            "number BETWEEN 1 AND 4294967295", name=op.f("ck_offices_number_uint32")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_offices")),
        sa.UniqueConstraint("number", name=op.f("uq_offices_number")),
        sa.UniqueConstraint("office_id", name=op.f("uq_offices_office_id")),
    )

    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("office_pk", sa.Integer(), nullable=True),
        _enum("role", ("publisher", "auditor", "admin"), "key_role"),
        sa.Column("label", sa.String(100), nullable=True),
        sa.Column("prefix", sa.String(32), nullable=False),
        _hex32("key_hash"),
        _ts("created_at"),
        _ts("revoked_at", nullable=True),
        sa.CheckConstraint(
            "(role = 'admin' AND office_pk IS NULL) OR (role <> 'admin' AND office_pk IS NOT NULL)",
            name=op.f("ck_api_keys_admin_has_no_office"),
        ),
        sa.ForeignKeyConstraint(
            ["office_pk"], ["offices.id"], name=op.f("fk_api_keys_office_pk_offices")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("prefix", name=op.f("uq_api_keys_prefix")),
    )
    op.create_index(op.f("ix_api_keys_office_pk"), "api_keys", ["office_pk"])

    op.create_table(
        "records",
        _hex32("record_id"),
        sa.Column("office_pk", sa.Integer(), nullable=False),
        _enum("kind", ("disclosure", "certificate"), "record_kind"),
        _enum("access_tier", ("public", "restricted", "internal"), "access_tier"),
        _enum("status", ("current", "revoked", "replaced", "expired"), "record_status"),
        sa.Column("head_version", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(500), nullable=False),
        sa.Column("category", sa.String(100), nullable=True),
        sa.Column("published_on", sa.Date(), nullable=True),
        _hex32("replaced_by", nullable=True),
        _ts("valid_until", nullable=True),
        _ts("created_at"),
        _ts("updated_at"),
        sa.CheckConstraint("head_version >= 1", name=op.f("ck_records_head_version_positive")),
        sa.CheckConstraint(
            "kind = 'certificate' OR valid_until IS NULL", name=op.f("ck_records_validity_on_cert")
        ),
        sa.CheckConstraint(
            "(status = 'replaced' AND replaced_by IS NOT NULL) "
            "OR (status <> 'replaced' AND replaced_by IS NULL)",
            name=op.f("ck_records_replaced_by_iff_replaced"),
        ),
        sa.CheckConstraint(
            "replaced_by IS NULL OR replaced_by <> record_id",
            name=op.f("ck_records_not_self_replaced"),
        ),
        sa.ForeignKeyConstraint(
            ["office_pk"], ["offices.id"], name=op.f("fk_records_office_pk_offices")
        ),
        sa.ForeignKeyConstraint(
            ["replaced_by"], ["records.record_id"], name=op.f("fk_records_replaced_by_records")
        ),
        sa.PrimaryKeyConstraint("record_id", name=op.f("pk_records")),
    )
    op.create_index(
        "ix_records_office_category_published", "records", ["office_pk", "category", "published_on"]
    )
    op.create_index("ix_records_office_published", "records", ["office_pk", "published_on"])
    op.create_index("ix_records_office_created", "records", ["office_pk", "created_at"])

    op.create_table(
        "revisions",
        sa.Column("id", BIGINT_PK, nullable=False),
        _hex32("record_id"),
        sa.Column("version", sa.Integer(), nullable=False),
        _hex32("content_hash"),
        _hex32("sm3", nullable=True),
        sa.Column("metadata_json", sa.Text(), nullable=False),
        _hex32("metadata_hash"),
        _hex32("prev_leaf", nullable=True),
        _hex32("leaf", nullable=True),
        sa.Column("change_note", sa.Text(), nullable=True),
        _ts("accepted_at"),
        _enum("anchor_state", ANCHOR_STATES, "anchor_state"),
        _enum("anchor_mode", ANCHOR_MODES, "anchor_mode", nullable=True),
        _hex32("tx_hash", nullable=True),
        sa.Column("block_number", sa.BigInteger(), nullable=True),
        sa.Column("log_index", sa.Integer(), nullable=True),
        _hex32("batch_root", nullable=True),
        sa.Column("merkle_proof", sa.JSON(), nullable=True),
        _ts("anchored_at", nullable=True),
        sa.Column("anchor_error", sa.Text(), nullable=True),
        sa.CheckConstraint("version >= 1", name=op.f("ck_revisions_version_positive")),
        sa.CheckConstraint(
            "anchor_state <> 'anchored' OR "
            "(tx_hash IS NOT NULL AND block_number IS NOT NULL AND leaf IS NOT NULL)",
            name=op.f("ck_revisions_anchored_has_tx"),
        ),
        sa.ForeignKeyConstraint(
            ["record_id"], ["records.record_id"], name=op.f("fk_revisions_record_id_records")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_revisions")),
        sa.UniqueConstraint("leaf", name=op.f("uq_revisions_leaf")),
        sa.UniqueConstraint("record_id", "version", name="uq_revisions_record_version"),
    )
    op.create_index("ix_revisions_anchor_state_id", "revisions", ["anchor_state", "id"])
    op.create_index(op.f("ix_revisions_batch_root"), "revisions", ["batch_root"])
    op.create_index(op.f("ix_revisions_content_hash"), "revisions", ["content_hash"])
    op.create_index(op.f("ix_revisions_tx_hash"), "revisions", ["tx_hash"])

    op.create_table(
        "revocations",
        sa.Column("id", sa.Integer(), nullable=False),
        _hex32("record_id"),
        sa.Column("reason", sa.Text(), nullable=False),
        _hex32("reason_hash"),
        _ts("revoked_at"),
        sa.Column("revoked_by_key", sa.Integer(), nullable=True),
        *_anchor_columns(),
        _ts("anchored_at", nullable=True),
        sa.ForeignKeyConstraint(
            ["record_id"], ["records.record_id"], name=op.f("fk_revocations_record_id_records")
        ),
        sa.ForeignKeyConstraint(
            ["revoked_by_key"],
            ["api_keys.id"],
            name=op.f("fk_revocations_revoked_by_key_api_keys"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_revocations")),
        sa.UniqueConstraint("record_id", name=op.f("uq_revocations_record_id")),
    )
    op.create_index(op.f("ix_revocations_anchor_state"), "revocations", ["anchor_state"])

    op.create_table(
        "replacements",
        sa.Column("id", sa.Integer(), nullable=False),
        _hex32("record_id"),
        _hex32("by_record_id"),
        _ts("replaced_at"),
        sa.Column("replaced_by_key", sa.Integer(), nullable=True),
        *_anchor_columns(),
        _ts("anchored_at", nullable=True),
        sa.CheckConstraint("by_record_id <> record_id", name=op.f("ck_replacements_not_self")),
        sa.ForeignKeyConstraint(
            ["by_record_id"],
            ["records.record_id"],
            name=op.f("fk_replacements_by_record_id_records"),
        ),
        sa.ForeignKeyConstraint(
            ["record_id"], ["records.record_id"], name=op.f("fk_replacements_record_id_records")
        ),
        sa.ForeignKeyConstraint(
            ["replaced_by_key"],
            ["api_keys.id"],
            name=op.f("fk_replacements_replaced_by_key_api_keys"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_replacements")),
        sa.UniqueConstraint("record_id", name=op.f("uq_replacements_record_id")),
    )
    op.create_index(op.f("ix_replacements_anchor_state"), "replacements", ["anchor_state"])
    op.create_index(op.f("ix_replacements_by_record_id"), "replacements", ["by_record_id"])

    op.create_table(
        "blobs",
        _hex32("sha256"),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("path", sa.String(300), nullable=False),
        sa.Column("media_type", sa.String(100), nullable=True),
        _ts("created_at"),
        sa.CheckConstraint("size >= 0", name=op.f("ck_blobs_size_non_negative")),
        sa.PrimaryKeyConstraint("sha256", name=op.f("pk_blobs")),
    )

    op.create_table(
        "pii_overrides",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("revision_id", BIGINT_PK, nullable=False),
        sa.Column("findings", sa.JSON(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("api_key_id", sa.Integer(), nullable=True),
        _ts("created_at"),
        sa.ForeignKeyConstraint(
            ["api_key_id"], ["api_keys.id"], name=op.f("fk_pii_overrides_api_key_id_api_keys")
        ),
        sa.ForeignKeyConstraint(
            ["revision_id"], ["revisions.id"], name=op.f("fk_pii_overrides_revision_id_revisions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pii_overrides")),
        sa.UniqueConstraint("revision_id", name=op.f("uq_pii_overrides_revision_id")),
    )

    op.create_table(
        "anchor_txs",
        sa.Column("id", BIGINT_PK, nullable=False),
        _enum("purpose", ("revisions", "revocation", "replacement", "access_log"), "tx_purpose"),
        _enum("mode", ANCHOR_MODES, "anchor_mode", nullable=True),
        sa.Column("signer", sa.String(42), nullable=False),
        sa.Column("nonce", sa.BigInteger(), nullable=False),
        _hex32("tx_hash"),
        sa.Column("raw_tx", sa.Text(), nullable=False),
        _enum("state", ("signed", "sent", "confirmed", "failed", "dropped"), "tx_state"),
        _hex32("batch_root", nullable=True),
        sa.Column("item_count", sa.Integer(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        _ts("created_at"),
        _ts("sent_at", nullable=True),
        _ts("confirmed_at", nullable=True),
        sa.CheckConstraint("nonce >= 0", name=op.f("ck_anchor_txs_nonce_non_negative")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_anchor_txs")),
        sa.UniqueConstraint("tx_hash", name=op.f("uq_anchor_txs_tx_hash")),
    )
    op.create_index("ix_anchor_txs_signer_nonce", "anchor_txs", ["signer", "nonce"])
    op.create_index("ix_anchor_txs_state_id", "anchor_txs", ["state", "id"])

    op.create_table(
        "access_log",
        sa.Column("office_pk", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        _ts("at"),
        sa.Column("api_key_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(64), nullable=False),
        _hex32("record_id", nullable=True),
        sa.Column("outcome", sa.String(32), nullable=False),
        _hex32("prev_hash"),
        _hex32("entry_hash"),
        sa.CheckConstraint("seq >= 1", name=op.f("ck_access_log_seq_positive")),
        sa.ForeignKeyConstraint(
            ["api_key_id"], ["api_keys.id"], name=op.f("fk_access_log_api_key_id_api_keys")
        ),
        sa.ForeignKeyConstraint(
            ["office_pk"], ["offices.id"], name=op.f("fk_access_log_office_pk_offices")
        ),
        sa.PrimaryKeyConstraint("office_pk", "seq", name=op.f("pk_access_log")),
        sa.UniqueConstraint("entry_hash", name=op.f("uq_access_log_entry_hash")),
        sa.UniqueConstraint("office_pk", "prev_hash", name="uq_access_log_office_prev"),
    )
    op.create_index("ix_access_log_office_record", "access_log", ["office_pk", "record_id"])

    op.create_table(
        "access_log_anchors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("office_pk", sa.Integer(), nullable=False),
        sa.Column("up_to_seq", sa.BigInteger(), nullable=False),
        _hex32("head"),
        *_anchor_columns(),
        _ts("created_at"),
        _ts("anchored_at", nullable=True),
        sa.ForeignKeyConstraint(
            ["office_pk"], ["offices.id"], name=op.f("fk_access_log_anchors_office_pk_offices")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_log_anchors")),
        sa.UniqueConstraint("office_pk", "up_to_seq", name="uq_access_log_anchors_office_seq"),
    )
    op.create_index(
        op.f("ix_access_log_anchors_anchor_state"), "access_log_anchors", ["anchor_state"]
    )

    op.create_table(
        "idempotency_keys",
        sa.Column("id", BIGINT_PK, nullable=False),
        sa.Column("api_key_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        _hex32("request_hash"),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("response_json", sa.JSON(), nullable=True),
        _ts("created_at"),
        sa.ForeignKeyConstraint(
            ["api_key_id"], ["api_keys.id"], name=op.f("fk_idempotency_keys_api_key_id_api_keys")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idempotency_keys")),
        sa.UniqueConstraint("api_key_id", "key", name="uq_idempotency_keys_key"),
    )
    op.create_index(op.f("ix_idempotency_keys_created_at"), "idempotency_keys", ["created_at"])

    op.create_table(
        "alerts",
        sa.Column("id", BIGINT_PK, nullable=False),
        sa.Column("rule", sa.String(64), nullable=False),
        _enum("severity", ("info", "warning", "critical"), "severity"),
        sa.Column("office_pk", sa.Integer(), nullable=True),
        _hex32("record_id", nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        _hex32("fingerprint", nullable=True),
        _ts("created_at"),
        sa.Column("acknowledged", sa.Boolean(), nullable=False),
        _ts("acknowledged_at", nullable=True),
        sa.ForeignKeyConstraint(
            ["office_pk"], ["offices.id"], name=op.f("fk_alerts_office_pk_offices")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
        sa.UniqueConstraint("fingerprint", name=op.f("uq_alerts_fingerprint")),
    )
    op.create_index("ix_alerts_office_created", "alerts", ["office_pk", "created_at"])
    op.create_index("ix_alerts_rule_created", "alerts", ["rule", "created_at"])


def downgrade() -> None:
    for table in (
        "alerts",
        "idempotency_keys",
        "access_log_anchors",
        "access_log",
        "anchor_txs",
        "pii_overrides",
        "blobs",
        "replacements",
        "revocations",
        "revisions",
        "records",
        "api_keys",
        "offices",
    ):
        op.drop_table(table)  # indexes go with their table
