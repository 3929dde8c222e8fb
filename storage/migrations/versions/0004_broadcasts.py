"""Broadcasts to subscribers and their per-recipient delivery state; campaigns; uploaded
questionnaire versions.

Written by hand to match `storage.tables` exactly (a test checks there is no drift). Every
table is WITHOUT ROWID on SQLite. Recipients are named by the subscribers' HMAC pseudonym only.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NO_ROWID = {"sqlite_with_rowid": False}


def upgrade() -> None:
    op.create_table(
        "broadcasts",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("created_day", sa.Date(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("locale", sa.String(16), nullable=True),
        sa.Column("paid", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("content_enc", sa.LargeBinary(), nullable=False),
        sa.Column("progress_ref_enc", sa.LargeBinary(), nullable=True),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "status IN ('running', 'paused', 'cancelled', 'done')",
            name=op.f("ck_broadcasts_known_status"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_broadcasts")),
        **NO_ROWID,
    )
    op.create_index(op.f("ix_broadcasts_status"), "broadcasts", ["status"])

    op.create_table(
        "broadcast_recipients",
        sa.Column("broadcast_id", sa.String(32), nullable=False),
        sa.Column("chat_hash", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("retry_at", sa.DateTime(timezone=False), nullable=True),
        sa.Column("error", sa.String(200), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'sending', 'sent', 'blocked', 'failed', 'unknown', 'skipped')",
            name=op.f("ck_broadcast_recipients_known_status"),
        ),
        sa.CheckConstraint(
            "attempts >= 0", name=op.f("ck_broadcast_recipients_attempts_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["broadcast_id"],
            ["broadcasts.id"],
            name=op.f("fk_broadcast_recipients_broadcast_id_broadcasts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("broadcast_id", "chat_hash", name=op.f("pk_broadcast_recipients")),
        **NO_ROWID,
    )
    op.create_index(
        op.f("ix_broadcast_recipients_broadcast_id_status_chat_hash"),
        "broadcast_recipients",
        ["broadcast_id", "status", "chat_hash"],
    )

    op.create_table(
        "campaigns",
        sa.Column("id", sa.String(16), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("questionnaire_id", sa.String(64), nullable=False),
        sa.Column("questionnaire_version", sa.Integer(), nullable=False),
        sa.Column("opens_day", sa.Date(), nullable=False),
        sa.Column("closes_day", sa.Date(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.CheckConstraint(
            "status IN ('planned', 'open', 'closed')", name=op.f("ck_campaigns_known_status")
        ),
        sa.CheckConstraint(
            "opens_day <= closes_day", name=op.f("ck_campaigns_opens_before_closing")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaigns")),
        **NO_ROWID,
    )
    op.create_index(op.f("ix_campaigns_status"), "campaigns", ["status"])

    op.create_table(
        "questionnaire_versions",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("yaml_text", sa.String(), nullable=False),
        sa.Column("added_day", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("id", "version", name=op.f("pk_questionnaire_versions")),
        **NO_ROWID,
    )


def downgrade() -> None:
    op.drop_table("questionnaire_versions")
    op.drop_index(op.f("ix_campaigns_status"), table_name="campaigns")
    op.drop_table("campaigns")
    op.drop_index(
        op.f("ix_broadcast_recipients_broadcast_id_status_chat_hash"),
        table_name="broadcast_recipients",
    )
    op.drop_table("broadcast_recipients")
    op.drop_index(op.f("ix_broadcasts_status"), table_name="broadcasts")
    op.drop_table("broadcasts")
