"""The initial schema: anonymous submissions and answers, pseudonymous drafts and counters,
subscribers and staff.

Written by hand to match `storage.tables` exactly (a test checks there is no drift). Every
table is WITHOUT ROWID on SQLite, so no hidden insertion order is kept.

Revision ID: 0001
Revises:
Create Date: 2024-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NO_ROWID = {"sqlite_with_rowid": False}


def upgrade() -> None:
    op.create_table(
        "submissions",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("questionnaire_id", sa.String(64), nullable=False),
        sa.Column("questionnaire_version", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.String(64), nullable=True),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("receipt_hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_submissions")),
        sa.UniqueConstraint("receipt_hash", name=op.f("uq_submissions_receipt_hash")),
        **NO_ROWID,
    )
    op.create_index(op.f("ix_submissions_day"), "submissions", ["day"])

    op.create_table(
        "answers",
        sa.Column("submission_id", sa.String(32), nullable=False),
        sa.Column("question_id", sa.String(64), nullable=False),
        sa.Column("ordinal", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("multi", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("choice", sa.String(128), nullable=True),
        sa.Column("number", sa.BigInteger(), nullable=True),
        sa.Column("text_enc", sa.LargeBinary(), nullable=True),
        sa.CheckConstraint("ordinal >= 0", name=op.f("ck_answers_ordinal_not_negative")),
        sa.CheckConstraint(
            "(CASE WHEN choice IS NULL THEN 0 ELSE 1 END)"
            " + (CASE WHEN number IS NULL THEN 0 ELSE 1 END)"
            " + (CASE WHEN text_enc IS NULL THEN 0 ELSE 1 END) = 1",
            name=op.f("ck_answers_exactly_one_value"),
        ),
        sa.ForeignKeyConstraint(
            ["submission_id"],
            ["submissions.id"],
            name=op.f("fk_answers_submission_id_submissions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("submission_id", "question_id", "ordinal", name=op.f("pk_answers")),
        **NO_ROWID,
    )
    op.create_index(op.f("ix_answers_question_id_choice"), "answers", ["question_id", "choice"])

    op.create_table(
        "fsm_entries",
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("state", sa.String(255), nullable=True),
        sa.Column("data_enc", sa.LargeBinary(), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=False), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_fsm_entries")),
        **NO_ROWID,
    )
    op.create_index(op.f("ix_fsm_entries_expires_at"), "fsm_entries", ["expires_at"])

    op.create_table(
        "rate_counters",
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_rate_counters")),
        **NO_ROWID,
    )
    op.create_index(op.f("ix_rate_counters_day"), "rate_counters", ["day"])

    op.create_table(
        "subscribers",
        sa.Column("chat_hash", sa.String(64), nullable=False),
        sa.Column("chat_id_enc", sa.LargeBinary(), nullable=False),
        sa.Column("locale", sa.String(16), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("since_day", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("chat_hash", name=op.f("pk_subscribers")),
        **NO_ROWID,
    )

    op.create_table(
        "staff",
        sa.Column("user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("added_day", sa.Date(), nullable=False),
        sa.CheckConstraint("role IN ('admin', 'investigator')", name=op.f("ck_staff_known_role")),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_staff")),
        **NO_ROWID,
    )


def downgrade() -> None:
    op.drop_table("staff")
    op.drop_table("subscribers")
    op.drop_index(op.f("ix_rate_counters_day"), table_name="rate_counters")
    op.drop_table("rate_counters")
    op.drop_index(op.f("ix_fsm_entries_expires_at"), table_name="fsm_entries")
    op.drop_table("fsm_entries")
    op.drop_index(op.f("ix_answers_question_id_choice"), table_name="answers")
    op.drop_table("answers")
    op.drop_index(op.f("ix_submissions_day"), table_name="submissions")
    op.drop_table("submissions")
