"""The schema keeps its anonymity promises, and migrations create exactly `storage.tables`."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import BigInteger, Column, Integer, MetaData, String, Table, inspect, text
from sqlalchemy.engine import Connection

from storage.database import Database, alembic_config
from storage.inline_sqlite import InlineSqliteConnection
from storage.tables import metadata

# Tables allowed to hold identities (see docs/ARCHITECTURE.md, contract rule 1).
# `digest_groups` holds the chat ids of group chats registered by an admin to receive
# digests: groups are destinations, not respondents, and nothing links them to submissions.
# `audit_log.actor_user_id` is the staff member who acted (staff are not anonymous); the log
# names cases by their random ref and never holds anything about a cadre.
# `broadcast_recipients.chat_hash` is the subscribers' HMAC pseudonym: it names a
# subscriber exactly as `subscribers.chat_hash` does, and nothing links it to submissions.
IDENTITY_TABLES = {"subscribers", "staff", "digest_groups", "audit_log", "broadcast_recipients"}
FORBIDDEN_WORDS = (
    "user",
    "chat",
    "name",
    "telegram",
    "sender",
    "author",
    "phone",
    "nick",
    "contact",
    "account",
    "handle",
    "email",
    "mail",
    "peer",
    "member",
    "person",
    "respondent",
    "reporter",
)
FORBIDDEN_PREFIXES = ("tg_", "from_", "by_", "uid")
FORBIDDEN_TOKENS = {"ip", "uid", "who", "from", "by"}


def identifying_columns(table: Table) -> list[str]:
    """Columns of `table` that could hold a Telegram identity or an arrival order."""
    problems = []
    for column in table.columns:
        name = column.name.lower()
        tokens = set(name.split("_"))
        if (
            any(word in name for word in FORBIDDEN_WORDS)
            or name.startswith(FORBIDDEN_PREFIXES)
            or tokens & FORBIDDEN_TOKENS
        ):
            problems.append(f"{table.name}.{column.name}: name could hold an identity")
    key = table.autoincrement_column
    if key is not None:
        problems.append(f"{table.name}.{key.name}: auto-increment key reveals arrival order")
    for column in table.primary_key.columns:
        if isinstance(column.type, Integer) and column.autoincrement is True:
            problems.append(f"{table.name}.{column.name}: auto-increment key")
    return problems


def test_the_checker_catches_what_it_looks_for() -> None:
    """A guard against a vacuous schema test: a bad table must be reported."""
    bad = Table(
        "bad",
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("tg_user_id", BigInteger),
        Column("from_id", String),
        Column("sender_ip", String),
    )
    problems = identifying_columns(bad)
    assert any("tg_user_id" in p for p in problems)
    assert any("from_id" in p for p in problems)
    assert any("sender_ip" in p for p in problems)
    assert any("auto-increment" in p for p in problems)


def test_no_table_outside_the_allow_list_can_hold_an_identity() -> None:
    problems = [
        problem
        for table in metadata.sorted_tables
        if table.name not in IDENTITY_TABLES
        for problem in identifying_columns(table)
    ]
    assert problems == []
    assert {"submissions", "answers", "fsm_entries", "rate_counters"} <= set(metadata.tables)


def _reflected(connection: Connection) -> MetaData:
    reflected = MetaData()
    reflected.reflect(connection)
    return reflected


async def test_the_migrated_database_has_no_identifying_columns(database: Database) -> None:
    """The same check on what the migrations really created (catches tables added there)."""
    async with database.engine.connect() as connection:
        reflected = await connection.run_sync(_reflected)
    names = set(reflected.tables) - {"alembic_version"}
    assert names == set(metadata.tables)
    problems = [
        problem
        for name in names - IDENTITY_TABLES
        for problem in identifying_columns(reflected.tables[name])
    ]
    assert problems == []


def _differences(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, metadata))


async def test_migrations_create_exactly_the_declared_schema(database: Database) -> None:
    async with database.engine.connect() as connection:
        differences = await connection.run_sync(_differences)
    assert differences == []


async def test_upgrading_twice_is_harmless(database: Database) -> None:
    await database.upgrade()
    async with database.engine.connect() as connection:
        version = await connection.scalar(text("SELECT version_num FROM alembic_version"))
    assert version == ScriptDirectory.from_config(alembic_config()).get_current_head()


async def test_drift_is_detected(database: Database) -> None:
    """A guard against a vacuous drift test: an index missing from the database is reported."""
    async with database.engine.begin() as connection:
        await connection.execute(text("DROP INDEX ix_rate_counters_day"))
        differences = await connection.run_sync(_differences)
    assert differences


async def test_foreign_keys_and_checks_exist(database: Database) -> None:
    def inspect_answers(connection: Connection) -> tuple[list[dict[str, object]], list[str]]:
        inspector = inspect(connection)
        checks = [c["name"] or "" for c in inspector.get_check_constraints("answers")]
        return list(inspector.get_foreign_keys("answers")), checks  # type: ignore[arg-type]

    async with database.engine.connect() as connection:
        foreign_keys, checks = await connection.run_sync(inspect_answers)
    assert foreign_keys[0]["referred_table"] == "submissions"
    assert foreign_keys[0]["options"] == {"ondelete": "CASCADE"}
    assert {"ck_answers_exactly_one_value", "ck_answers_ordinal_not_negative"} <= set(checks)


async def test_sqlite_tables_have_no_rowid(sqlite_url: str) -> None:
    database = await Database.connect(sqlite_url)
    try:
        await database.upgrade()
        async with database.engine.connect() as connection:
            rows = (
                await connection.execute(
                    text("SELECT name, sql FROM sqlite_master WHERE type='table'")
                )
            ).all()
    finally:
        await database.dispose()
    created = {name: sql for name, sql in rows}
    for name in metadata.tables:
        assert "WITHOUT ROWID" in created[name].upper(), name


async def test_sqlite_connections_are_hardened(sqlite_url: str) -> None:
    database = await Database.connect(sqlite_url)
    try:
        async with database.engine.connect() as connection:
            pragmas = {
                pragma: (await connection.exec_driver_sql(f"PRAGMA {pragma}")).scalar()
                for pragma in (
                    "journal_mode",
                    "secure_delete",
                    "foreign_keys",
                    "busy_timeout",
                    "synchronous",
                )
            }
            raw = await connection.get_raw_connection()
            driver = raw.driver_connection
    finally:
        await database.dispose()
    assert pragmas["journal_mode"] == "wal"
    assert pragmas["secure_delete"] == 1
    assert pragmas["foreign_keys"] == 1
    assert pragmas["synchronous"] == 1  # NORMAL: synced at checkpoints (WAL stays consistent)
    # SQLite itself never waits for a lock (that would hold the event loop); the worker
    # thread waits instead, for seconds.
    assert pragmas["busy_timeout"] == 0
    assert isinstance(driver, InlineSqliteConnection)
    assert driver.busy_seconds >= 1


async def test_sqlite_file_and_directory_are_created_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "new" / "deeper" / "qingfeng.db"
    database = await Database.connect(f"sqlite+aiosqlite:///{path}")
    try:
        await database.upgrade()
    finally:
        await database.dispose()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    wal = path.with_name(path.name + "-wal")
    assert not wal.exists() or wal.stat().st_size == 0  # truncated by dispose()


async def test_postgres_reports_its_dialect(postgres_url: str) -> None:
    database = await Database.connect(postgres_url)
    try:
        assert database.dialect == "postgresql"
        await database.checkpoint()  # a no-op there, but must not fail
    finally:
        await database.dispose()


async def test_in_memory_sqlite_works(tmp_path: Path) -> None:
    database = await Database.connect("sqlite+aiosqlite://")
    try:
        await database.upgrade()
        async with database.engine.connect() as connection:
            assert await connection.scalar(text("SELECT count(*) FROM submissions")) == 0
    finally:
        await database.dispose()


async def test_unsupported_urls_are_refused() -> None:
    with pytest.raises(ValueError, match="DATABASE_URL"):
        await Database.connect("mysql+aiomysql://root@localhost/db")


def test_migrations_ship_inside_the_package() -> None:
    from storage import database as module

    directory = module.MIGRATIONS_DIR
    assert directory.is_relative_to(Path(module.__file__).parent)
    assert (directory / "env.py").is_file()
    assert (directory / "alembic.ini").is_file()
    # Regular packages, so setuptools puts the migrations into the wheel.
    assert (directory / "__init__.py").is_file()
    assert (directory / "versions" / "__init__.py").is_file()
    assert any(name.endswith(".py") for name in os.listdir(directory / "versions"))
