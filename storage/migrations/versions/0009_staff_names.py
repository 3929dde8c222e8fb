"""Staff: the name Telegram gave a member when they joined, shown beside the id in /staff.

Staff are identified on purpose (the `staff` table holds their Telegram ids already); NULL for
members who joined before this column, and for ADMIN_IDS, who have no row.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("staff", sa.Column("full_name", sa.String(length=129), nullable=True))


def downgrade() -> None:
    op.drop_column("staff", "full_name")
