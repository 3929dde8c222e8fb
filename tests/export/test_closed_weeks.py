"""Exports over time: an export covers closed weeks only and a month group waits for its
month, so two exports made on different days never differ by fewer than K reports."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from openpyxl import load_workbook

from bot.anonymity.crypto import TextCipher
from bot.export import ExportFormat, ExportOptions, ExportResult, export_submissions
from bot.questionnaire import Questionnaire
from storage.database import Database
from storage.repositories import SubmissionRepository
from tests.digest import dataset
from tests.digest.dataset import WEEK
from tests.export.test_export import OTHER, groups, read_csv, seeded

K = 5
#: The week after WEEK: Monday 30 November 2026 (still a week of November) to 6 December.
RUNNING = WEEK.last_day + timedelta(days=1)


async def export(
    database: Database,
    cipher: TextCipher,
    questionnaire: Questionnaire,
    path: Path,
    today: date,
    fmt: ExportFormat = "csv",
) -> tuple[ExportResult, list[str], list[list[Any]]]:
    """An export made on `today`, as the bot makes it: header and data cells."""
    options = ExportOptions(until=today, with_text=True, k=K)
    result = await export_submissions(database, cipher, questionnaire, path, fmt, options)
    if fmt == "csv":
        header, *body = read_csv(path)
        return result, header, body
    workbook = load_workbook(path)
    rows = [list(row) for row in workbook["反馈"].iter_rows(values_only=True)]
    workbook.close()
    return result, [str(name) for name in rows[0]], rows[1:]


def data(body: list[list[Any]]) -> Counter[tuple[Any, ...]]:
    """The rows without their row number, as a multiset."""
    return Counter(tuple(row[1:]) for row in body)


async def store(
    database: Database,
    cipher: TextCipher,
    questionnaire: Questionnaire,
    day: date,
    count: int,
    answers: dict[str, Any],
) -> None:
    repository = SubmissionRepository(database, cipher)
    for _ in range(count):
        await dataset.store(repository, questionnaire, answers, day)


async def test_two_exports_in_one_running_week_hold_the_same_rows(
    database: Database, cipher: TextCipher, questionnaire: Questionnaire, tmp_path: Path
) -> None:
    """Tuesday and Sunday of the running week, with reports (like s1, whose group would grow
    by them) arriving on every day in between: the same rows, cell for cell."""
    await seeded(database, cipher, questionnaire)
    like_s1 = dataset.current_answers(0)
    tuesday, sunday = RUNNING + timedelta(days=1), RUNNING + timedelta(days=6)
    await store(database, cipher, questionnaire, tuesday, 1, like_s1)
    for fmt in ("csv", "xlsx"):
        before = await export(
            database, cipher, questionnaire, tmp_path / f"tue.{fmt}", tuesday, fmt
        )
        assert before[0].rows == 19  # WEEK (13) and the week before it (6)
        for offset in range(5):  # Tuesday to Saturday
            await store(
                database, cipher, questionnaire, tuesday + timedelta(days=offset), 2, like_s1
            )
        after = await export(database, cipher, questionnaire, tmp_path / f"sun.{fmt}", sunday, fmt)
        assert after[1:] == before[1:]  # header and every data cell, row numbers included
        assert after[0] == before[0]  # and the same counts of what was left out


async def test_a_closing_week_adds_exactly_its_own_rows_in_groups_of_k(
    database: Database, cipher: TextCipher, questionnaire: Questionnaire, tmp_path: Path
) -> None:
    await seeded(database, cipher, questionnaire)
    await store(database, cipher, questionnaire, RUNNING, 4, dataset.current_answers(0))
    sunday, monday = WEEK.last_day, RUNNING

    first, header, body_before = await export(
        database, cipher, questionnaire, tmp_path / "sun.csv", sunday
    )
    second, _header, body_after = await export(
        database, cipher, questionnaire, tmp_path / "mon.csv", monday
    )

    assert first.rows == 6  # only the week before WEEK
    assert not data(body_before) - data(body_after)  # nothing shown earlier changed
    gained = data(body_after) - data(body_before)
    in_week = 12 + 1  # s1–s12 and the campaign's copy of s1; not the other questionnaire
    assert sum(gained.values()) == second.rows - first.rows == in_week
    assert {row[0] for row in gained} == {WEEK.first_day.isoformat()}
    new_rows = [["", *row] for row, count in gained.items() for _ in range(count)]
    assert all(size >= K for size in groups(header, new_rows).values())
    assert (second.pending, second.suppressed) == (0, 0)  # RUNNING's rows are not counted


async def test_small_week_groups_wait_for_their_month(
    database: Database, cipher: TextCipher, questionnaire: Questionnaire, tmp_path: Path
) -> None:
    """Rows whose week group stays below K are held back while their month runs; once the
    week of the month's last Monday has closed they appear as one month group, or are left
    out if even that stays below K."""
    few = {"unit_type": "town_street", "post_level": "staff", "p1_freq": "often"}
    many = dataset.current_answers(0)  # 区直部门, 一般干部
    seeds = [
        (date(2026, 10, 21), 1, few),  # October: 1 + 1, never K
        (date(2026, 11, 1), 1, few),  # a Sunday: the week of Monday 26 October
        (date(2026, 11, 4), 2, few),  # November: 2 + 2 + 1
        (date(2026, 11, 11), 2, few),
        (date(2026, 12, 3), 1, few),  # the week of Monday 30 November: still November
        (date(2026, 11, 18), 5, many),  # a week group of its own
    ]
    for day, count, answers in seeds:
        await store(database, cipher, questionnaire, day, count, answers)

    async def at(today: date) -> tuple[tuple[int, int, int], Counter[tuple[str, str, str]]]:
        result, header, body = await export(
            database, cipher, questionnaire, tmp_path / f"{today}.csv", today
        )
        return (result.rows, result.pending, result.suppressed), groups(header, body)

    week_group = {("区直部门", "一般干部", "2026-11-16"): 5}
    assert await at(date(2026, 10, 27)) == ((0, 1, 0), {})  # October still running
    assert await at(date(2026, 11, 2)) == ((0, 0, 2), {})  # October closed below K
    assert await at(date(2026, 11, 25)) == ((5, 4, 2), week_group)
    # Sunday 6 December: the week of 30 November runs, so November has not closed yet.
    assert await at(date(2026, 12, 6)) == ((5, 4, 2), week_group)
    november = week_group | {(OTHER, OTHER, "2026-11"): 5}
    assert await at(date(2026, 12, 7)) == ((10, 0, 2), november)
    assert await at(date(2027, 3, 1)) == ((10, 0, 2), november)  # and so it stays
