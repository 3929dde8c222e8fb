"""Digest snapshots: the figures of a running period, released only in steps of K reports.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "digest_snapshots",
        sa.Column("scope_key", sa.String(105), nullable=False),
        sa.Column("version", sa.String(32), nullable=False),
        sa.Column("content_enc", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("scope_key", name=op.f("pk_digest_snapshots")),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    op.drop_table("digest_snapshots")
