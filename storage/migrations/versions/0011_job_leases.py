"""Job leases: several bot instances on one database run every background job once.

One row per job: the random token of the process holding it, until when, and for daily jobs
the last day it finished. Holds no personal data.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "job_leases",
        sa.Column("job", sa.String(96), nullable=False),
        sa.Column("holder", sa.String(32), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=False), nullable=True),
        sa.Column("last_done_day", sa.Date(), nullable=True),
        sa.PrimaryKeyConstraint("job", name=op.f("pk_job_leases")),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    op.drop_table("job_leases")
