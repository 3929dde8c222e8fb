"""`db reorder`: the submission-side tables forget the order in which reports arrived.

On PostgreSQL every row gets a new row version written by one transaction (all `xmin`
equal) and the heap order (`ctid`) is no longer the insertion order; the contents are the
same. SQLite has nothing to reorder and says why."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from bot.anonymity.crypto import TextCipher
from bot.cli import main
from bot.statuses import CaseStatus, FollowupOrigin
from storage.database import Database
from storage.reorder import SQLITE_NOTE, SUBMISSION_TABLES, reorder_submission_tables
from storage.repositories import CaseRepository, NewSubmission, SubmissionRepository

DAY = date(2026, 11, 2)
COUNT = 200


@pytest.fixture
async def postgres(migrated_postgres_url: str) -> AsyncIterator[Database]:
    db = await Database.connect(migrated_postgres_url)
    try:
        await db.upgrade()
        yield db
    finally:
        await db.dispose()


async def _fill(db: Database) -> list[str]:
    """COUNT submissions, one transaction each as the bot writes them, in a known order."""
    cipher = TextCipher(secrets.token_bytes(32))
    submissions = SubmissionRepository(db, cipher)
    cases = CaseRepository(db, cipher)
    order = []
    for n in range(COUNT):
        submission_id = await submissions.store(
            NewSubmission(
                questionnaire_id="q",
                questionnaire_version=1,
                answers={"p1_example": f"故事{n}", "p1_freq": "often", "measures": ["a", "b"]},
                text_question_ids=frozenset({"p1_example"}),
                day=DAY,
                receipt_hash=secrets.token_hex(32),
            )
        )
        if n % 10 == 0:
            await cases.add_message(submission_id, FollowupOrigin.INVESTIGATOR, f"问题{n}", DAY)
            await cases.add_message(submission_id, FollowupOrigin.CADRE, f"回答{n}", DAY)
            await cases.add_note(submission_id, f"备注{n}", DAY)
            await cases.set_status(submission_id, CaseStatus.VERIFYING, DAY)
        order.append(submission_id)
    return order


async def _contents(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    found = {}
    async with db.engine.connect() as connection:
        for table in SUBMISSION_TABLES:
            rows = await connection.execute(table.select())
            found[table.name] = sorted(tuple(row) for row in rows)
    return found


async def _ids_in_heap_order(db: Database) -> list[str]:
    async with db.engine.connect() as connection:
        rows = await connection.execute(text("SELECT id FROM submissions ORDER BY ctid"))
        return [row[0] for row in rows]


async def _xmins(db: Database, table: str) -> set[str]:
    async with db.engine.connect() as connection:
        rows = await connection.execute(text(f'SELECT DISTINCT xmin::text FROM "{table}"'))
        return {row[0] for row in rows}


def spearman(order: list[str], observed: list[str]) -> float:
    """Rank correlation between two orders of the same items (1: identical, ~0: unrelated)."""
    rank = {item: position for position, item in enumerate(order)}
    n = len(order)
    squares = sum((rank[item] - position) ** 2 for position, item in enumerate(observed))
    return 1 - 6 * squares / (n * (n * n - 1))


async def test_rows_get_one_new_version_each_in_random_heap_order(postgres: Database) -> None:
    order = await _fill(postgres)
    before = await _contents(postgres)
    assert len(before["submissions"]) == COUNT and len(before["answers"]) == 4 * COUNT
    assert len(before["followup_messages"]) == 2 * COUNT // 10
    # The positive control: without the reorder the heap is the arrival order, and every
    # submission has its own transaction id.
    assert await _ids_in_heap_order(postgres) == order
    assert len(await _xmins(postgres, "submissions")) == COUNT

    report = await reorder_submission_tables(postgres)

    assert report.reordered and report.vacuumed
    assert report.rows == {name: len(rows) for name, rows in before.items()}
    assert await _contents(postgres) == before  # same rows, same values
    xmins = set()
    for table in SUBMISSION_TABLES:
        table_xmins = await _xmins(postgres, table.name)
        assert len(table_xmins) == 1, table.name
        xmins |= table_xmins
    assert len(xmins) == 1  # one transaction wrote every row of all six tables
    heap_order = await _ids_in_heap_order(postgres)
    assert sorted(heap_order) == sorted(order)
    assert heap_order != order
    # A random permutation of 200 has |rho| < 0.5 except with a probability far below 1e-9.
    assert abs(spearman(order, heap_order)) < 0.5


async def _heap(db: Database) -> tuple[int, int, int]:
    """(file node, pages in the submissions heap, pages holding at least one live row)."""
    async with db.engine.connect() as connection:
        node = await connection.scalar(text("SELECT pg_relation_filenode('submissions')"))
        pages = await connection.scalar(
            text("SELECT pg_relation_size('submissions') / current_setting('block_size')::int")
        )
        live = await connection.scalar(
            text("SELECT count(DISTINCT (ctid::text::point)[0]) FROM submissions")
        )
    return int(node or 0), int(pages or 0), int(live or 0)


async def test_the_vacuum_rewrites_the_files_without_the_old_row_versions(
    postgres: Database,
) -> None:
    await _fill(postgres)
    node, _, _ = await _heap(postgres)
    without = await reorder_submission_tables(postgres, vacuum=False)
    assert without.reordered and not without.vacuumed
    same_node, pages, live = await _heap(postgres)
    # The old versions (old xmin, arrival order) are still in the same file, as dead rows.
    assert same_node == node and pages > live
    report = await reorder_submission_tables(postgres)
    assert report.vacuumed
    new_node, _, _ = await _heap(postgres)
    assert new_node != node  # VACUUM (FULL) wrote a new file; the old one is gone


async def test_sqlite_has_nothing_to_reorder(migrated_sqlite_url: str) -> None:
    db = await Database.connect(migrated_sqlite_url)
    try:
        await db.upgrade()
        report = await reorder_submission_tables(db)
    finally:
        await db.dispose()
    assert not report.reordered and report.total == 0
    assert report.note == SQLITE_NOTE and "WITHOUT ROWID" in report.note


def test_the_command_on_sqlite_says_why_there_is_nothing_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert main(["db", "reorder"]) == 0
    assert capsys.readouterr().out.strip() == SQLITE_NOTE


async def test_the_command_on_postgresql(
    postgres: Database,
    migrated_postgres_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    await _fill(postgres)
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DATABASE_URL", migrated_postgres_url)
    assert await asyncio.to_thread(main, ["db", "reorder"]) == 0
    out = capsys.readouterr().out
    # 200 submissions, 800 answers, 200 cases, 40 follow-ups, 20 notes, 20 events
    assert "rewrote 1280 row(s) in random order in one transaction" in out, out
    assert "VACUUM (FULL) done" in out
    assert len(await _xmins(postgres, "answers")) == 1
