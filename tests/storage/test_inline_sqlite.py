"""SQLite calls run in the event loop while the worker thread is idle, and never wait there.

Waiting for another process's lock, or a call marked for the worker thread, must leave the
event loop free; a call made while the worker still has calls in hand must queue behind them.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text

import storage.database
from bot.maintenance import PeriodicJob
from storage.database import Database
from storage.inline_sqlite import InlineSqliteConnection, in_worker_thread


@pytest.fixture
async def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Database]:
    monkeypatch.setattr(storage.database, "SQLITE_BUSY_TIMEOUT_MS", 2_000)
    db = await Database.connect(f"sqlite+aiosqlite:///{tmp_path}/inline.db")
    async with db.engine.begin() as connection:
        await connection.execute(text("CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER)"))
        await connection.execute(text("INSERT INTO counter (id, n) VALUES (1, 0)"))
    try:
        yield db
    finally:
        await db.dispose()


async def _driver(db: Database) -> InlineSqliteConnection:
    async with db.engine.connect() as connection:
        raw = await connection.get_raw_connection()
        driver = raw.driver_connection
    assert isinstance(driver, InlineSqliteConnection)
    return driver


async def _ticks_while(work: asyncio.Future[object] | asyncio.Task[object]) -> int:
    """How often the event loop ran another task while `work` was going on."""
    ticks = 0
    while not work.done():
        await asyncio.sleep(0.01)
        ticks += 1
    return ticks


async def test_a_transaction_runs_without_the_worker_thread(database: Database) -> None:
    driver = await _driver(database)
    before = driver.worker_calls
    async with database.engine.begin() as connection:
        await connection.execute(text("UPDATE counter SET n = n + 1"))
    async with database.engine.connect() as connection:
        assert await connection.scalar(text("SELECT n FROM counter")) == 1
    assert driver.worker_calls == before
    assert driver.inline_calls > 0


async def test_a_lock_held_elsewhere_is_waited_for_off_the_loop(
    database: Database, tmp_path: Path
) -> None:
    other = sqlite3.connect(tmp_path / "inline.db", isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")  # another process writing: the write lock is taken
    other.execute("UPDATE counter SET n = 100")

    async def write() -> None:
        async with database.engine.begin() as connection:
            await connection.execute(text("UPDATE counter SET n = n + 1"))

    writing = asyncio.ensure_future(write())
    release = threading.Timer(0.3, other.commit)
    release.start()
    try:
        ticks = await _ticks_while(writing)
    finally:
        release.join()
        other.close()
    await writing
    assert ticks >= 5  # the loop kept running while the write waited for the lock
    async with database.engine.connect() as connection:
        assert await connection.scalar(text("SELECT n FROM counter")) == 101


async def test_a_lock_held_too_long_fails_as_before(
    database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    driver = await _driver(database)
    monkeypatch.setattr(driver, "busy_seconds", 0.2)
    other = sqlite3.connect(tmp_path / "inline.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(Exception, match="database is locked"):
            async with database.engine.begin() as connection:
                await connection.execute(text("UPDATE counter SET n = n + 1"))
    finally:
        other.rollback()
        other.close()
    async with database.engine.begin() as connection:  # free again: works inline
        await connection.execute(text("UPDATE counter SET n = n + 1"))
        assert await connection.scalar(text("SELECT n FROM counter")) == 1


async def test_worker_calls_keep_their_order_and_the_loop_free(tmp_path: Path) -> None:
    entered, opened = threading.Event(), threading.Event()

    def gate(value: int) -> int:
        entered.set()
        opened.wait(timeout=10)
        return value

    def connect() -> sqlite3.Connection:
        connection = sqlite3.connect(
            tmp_path / "order.db", isolation_level=None, check_same_thread=False, timeout=0
        )
        connection.create_function("gate", 1, gate)
        return connection

    driver = InlineSqliteConnection(connect, busy_seconds=1)
    await driver
    try:
        await driver.execute("CREATE TABLE counter (n INTEGER)")
        await driver.execute("INSERT INTO counter VALUES (0)")

        async def slow() -> None:
            with in_worker_thread():
                await driver.execute("UPDATE counter SET n = n + gate(10)")

        slowly = asyncio.ensure_future(slow())
        await asyncio.to_thread(entered.wait, 10)  # the loop runs while the worker is held
        doubled = asyncio.ensure_future(driver.execute("UPDATE counter SET n = n * 2"))
        await asyncio.sleep(0.05)
        assert not doubled.done()  # queued behind the worker's call, not run beside it
        opened.set()
        await slowly
        await doubled
        cursor = await driver.execute("SELECT n FROM counter")
        assert await cursor.fetchone() == (20,)  # 10 added first, then doubled
        assert driver.worker_calls == 2
    finally:
        opened.set()
        await driver.close()


async def test_periodic_jobs_run_their_sqlite_calls_on_the_worker_thread(
    database: Database,
) -> None:
    """A purge or a digest reads many rows: the loop keeps serving cadres meanwhile."""
    driver = await _driver(database)
    worker_before, inline_before = driver.worker_calls, driver.inline_calls

    async def work() -> None:
        async with database.engine.begin() as connection:
            await connection.execute(text("UPDATE counter SET n = n + 1"))

    job = PeriodicJob("purge", work, interval=3600)
    job.start()
    await job.wait_for_runs(1)
    await job.stop()
    assert driver.worker_calls > worker_before
    assert driver.inline_calls == inline_before
