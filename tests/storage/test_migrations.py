"""Every migration can be undone: up to the head, down to the base, up again, same schema.

Going down one step at a time, the schema after undoing a migration must equal the schema
that was there before it was applied, so each `downgrade()` is checked on its own, on SQLite
and on PostgreSQL.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from storage.database import MIGRATIONS_DIR, Database, alembic_config, head_revision
from storage.tables import metadata

Schema = dict[str, Any]


def _revisions() -> list[str]:
    """Every revision, oldest first."""
    script = ScriptDirectory.from_config(alembic_config())
    return [revision.revision for revision in reversed(list(script.walk_revisions()))]


def test_every_migration_is_numbered_by_its_file_and_follows_the_one_before() -> None:
    """`head_revision` reads the head from the file names, without loading Alembic."""
    script = ScriptDirectory.from_config(alembic_config())
    by_number = {}
    for path in sorted((MIGRATIONS_DIR / "versions").glob("*.py")):
        if path.name == "__init__.py":
            continue
        number, _, _ = path.name.partition("_")
        assert number.isdigit() and len(number) == 4, path.name
        by_number[number] = script.get_revision(number)
    numbers = sorted(by_number)
    assert numbers == [f"{n:04d}" for n in range(1, len(numbers) + 1)]
    for previous, number in zip([None, *numbers], numbers, strict=False):
        revision = by_number[number]
        assert revision is not None and revision.revision == number
        assert revision.down_revision == previous
        assert Path(revision.path).name.startswith(f"{number}_")
    assert head_revision() == numbers[-1] == script.get_current_head()


def _schema(connection: Connection) -> Schema:
    """Tables, columns, keys, constraints and indexes as the database reports them."""
    inspector = inspect(connection)
    schema: Schema = {}
    for table in sorted(inspector.get_table_names()):
        if table == "alembic_version":
            continue
        primary_key = inspector.get_pk_constraint(table)
        schema[table] = {
            "columns": [
                (c["name"], str(c["type"]), c["nullable"], str(c.get("default")))
                for c in inspector.get_columns(table)
            ],
            "primary_key": (primary_key.get("name"), tuple(primary_key["constrained_columns"])),
            "foreign_keys": sorted(
                (
                    str(fk.get("name")),
                    tuple(fk["constrained_columns"]),
                    fk["referred_table"],
                    tuple(fk["referred_columns"]),
                    str(sorted((fk.get("options") or {}).items())),
                )
                for fk in inspector.get_foreign_keys(table)
            ),
            "unique": sorted(
                (str(u["name"]), tuple(u["column_names"]))
                for u in inspector.get_unique_constraints(table)
            ),
            "checks": sorted(
                (str(c["name"]), str(c["sqltext"])) for c in inspector.get_check_constraints(table)
            ),
            "indexes": sorted(
                (str(i["name"]), tuple(str(c) for c in i["column_names"]), bool(i["unique"]))
                for i in inspector.get_indexes(table)
            ),
        }
    if connection.dialect.name == "sqlite":
        rows = connection.execute(text("SELECT name, sql FROM sqlite_master WHERE type='table'"))
        for name, sql in rows:
            if name in schema:
                schema[name]["without_rowid"] = "WITHOUT ROWID" in (sql or "").upper()
    return schema


async def _snapshot(database: Database) -> Schema:
    async with database.engine.connect() as connection:
        return await connection.run_sync(_schema)


async def test_up_down_up_gives_the_same_schema(empty_db_url: str) -> None:
    database = await Database.connect(empty_db_url)
    try:
        await database.upgrade()
        first = await _snapshot(database)
        await database.downgrade("base")
        emptied = await _snapshot(database)
        assert await database.revision() is None
        await database.upgrade()
        second = await _snapshot(database)
        assert await database.revision() == head_revision()
    finally:
        await database.dispose()
    assert set(first) == set(metadata.tables)  # the comparison below is not vacuous
    assert emptied == {}
    assert second == first


async def test_each_downgrade_restores_the_schema_before_its_upgrade(empty_db_url: str) -> None:
    revisions = _revisions()
    assert revisions[-1] == head_revision()
    database = await Database.connect(empty_db_url)
    try:
        before: dict[str, Schema] = {}  # revision → schema just before it was applied
        for revision in revisions:
            before[revision] = await _snapshot(database)
            await database.upgrade(revision)
        for revision in reversed(revisions):
            assert await database.revision() == revision
            await database.downgrade("-1")
            assert await _snapshot(database) == before[revision], f"downgrade of {revision}"
    finally:
        await database.dispose()


async def test_the_schema_comparison_sees_a_missing_index(empty_db_url: str) -> None:
    """A guard against a vacuous comparison: one dropped index must show."""
    database = await Database.connect(empty_db_url)
    try:
        await database.upgrade()
        first = await _snapshot(database)
        async with database.engine.begin() as connection:
            await connection.execute(text("DROP INDEX ix_rate_counters_day"))
        assert await _snapshot(database) != first
    finally:
        await database.dispose()


async def test_upgrade_at_the_head_leaves_the_database_alone(db_url: str) -> None:
    """A copied template (and every restart) is already at the head: nothing is re-run."""
    database = await Database.connect(db_url)
    try:
        assert await database.revision() == head_revision()
        first = await _snapshot(database)
        await database.upgrade()
        assert await database.revision() == head_revision()
        assert await _snapshot(database) == first
    finally:
        await database.dispose()


async def test_staff_names_arrive_empty_for_members_who_joined_before(empty_db_url: str) -> None:
    """0009 adds the staff's names: earlier members keep their rows, with no name; undoing it
    keeps the members and drops only the names."""
    database = await Database.connect(empty_db_url)
    try:
        await database.upgrade("0008")
        async with database.engine.begin() as connection:
            await connection.execute(
                text(
                    "INSERT INTO staff (user_id, role, added_day) "
                    "VALUES (610001, 'investigator', '2026-11-28')"
                )
            )
        await database.upgrade("0009")
        async with database.engine.begin() as connection:
            before = (await connection.execute(text("SELECT user_id, full_name FROM staff"))).all()
            await connection.execute(
                text("INSERT INTO staff VALUES (610002, 'admin', '2026-12-01', '张三')")
            )
        assert [tuple(row) for row in before] == [(610001, None)]
        await database.downgrade("0008")
        async with database.engine.connect() as connection:
            rows = (await connection.execute(text("SELECT * FROM staff ORDER BY user_id"))).all()
        assert [tuple(row)[:2] for row in rows] == [(610001, "investigator"), (610002, "admin")]
        assert all(len(tuple(row)) == 3 for row in rows)
    finally:
        await database.dispose()


async def test_answers_arrive_unquoted_and_undoing_0010_keeps_them(empty_db_url: str) -> None:
    """0010 adds the staff's "quotable" mark: earlier answers are unmarked; undoing it keeps the
    answers and drops only the mark."""
    database = await Database.connect(empty_db_url)
    submission = (
        "INSERT INTO submissions (id, questionnaire_id, questionnaire_version, day, receipt_hash) "
        "VALUES ('{0}', 'q', 1, '2026-11-28', '{0}')"
    )
    try:
        await database.upgrade("0009")
        async with database.engine.begin() as connection:
            await connection.execute(text(submission.format("a" * 32)))
            await connection.execute(
                text(
                    "INSERT INTO answers (submission_id, question_id, ordinal, choice) "
                    f"VALUES ('{'a' * 32}', 'unit_level', 0, 'township')"
                )
            )
        await database.upgrade("0010")
        async with database.engine.begin() as connection:
            before = (
                await connection.execute(text("SELECT question_id, quotable FROM answers"))
            ).all()
            await connection.execute(text(submission.format("b" * 32)))
            await connection.execute(
                text(
                    "INSERT INTO answers (submission_id, question_id, ordinal, choice, quotable) "
                    f"VALUES ('{'b' * 32}', 'unit_level', 0, 'village', true)"
                )
            )
        assert [(row[0], bool(row[1])) for row in before] == [("unit_level", False)]
        await database.downgrade("0009")
        async with database.engine.connect() as connection:
            rows = (
                await connection.execute(text("SELECT * FROM answers ORDER BY submission_id"))
            ).all()
        assert [tuple(row)[:3] for row in rows] == [
            ("a" * 32, "unit_level", 0),
            ("b" * 32, "unit_level", 0),
        ]
        assert all(len(tuple(row)) == 7 for row in rows)
    finally:
        await database.dispose()
