"""Campaigns: whether the storage was reordered after the campaign closed.

The daily maintenance rewrites the submission-side tables in random order (PostgreSQL) once
a campaign has closed, and marks the campaign so that it does so once per campaign.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "campaigns",
        sa.Column("reordered", sa.Boolean(), server_default=sa.false(), nullable=False),
    )


def downgrade() -> None:
    op.drop_column("campaigns", "reordered")
