"""Broadcasts keep only their totals once finished: per-recipient rows are purged.

The daily maintenance folds the recipients of a finished (done or cancelled) broadcast into
these counts and deletes them; NULL until then. A row still `sending` is counted as unknown,
a row still `pending` as skipped: a finished broadcast never sends again.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TOTAL_COLUMNS = ("sent_count", "blocked_count", "failed_count", "unknown_count", "skipped_count")


def upgrade() -> None:
    for name in TOTAL_COLUMNS:
        op.add_column("broadcasts", sa.Column(name, sa.Integer(), nullable=True))


def downgrade() -> None:
    for name in reversed(TOTAL_COLUMNS):
        op.drop_column("broadcasts", name)
