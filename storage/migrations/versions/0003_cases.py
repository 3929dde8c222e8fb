"""Cases for investigators: one case per submission, its status history and labels, the
anonymous follow-up thread, internal notes, and a general audit log of staff actions.

Written by hand to match `storage.tables` exactly (a test checks there is no drift). Every
table is WITHOUT ROWID on SQLite, like the rest of the schema. Nothing here identifies the
cadre: follow-up rows record only whether the cadre or an investigator wrote them. Only
`audit_log.actor_user_id` holds an identity, that of a staff member.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NO_ROWID = {"sqlite_with_rowid": False}


def upgrade() -> None:
    op.create_table(
        "cases",
        sa.Column("submission_id", sa.String(32), nullable=False),
        sa.Column("ref", sa.String(8), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("labels", sa.String(512), server_default="", nullable=False),
        sa.Column("last_activity_day", sa.Date(), nullable=False),
        sa.CheckConstraint(
            "status IN ('new', 'verifying', 'verified', 'closed', 'rejected')",
            name=op.f("ck_cases_known_status"),
        ),
        sa.ForeignKeyConstraint(
            ["submission_id"],
            ["submissions.id"],
            name=op.f("fk_cases_submission_id_submissions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("submission_id", name=op.f("pk_cases")),
        sa.UniqueConstraint("ref", name=op.f("uq_cases_ref")),
        **NO_ROWID,
    )
    op.create_index(op.f("ix_cases_status"), "cases", ["status"])
    op.create_index(op.f("ix_cases_last_activity_day"), "cases", ["last_activity_day"])

    op.create_table(
        "case_events",
        sa.Column("submission_id", sa.String(32), nullable=False),
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("value", sa.String(64), nullable=False),
        sa.CheckConstraint(
            "kind IN ('status', 'label', 'unlabel')", name=op.f("ck_case_events_known_kind")
        ),
        sa.ForeignKeyConstraint(
            ["submission_id"],
            ["cases.submission_id"],
            name=op.f("fk_case_events_submission_id_cases"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("submission_id", "seq", name=op.f("pk_case_events")),
        **NO_ROWID,
    )

    op.create_table(
        "followup_messages",
        sa.Column("submission_id", sa.String(32), nullable=False),
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("origin", sa.String(16), nullable=False),
        sa.Column("text_enc", sa.LargeBinary(), nullable=False),
        sa.CheckConstraint(
            "origin IN ('cadre', 'investigator')", name=op.f("ck_followup_messages_known_origin")
        ),
        sa.ForeignKeyConstraint(
            ["submission_id"],
            ["cases.submission_id"],
            name=op.f("fk_followup_messages_submission_id_cases"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("submission_id", "seq", name=op.f("pk_followup_messages")),
        **NO_ROWID,
    )
    op.create_index(op.f("ix_followup_messages_origin_day"), "followup_messages", ["origin", "day"])

    op.create_table(
        "case_notes",
        sa.Column("submission_id", sa.String(32), nullable=False),
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("text_enc", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["submission_id"],
            ["cases.submission_id"],
            name=op.f("fk_case_notes_submission_id_cases"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("submission_id", "seq", name=op.f("pk_case_notes")),
        **NO_ROWID,
    )

    op.create_table(
        "audit_log",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("actor_user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("subject", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
        **NO_ROWID,
    )
    op.create_index(op.f("ix_audit_log_day"), "audit_log", ["day"])


def downgrade() -> None:
    op.drop_index(op.f("ix_audit_log_day"), table_name="audit_log")
    op.drop_table("audit_log")
    op.drop_table("case_notes")
    op.drop_index(op.f("ix_followup_messages_origin_day"), table_name="followup_messages")
    op.drop_table("followup_messages")
    op.drop_table("case_events")
    op.drop_index(op.f("ix_cases_last_activity_day"), table_name="cases")
    op.drop_index(op.f("ix_cases_status"), table_name="cases")
    op.drop_table("cases")
