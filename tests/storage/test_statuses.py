"""The CHECK constraints in the migrated database allow exactly the values of their enums.

The declared schema builds each constraint from its enum, so a member added to an enum
changes `storage.tables` at once; the database changes only with a migration. Reading the
constraints back from the migrated schema catches a new member that has no migration.
"""

from __future__ import annotations

import re
from enum import StrEnum

from sqlalchemy import CheckConstraint, inspect
from sqlalchemy.engine import Connection

from bot.statuses import (
    BroadcastStatus,
    CampaignStatus,
    CaseEventKind,
    CaseStatus,
    FollowupOrigin,
    OutboxChannel,
    OutboxStatus,
    RecipientStatus,
    Role,
    one_of,
)
from storage.database import Database
from storage.tables import metadata

# (table, constraint name as created, enum)
ENUM_CHECKS: list[tuple[str, str, type[StrEnum]]] = [
    ("staff", "ck_staff_known_role", Role),
    ("digest_outbox", "ck_digest_outbox_known_status", OutboxStatus),
    ("digest_outbox", "ck_digest_outbox_known_channel", OutboxChannel),
    ("cases", "ck_cases_known_status", CaseStatus),
    ("case_events", "ck_case_events_known_kind", CaseEventKind),
    ("followup_messages", "ck_followup_messages_known_origin", FollowupOrigin),
    ("broadcasts", "ck_broadcasts_known_status", BroadcastStatus),
    ("broadcast_recipients", "ck_broadcast_recipients_known_status", RecipientStatus),
    ("campaigns", "ck_campaigns_known_status", CampaignStatus),
]


def allowed_values(sqltext: str) -> list[str]:
    """The quoted literals of a CHECK condition, as SQLite keeps it (`status IN ('a', 'b')`)
    or as PostgreSQL rewrites it (`status::text = ANY (ARRAY['a'::character varying, …])`)."""
    return re.findall(r"'((?:[^']|'')*)'", sqltext)


def _checks(connection: Connection) -> dict[tuple[str, str], str]:
    inspector = inspect(connection)
    return {
        (table, check["name"] or ""): str(check["sqltext"])
        for table in {table for table, _, _ in ENUM_CHECKS}
        for check in inspector.get_check_constraints(table)
    }


def test_every_value_list_constraint_is_checked_here() -> None:
    """A new `one_of` constraint in the schema must be added to ENUM_CHECKS."""
    declared = {
        (table.name, str(constraint.name))
        for table in metadata.tables.values()
        for constraint in table.constraints
        if isinstance(constraint, CheckConstraint) and " IN (" in str(constraint.sqltext)
    }
    assert declared == {(table, name) for table, name, _ in ENUM_CHECKS}


def test_the_declared_constraints_are_built_from_the_enums() -> None:
    constraints = {
        (table.name, str(constraint.name)): str(constraint.sqltext)
        for table in metadata.tables.values()
        for constraint in table.constraints
        if isinstance(constraint, CheckConstraint)
    }
    for table, name, enum in ENUM_CHECKS:
        column = constraints[(table, name)].split(" IN ", 1)[0]
        assert constraints[(table, name)] == one_of(column, enum)


def test_the_reader_sees_a_value_too_many_or_too_few() -> None:
    """A guard against a vacuous comparison below."""
    postgres = (
        "((status)::text = ANY ((ARRAY['planned'::character varying, "
        "'open'::character varying])::text[]))"
    )
    assert allowed_values(postgres) == ["planned", "open"]
    assert allowed_values(postgres) != [member.value for member in CampaignStatus]
    assert allowed_values(one_of("status", CampaignStatus)) == ["planned", "open", "closed"]


async def test_migrated_constraints_allow_exactly_the_enum_values(database: Database) -> None:
    async with database.engine.connect() as connection:
        checks = await connection.run_sync(_checks)
    for table, name, enum in ENUM_CHECKS:
        assert (table, name) in checks, f"{table} has no CHECK {name} in the migrated schema"
        found = allowed_values(checks[(table, name)])
        assert sorted(found) == sorted(member.value for member in enum), (table, name)
