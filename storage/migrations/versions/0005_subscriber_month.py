"""Subscribers: the day subscribed is kept only as the first day of its month.

A subscriber row's exact day would say when the cadre last talked to the bot; the month is
enough to tell old subscriptions from new ones. Existing rows are moved to the first day of
their month. The schema does not change.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "UPDATE subscribers SET since_day = CAST(date_trunc('month', since_day) AS date) "
            "WHERE EXTRACT(DAY FROM since_day) <> 1"
        )
    else:
        op.execute(
            "UPDATE subscribers SET since_day = date(since_day, 'start of month') "
            "WHERE strftime('%d', since_day) <> '01'"
        )


def downgrade() -> None:
    """The exact days are gone on purpose; nothing to restore."""
