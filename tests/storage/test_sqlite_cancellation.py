"""A task cancelled in the middle of a SQLite transaction must not leave the write lock behind.

The bot cancels work that may be inside a transaction (a broadcast sender stopped at shutdown
or by a crash, in tests). SQLAlchemy then throws the connection away and opens a fresh one; the
old handle used to keep its write lock until the garbage collector ran, so every later write
failed with "database is locked".
"""

from __future__ import annotations

import asyncio
import gc
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import event, text

import storage.database
from storage.database import Database
from storage.inline_sqlite import in_worker_thread


class Gate:
    """A SQL function `gate(x)` that holds the database thread until the test opens it, so the
    task can be cancelled at a known point: in the middle of a statement, lock held."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.opened = threading.Event()

    def __call__(self, value: int) -> int:
        self.entered.set()
        self.opened.wait(timeout=10)
        return value

    def install(self, dbapi_connection: object, connection_record: object) -> None:
        dbapi_connection.create_function("gate", 1, self)  # type: ignore[attr-defined]


@pytest.fixture
def gate() -> Gate:
    return Gate()


@pytest.fixture
def no_garbage_collection() -> Iterator[None]:
    """The lock used to go away only when the collector happened to run: keep it from running."""
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


@pytest.fixture
async def database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, gate: Gate, no_garbage_collection: None
) -> AsyncIterator[Database]:
    # A short busy timeout: a lock that lingers fails the test in 0.3 s instead of 10 s.
    monkeypatch.setattr(storage.database, "SQLITE_BUSY_TIMEOUT_MS", 300)
    db = await Database.connect(f"sqlite+aiosqlite:///{tmp_path}/cancel.db")
    event.listen(db.engine.sync_engine, "connect", gate.install)
    async with db.engine.begin() as connection:
        await connection.execute(text("CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER)"))
        await connection.execute(text("INSERT INTO counter (id, n) VALUES (1, 0)"))
    try:
        yield db
    finally:
        await db.dispose()


async def test_a_cancelled_transaction_releases_the_write_lock(
    database: Database, gate: Gate
) -> None:
    async def writer() -> None:
        # On the worker thread, as a long statement would run: the task waits there and can
        # be cancelled in the middle of it (a call in the event loop cannot be).
        with in_worker_thread():
            async with database.engine.begin() as connection:
                await connection.execute(text("UPDATE counter SET n = n + 100"))  # takes the lock
                await connection.execute(text("SELECT gate(column1) FROM (VALUES (1), (2))"))

    for _ in range(3):
        gate.entered.clear()
        gate.opened.clear()
        task = asyncio.create_task(writer())
        await asyncio.to_thread(gate.entered.wait, 10)  # the statement is running
        task.cancel()
        gate.opened.set()
        with pytest.raises(asyncio.CancelledError):
            await task

        async with database.engine.begin() as connection:
            await connection.execute(text("UPDATE counter SET n = n + 1"))

    async with database.engine.connect() as connection:
        # The cancelled transactions were rolled back; only the three later writes count.
        assert await connection.scalar(text("SELECT n FROM counter")) == 3
