"""WAL checkpoints run beside the bot's SQLite connection, never inside one of its commits.

The bot's connection folds the log in by itself only past a large mark; a passive
checkpoint on a connection and thread of its own follows its commits, and stops with the
database. An in-memory database has no log and no checkpoints.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import text

from storage.database import Database
from storage.sqlite_checkpoints import EVERY_COMMITS, FALLBACK_PAGES, WalCheckpoints


def _checkpoint_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("sqlite-checkpoint")]


async def test_commits_are_followed_by_a_passive_checkpoint_on_another_thread(
    tmp_path: Path,
) -> None:
    before = set(_checkpoint_threads())  # other tests' databases may still have theirs
    db = await Database.connect(f"sqlite+aiosqlite:///{tmp_path}/wal.db")
    checkpoints = db.wal_checkpoints
    assert checkpoints is not None
    try:
        async with db.engine.connect() as connection:
            assert await connection.scalar(text("PRAGMA wal_autocheckpoint")) == FALLBACK_PAGES
        async with db.engine.begin() as connection:
            await connection.execute(text("CREATE TABLE notes (id INTEGER PRIMARY KEY, t TEXT)"))
        for number in range(EVERY_COMMITS - 2):
            async with db.engine.begin() as connection:
                await connection.execute(
                    text("INSERT INTO notes (t) VALUES (:t)"), {"t": f"note {number}" * 50}
                )
        assert checkpoints.done == 0  # not yet: one commit short
        async with db.engine.begin() as connection:
            await connection.execute(text("INSERT INTO notes (t) VALUES ('the hundredth')"))
        checkpoints.wait()
        assert checkpoints.done == 1
        assert checkpoints.last is not None
        busy, log, folded = checkpoints.last
        assert busy == 0 and log > 0 and folded == log  # the whole log is in the file
        ours = set(_checkpoint_threads()) - before
        assert len(ours) == 1
    finally:
        await db.dispose()
    assert not any(thread.is_alive() for thread in ours)


async def test_a_checkpoint_still_running_is_not_started_twice(tmp_path: Path) -> None:
    db = await Database.connect(f"sqlite+aiosqlite:///{tmp_path}/wal.db")
    try:
        async with db.engine.begin() as connection:
            await connection.execute(text("CREATE TABLE t (n INTEGER)"))
    finally:
        await db.dispose()
    checkpoints = WalCheckpoints(str(tmp_path / "wal.db"), every_commits=1)
    gate = threading.Event()
    original = checkpoints._checkpoint

    def held() -> None:
        gate.wait(10)
        original()

    checkpoints._checkpoint = held  # type: ignore[method-assign]
    try:
        checkpoints.committed()
        checkpoints.committed()  # the first is still running: nothing more is queued
        gate.set()
        checkpoints.wait()
        assert checkpoints.done == 1
        checkpoints.committed()
        checkpoints.wait()
        assert checkpoints.done == 2
    finally:
        gate.set()
        checkpoints.close()


async def test_an_in_memory_database_has_no_checkpoints() -> None:
    db = await Database.connect("sqlite+aiosqlite:///:memory:")
    try:
        assert db.wal_checkpoints is None
    finally:
        await db.dispose()


def test_every_commits_must_be_positive() -> None:
    with pytest.raises(ValueError, match="every_commits"):
        WalCheckpoints("x.db", every_commits=0)
