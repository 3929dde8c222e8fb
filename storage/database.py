"""The database: one async SQLAlchemy engine, SQLite or PostgreSQL, migrated by Alembic.

SQLite is tuned for an anonymity tool, not only for speed: `secure_delete` overwrites deleted
rows (a cancelled draft or an expired counter does not linger in free pages), `foreign_keys`
makes deleting a submission delete its answers, WAL lets the bot read while it writes, and the
WAL is truncated on shutdown so old page images do not outlive the process. The database file
is created owner-only (0600) in an owner-only directory.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import re
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

from sqlalchemy import Table, event, inspect, text
from sqlalchemy.dialects import postgresql as postgresql_dml
from sqlalchemy.dialects import sqlite as sqlite_dml
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import StaticPool

from storage.inline_sqlite import InlineSqliteConnection
from storage.sqlite_checkpoints import FALLBACK_PAGES, WalCheckpoints

if TYPE_CHECKING:
    from alembic.config import Config

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 10_000
_MIGRATION_LOCK_ID = 0x71_6E_67_66  # "qngf": serialises concurrent upgrades on PostgreSQL

# Every migration is `NNNN_name.py` with revision "NNNN" and goes down to the one before
# (tests/storage/test_migrations.py holds every file to it): the head is the highest number.
_MIGRATION_FILE = re.compile(r"(\d{4})_\w+\.py")

DialectName = Literal["sqlite", "postgresql"]
_AlembicCommand = Callable[["Config", str], None]  # alembic.command.upgrade or downgrade


def alembic_config(url: str | None = None) -> Config:
    """An Alembic config pointing at the migrations inside this package (works installed).

    Alembic is imported only to migrate: a bot whose database is at the head never loads
    it (about 12 MB)."""
    from alembic.config import Config

    config = Config(str(MIGRATIONS_DIR / "alembic.ini"))
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


class Database:
    """An `AsyncEngine` plus the few operations every repository relies on."""

    def __init__(self, engine: AsyncEngine, *, checkpoints: WalCheckpoints | None = None) -> None:
        name = engine.dialect.name
        if name not in ("sqlite", "postgresql"):
            raise ValueError(f"unsupported database dialect {name!r}")
        self._engine = engine
        self._dialect = cast(DialectName, name)
        self._checkpoints = checkpoints

    @classmethod
    async def connect(cls, url: str, *, echo: bool = False) -> Database:
        """Create the engine for `sqlite+aiosqlite:///PATH` or `postgresql+asyncpg://…`."""
        parsed = make_url(url)
        backend = parsed.get_backend_name()
        if backend == "sqlite":
            engine, checkpoints = await asyncio.to_thread(_sqlite_engine, parsed, echo)
            return cls(engine, checkpoints=checkpoints)
        if backend == "postgresql":
            return cls(create_async_engine(parsed, echo=echo, pool_pre_ping=True))
        raise ValueError("DATABASE_URL must be sqlite+aiosqlite://… or postgresql+asyncpg://…")

    @property
    def engine(self) -> AsyncEngine:
        return self._engine

    @property
    def dialect(self) -> DialectName:
        return self._dialect

    @contextlib.asynccontextmanager
    async def transaction(
        self, connection: AsyncConnection | None = None
    ) -> AsyncIterator[AsyncConnection]:
        """Join the caller's transaction, or open one of its own.

        A use case opens one transaction and hands it to every repository it calls, so that a
        change and its audit entry (or a submission and its case) commit or fail together.
        """
        if connection is not None:
            yield connection
            return
        async with self._engine.begin() as fresh:
            yield fresh

    def insert(self, table: Table) -> sqlite_dml.Insert | postgresql_dml.Insert:
        """The dialect's INSERT, which has `on_conflict_do_update` on both backends."""
        if self._dialect == "sqlite":
            return sqlite_dml.insert(table)
        return postgresql_dml.insert(table)

    async def revision(self) -> str | None:
        """The migration the database is at (None: not migrated at all)."""
        async with self._engine.connect() as connection:
            return await connection.run_sync(_current_revision)

    async def upgrade(self, revision: str = "head") -> None:
        """Apply the Alembic migrations (in one transaction) up to `revision`.

        A database already at the head is only looked at: every start-up and every test
        database copied from a migrated template pays one small SELECT, not Alembic's
        loading of every migration script.
        """
        if revision == "head" and await self.revision() == head_revision():
            return
        from alembic import command

        await self._migrate(command.upgrade, revision)

    async def downgrade(self, revision: str) -> None:
        """Undo migrations (in one transaction) down to `revision` ("base": everything)."""
        from alembic import command

        await self._migrate(command.downgrade, revision)

    async def _migrate(self, step: _AlembicCommand, revision: str) -> None:
        async with self._engine.connect() as connection:
            if self._dialect == "sqlite":
                # Table rebuilds in future migrations must not cascade-delete answers.
                await connection.run_sync(_sqlite_outside_transaction, "PRAGMA foreign_keys=OFF")
            try:
                async with connection.begin():
                    if self._dialect == "postgresql":
                        await connection.execute(
                            text("SELECT pg_advisory_xact_lock(:id)"), {"id": _MIGRATION_LOCK_ID}
                        )
                    await connection.run_sync(_run_alembic, step, revision)
                    if self._dialect == "sqlite":
                        await _check_sqlite_foreign_keys(connection)
            finally:
                if self._dialect == "sqlite":
                    await connection.run_sync(_sqlite_outside_transaction, "PRAGMA foreign_keys=ON")

    async def checkpoint(self) -> None:
        """SQLite: fold the WAL into the database file and truncate it (no-op elsewhere)."""
        if self._dialect != "sqlite":
            return
        async with self._engine.connect() as connection:
            await connection.run_sync(
                _sqlite_outside_transaction, "PRAGMA wal_checkpoint(TRUNCATE)"
            )

    @property
    def wal_checkpoints(self) -> WalCheckpoints | None:
        """SQLite on a file: the checkpoints run beside the bot's connection."""
        return self._checkpoints

    async def dispose(self) -> None:
        """Close every pooled connection (after a final WAL checkpoint on SQLite)."""
        try:
            if self._checkpoints is not None:
                await asyncio.to_thread(self._checkpoints.close)
            await self.checkpoint()
        finally:
            await self._engine.dispose()


def _sqlite_engine(url: URL, echo: bool) -> tuple[AsyncEngine, WalCheckpoints | None]:
    database = url.database or ""
    memory = database in ("", ":memory:") or database.startswith("file::memory:")
    creator = _inline_connection_creator(url)
    checkpoints: WalCheckpoints | None = None
    if memory:
        engine = create_async_engine(url, echo=echo, poolclass=StaticPool, async_creator=creator)
    else:
        _create_private_file(Path(database).expanduser())
        # One connection: SQLite has one writer at a time anyway, and several connections
        # would contend for the lock through SQLite's sleeping busy handler (tens of ms per
        # wait under load). Coroutines queue for the connection in asyncio instead.
        engine = create_async_engine(
            url,
            echo=echo,
            pool_size=1,
            max_overflow=0,
            pool_timeout=120,
            async_creator=creator,
        )
        checkpoints = WalCheckpoints(str(Path(database).expanduser()))
        wal = checkpoints

        def committed(connection: Connection) -> None:
            wal.committed()

        event.listen(engine.sync_engine, "commit", committed)
    event.listen(engine.sync_engine, "connect", _on_sqlite_connect)
    event.listen(engine.sync_engine, "begin", _on_sqlite_begin)
    event.listen(engine.sync_engine.pool, "invalidate", _on_sqlite_invalidate)
    return engine, checkpoints


def _inline_connection_creator(url: URL) -> Callable[[], Awaitable[InlineSqliteConnection]]:
    """Connections that run their calls in the event loop (`storage.inline_sqlite`), opened
    with the arguments SQLAlchemy's own aiosqlite dialect would give `sqlite3.connect`, and
    shareable with the worker thread that opened them."""
    args, options = make_url(url).get_dialect()().create_connect_args(url)
    options = {**options, "check_same_thread": False, "timeout": 0}

    async def create() -> InlineSqliteConnection:
        connection = InlineSqliteConnection(
            functools.partial(sqlite3.connect, *args, **options),
            busy_seconds=SQLITE_BUSY_TIMEOUT_MS / 1000,
        )
        await connection  # starts its worker thread, which opens the database
        return connection

    return create


def _create_private_file(path: Path) -> None:
    """Create the parent directory (0700) and an empty 0600 file; SQLite's -wal and -shm
    files then inherit the file's permissions."""
    if not path.parent.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not path.exists():
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
        os.close(descriptor)


def _on_sqlite_connect(dbapi_connection: Any, connection_record: Any) -> None:
    # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin, so that DDL
    # (migrations) is transactional too; see `_on_sqlite_begin`.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        # Never wait for a lock inside SQLite: the call would hold the event loop. A locked
        # database is waited for on the connection's worker thread instead (inline_sqlite).
        cursor.execute("PRAGMA busy_timeout=0")
        cursor.execute("PRAGMA journal_mode=WAL")
        # In WAL mode, NORMAL syncs at checkpoints, not at every commit: a crash of the bot
        # loses nothing, a power cut may lose the last commits, never the file's integrity.
        cursor.execute("PRAGMA synchronous=NORMAL")
        # Checkpoints run beside this connection (`storage.sqlite_checkpoints`); it folds the
        # log in by itself only if they fall far behind.
        cursor.execute(f"PRAGMA wal_autocheckpoint={FALLBACK_PAGES}")
        cursor.execute("PRAGMA secure_delete=ON")
        cursor.execute("PRAGMA foreign_keys=ON")
    finally:
        cursor.close()


def _on_sqlite_begin(connection: Connection) -> None:
    """BEGIN on the driver's cursor: through SQLAlchemy's statement execution it cost more
    than the transaction's own statements."""
    dbapi_connection = connection.connection.dbapi_connection
    assert dbapi_connection is not None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("BEGIN")
    finally:
        cursor.close()


def _on_sqlite_invalidate(
    dbapi_connection: Any, connection_record: Any, exception: BaseException | None
) -> None:
    """Roll back a connection that is about to be thrown away, so it lets go of the write lock.

    A task cancelled in the middle of a transaction (a stopped broadcast sender, a shutdown)
    makes SQLAlchemy invalidate its connection and open a fresh one. The old one is closed
    without a rollback, and a cursor it left behind in a reference cycle keeps SQLite's
    handle open, with the transaction's write lock, until the garbage collector happens to
    run: every write in the bot then failed with "database is locked" after the busy
    timeout. Rolling back first releases the lock at once, whatever holds on to the handle.
    """
    try:
        dbapi_connection.rollback()
    except Exception as exc:  # already closed, or not in the event loop's greenlet (gc)
        logger.debug("no rollback before discarding a connection: %s", type(exc).__name__)


def _sqlite_outside_transaction(connection: Connection, statement: str) -> None:
    """Run a PRAGMA that only works outside a transaction, on the raw driver connection."""
    dbapi_connection = connection.connection.dbapi_connection
    assert dbapi_connection is not None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(statement)
    finally:
        cursor.close()


async def _check_sqlite_foreign_keys(connection: AsyncConnection) -> None:
    result = await connection.exec_driver_sql("PRAGMA foreign_key_check")
    if result.first() is not None:
        raise RuntimeError("migration left rows that violate a foreign key; rolled back")


@functools.cache
def head_revision() -> str | None:
    """The newest migration shipped with this code (read once per process, from the
    migration files' names)."""
    numbers = [
        found.group(1)
        for path in (MIGRATIONS_DIR / "versions").iterdir()
        if (found := _MIGRATION_FILE.fullmatch(path.name))
    ]
    return max(numbers, default=None)


def _current_revision(connection: Connection) -> str | None:
    """What Alembic's `alembic_version` table says (None: the table is not there)."""
    if not inspect(connection).has_table("alembic_version"):
        return None
    return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def _run_alembic(connection: Connection, step: _AlembicCommand, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    step(config, revision)
