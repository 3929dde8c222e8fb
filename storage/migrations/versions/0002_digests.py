"""Digests for investigators: invite codes, digest groups, built digests and their outbox.

Written by hand to match `storage.tables` exactly (a test checks there is no drift). Every
table is WITHOUT ROWID on SQLite, like the rest of the schema.

Revision ID: 0002
Revises: 0001
Create Date: 2024-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NO_ROWID = {"sqlite_with_rowid": False}


def upgrade() -> None:
    op.create_table(
        "staff_invites",
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=False), nullable=False),
        sa.PrimaryKeyConstraint("code_hash", name=op.f("pk_staff_invites")),
        **NO_ROWID,
    )
    op.create_index(op.f("ix_staff_invites_expires_at"), "staff_invites", ["expires_at"])

    op.create_table(
        "digest_groups",
        sa.Column("chat_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("added_day", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("chat_id", name=op.f("pk_digest_groups")),
        **NO_ROWID,
    )

    op.create_table(
        "digests",
        sa.Column("period_key", sa.String(40), nullable=False),
        sa.Column("content_enc", sa.LargeBinary(), nullable=False),
        sa.Column("enqueued", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.PrimaryKeyConstraint("period_key", name=op.f("pk_digests")),
        **NO_ROWID,
    )

    op.create_table(
        "digest_outbox",
        sa.Column("period_key", sa.String(40), nullable=False),
        sa.Column("destination", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("parts_done", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=False), nullable=False),
        sa.Column("lease_token", sa.String(32), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=False), nullable=True),
        sa.Column("last_error", sa.String(300), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'sending', 'sent', 'failed', 'cancelled')",
            name=op.f("ck_digest_outbox_known_status"),
        ),
        sa.CheckConstraint(
            "channel IN ('telegram', 'webhook')", name=op.f("ck_digest_outbox_known_channel")
        ),
        sa.CheckConstraint(
            "attempts >= 0 AND parts_done >= 0",
            name=op.f("ck_digest_outbox_counts_not_negative"),
        ),
        sa.ForeignKeyConstraint(
            ["period_key"],
            ["digests.period_key"],
            name=op.f("fk_digest_outbox_period_key_digests"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("period_key", "destination", name=op.f("pk_digest_outbox")),
        **NO_ROWID,
    )
    op.create_index(
        op.f("ix_digest_outbox_status_next_attempt_at"),
        "digest_outbox",
        ["status", "next_attempt_at"],
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_digest_outbox_status_next_attempt_at"), table_name="digest_outbox")
    op.drop_table("digest_outbox")
    op.drop_table("digests")
    op.drop_table("digest_groups")
    op.drop_index(op.f("ix_staff_invites_expires_at"), table_name="staff_invites")
    op.drop_table("staff_invites")
