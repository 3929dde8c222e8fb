"""Exports: one row per submission in zh-CN words, no ids, weeks instead of days, groups of
at least K, free text only on request, closed weeks only, CSV that Excel opens, real XLSX."""

from __future__ import annotations

import csv
import io
import stat
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from bot.anonymity.crypto import TextCipher
from bot.export import ExportOptions, export_columns, export_submissions
from bot.questionnaire import Questionnaire
from storage.database import Database
from storage.repositories import SubmissionRepository
from storage.tables import answers, submissions
from tests.digest import dataset
from tests.digest.dataset import PREVIOUS_WEEK, WEEK

BOM = b"\xef\xbb\xbf"
FORMULA = '=CONCAT("点","我")'  # no URL: the scrubber masks those


async def seeded(database: Database, cipher: TextCipher, questionnaire: Questionnaire) -> None:
    """The digest data set (12 + 6 + 1 rows of this questionnaire, 1 of another) plus one
    submission in a campaign whose free text looks like a formula."""
    await dataset.store_dataset(database, cipher, questionnaire)
    answers = dataset.current_answers(0) | {"suggestion": FORMULA}
    await dataset.store(
        SubmissionRepository(database, cipher),
        questionnaire,
        answers,
        WEEK.first_day,
        campaign_id="spring",
    )


async def identifiers(database: Database) -> list[str]:
    async with database.engine.connect() as connection:
        rows = (
            await connection.execute(select(submissions.c.id, submissions.c.receipt_hash))
        ).all()
    return [value for row in rows for value in row]


def read_csv(path: Path) -> list[list[str]]:
    raw = path.read_bytes()
    assert raw.startswith(BOM)
    return list(csv.reader(io.StringIO(raw[len(BOM) :].decode("utf-8"))))


def column(header: list[str], question_id: str) -> int:
    (index,) = [i for i, name in enumerate(header) if name.split(" ")[0] == question_id]
    return index


ALL_DAYS = ExportOptions(until=None)  # the operator's --include-today
WITH_TEXT = ExportOptions(until=None, with_text=True)
GROUPING = ("unit_type", "post_level")
OTHER = "其他/未填"


def groups(header: list[str], body: list[list[str]]) -> Counter[tuple[str, str, str]]:
    """Rows per (unit type, post level, week) as the file shows them."""
    unit, level = column(header, "unit_type"), column(header, "post_level")
    return Counter((row[unit], row[level], row[1]) for row in body)


async def test_csv_export(
    database: Database, cipher: TextCipher, questionnaire: Questionnaire, tmp_path: Path
) -> None:
    await seeded(database, cipher, questionnaire)
    out = tmp_path / "export.csv"

    result = await export_submissions(
        database, cipher, questionnaire, out, "csv", WITH_TEXT, chunk_size=4
    )

    rows = read_csv(out)
    header, body = rows[0], rows[1:]
    # 12 + 1 (campaign) in WEEK, 6 in the week before; the day after WEEK is alone in its
    # group even as "其他/未填, 其他/未填, 2026-11": left out. Not the "other" questionnaire.
    assert (result.rows, result.suppressed, result.undecryptable) == (19, 1, 0)
    assert len(body) == 19
    assert header[:3] == ["row", "week", "unit_type"]
    multi = [q for q in questionnaire.questions if q.type == "multi"]
    options = sum(len(q.choices) for q in multi)
    assert len(header) == 2 + len(questionnaire.questions) - len(multi) + options
    assert not any(h.lower() == "id" or "receipt" in h or "campaign" in h for h in header)
    assert [row[0] for row in body] == [str(n) for n in range(1, 20)]
    assert {row[1] for row in body} == {"2026-11-16", "2026-11-23"}  # Mondays, never a day
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert not (tmp_path / "export.csv.part").exists()

    text = out.read_text(encoding="utf-8-sig")
    for identifier in await identifiers(database):
        assert identifier not in text

    assert groups(header, body) == {
        ("区直部门", "一般干部", "2026-11-23"): 6,  # s1–s5 and the campaign's copy of s1
        (OTHER, OTHER, "2026-11-23"): 7,  # s6–s12: every smaller group merged
        (OTHER, OTHER, "2026-11-16"): 6,  # the week before: grouping questions unanswered
    }
    s1 = [
        row
        for row in body
        if row[column(header, "measures.fewer_meetings_docs")] == "1"
        and row[column(header, "measures.fewer_inspections")] == "1"
        and row[column(header, "p1_impact")] == "1"
        and row[column(header, "unit_type")] == "区直部门"
    ]
    assert len(s1) == 2  # s1 and its campaign copy
    row = s1[0]
    assert row[column(header, "unit_type")] == "区直部门"
    assert row[column(header, "post_level")] == "一般干部"
    assert row[column(header, "p1_freq")] == "sometimes"  # the choice's code
    assert row[column(header, "p1_impact")] == "1"
    assert row[column(header, "p2_impact")] == ""  # "never": not asked
    assert row[column(header, "deadline_share")] == "under_10"
    assert row[column(header, "meetings_month")] == "0"
    ticked = {
        name.split(".", 1)[1]: row[index]
        for index, name in enumerate(header)
        if name.startswith("measures.")
    }
    assert ticked == {
        "fewer_meetings_docs": "1",
        "fewer_inspections": "1",
        "no_trace_judging": "1",
        "grassroots_research": "0",
        "fair_accountability": "0",
        "leaders_example": "0",
        "discipline_naming": "0",
        "other": "0",
    }
    # Free text, asked for: decrypted and scrubbed; a formula is defused.
    examples = [r[column(header, "p1_example")] for r in body]
    assert any("联系[手机号]" in e for e in examples)
    assert not any("13800138000" in e for e in examples)
    suggestions = [r[column(header, "suggestion")] for r in body if r[column(header, "suggestion")]]
    assert suggestions == ["'" + FORMULA]


async def test_free_text_is_left_out_unless_asked_for(
    database: Database, cipher: TextCipher, questionnaire: Questionnaire, tmp_path: Path
) -> None:
    await seeded(database, cipher, questionnaire)
    out = tmp_path / "export.csv"

    result = await export_submissions(database, cipher, questionnaire, out, "csv", ALL_DAYS)

    header, *body = read_csv(out)
    text_ids = {q.id for q in questionnaire.questions if q.type == "text"}
    assert text_ids and not text_ids & set(header)
    assert header == [c.header for c in export_columns(questionnaire)]
    assert len(header) == len(export_columns(questionnaire, with_text=True)) - len(text_ids)
    content = out.read_text(encoding="utf-8-sig")
    assert "CONCAT" not in content and "层层转发" not in content and "手机号" not in content
    assert result.rows == len(body) == 19


async def test_the_running_week_is_left_out_unless_included(
    database: Database, cipher: TextCipher, questionnaire: Questionnaire, tmp_path: Path
) -> None:
    """`until` is today: on the last day of WEEK the whole of WEEK is still running and stays
    out (s7 on that Sunday, with its phone-number example, as much as s1 on its Monday); the
    next day WEEK has closed and is in, while that Monday's own row is in the running week."""
    await seeded(database, cipher, questionnaire)
    sunday = tmp_path / "sunday.csv"
    running = ExportOptions(until=WEEK.last_day, with_text=True)

    result = await export_submissions(database, cipher, questionnaire, sunday, "csv", running)

    header, *body = read_csv(sunday)
    text = sunday.read_text(encoding="utf-8-sig")
    assert "联系[手机号]" not in text and "层层转发" not in text
    assert groups(header, body) == {(OTHER, OTHER, "2026-11-16"): 6}
    assert (result.rows, result.suppressed, result.pending) == (6, 0, 0)

    monday = tmp_path / "monday.csv"
    closed = ExportOptions(until=WEEK.last_day + timedelta(days=1), with_text=True)
    result = await export_submissions(database, cipher, questionnaire, monday, "csv", closed)

    header, *body = read_csv(monday)
    assert "联系[手机号]" in monday.read_text(encoding="utf-8-sig")
    assert groups(header, body) == {
        ("区直部门", "一般干部", "2026-11-23"): 6,
        (OTHER, OTHER, "2026-11-23"): 7,
        (OTHER, OTHER, "2026-11-16"): 6,
    }
    # The lone row of that Monday is in the running week: neither left out nor held back.
    assert (result.rows, result.suppressed, result.pending) == (19, 0, 0)

    everything = tmp_path / "all.csv"
    result = await export_submissions(database, cipher, questionnaire, everything, "csv", WITH_TEXT)
    assert (result.rows, result.suppressed) == (19, 1)  # --include-today: that Monday too


async def test_every_group_has_k_rows_for_any_k(
    database: Database, cipher: TextCipher, questionnaire: Questionnaire, tmp_path: Path
) -> None:
    await seeded(database, cipher, questionnaire)
    for k in (2, 3, 5, 7, 13, 40):
        out = tmp_path / f"k{k}.csv"
        result = await export_submissions(
            database, cipher, questionnaire, out, "csv", ExportOptions(until=None, k=k)
        )
        header, *body = read_csv(out)
        sizes = groups(header, body)
        assert all(size >= k for size in sizes.values()), (k, sizes)
        assert result.rows + result.suppressed == 20  # nothing lost without being counted


async def test_an_undecryptable_text_skips_its_submission_and_is_counted(
    database: Database, cipher: TextCipher, questionnaire: Questionnaire, tmp_path: Path
) -> None:
    await seeded(database, cipher, questionnaire)
    async with database.engine.begin() as connection:
        victim = (
            await connection.execute(
                select(answers.c.submission_id, answers.c.question_id)
                .where(answers.c.question_id == "p2_example")
                .limit(1)
            )
        ).one()
        await connection.execute(
            answers.update()
            .where(
                answers.c.submission_id == victim.submission_id,
                answers.c.question_id == victim.question_id,
            )
            .values(text_enc=b"\x01" + bytes(40))  # a damaged blob
        )
    out = tmp_path / "export.csv"

    result = await export_submissions(database, cipher, questionnaire, out, "csv", WITH_TEXT)

    header, *body = read_csv(out)
    assert result.undecryptable == 1
    assert result.rows == len(body) == 18  # 19 readable ones, minus the lone day after WEEK
    assert "工作群里接龙" not in out.read_text(encoding="utf-8-sig")
    assert all(size >= 5 for size in groups(header, body).values())
    # Without free text nothing needs decrypting: the submission is exported.
    plain = await export_submissions(
        database, cipher, questionnaire, tmp_path / "plain.csv", "csv", ALL_DAYS
    )
    assert (plain.rows, plain.undecryptable) == (19, 0)


async def test_campaign_filter(
    database: Database, cipher: TextCipher, questionnaire: Questionnaire, tmp_path: Path
) -> None:
    await seeded(database, cipher, questionnaire)
    for _ in range(4):
        await dataset.store(
            SubmissionRepository(database, cipher),
            questionnaire,
            dataset.current_answers(1),
            PREVIOUS_WEEK.first_day,
            campaign_id="spring",
        )
    out = tmp_path / "spring.csv"

    result = await export_submissions(
        database,
        cipher,
        questionnaire,
        out,
        "csv",
        ExportOptions(until=None, campaign_id="spring"),
    )

    # One in WEEK and four the week before: the lone one is merged into the month.
    assert (result.rows, result.suppressed) == (5, 0)
    header, *body = read_csv(out)
    assert groups(header, body) == {(OTHER, OTHER, "2026-11"): 5}


async def test_xlsx_export(
    database: Database, cipher: TextCipher, questionnaire: Questionnaire, tmp_path: Path
) -> None:
    await seeded(database, cipher, questionnaire)
    out = tmp_path / "export.xlsx"

    result = await export_submissions(
        database, cipher, questionnaire, out, "xlsx", WITH_TEXT, chunk_size=7
    )

    workbook = load_workbook(out)
    sheet = workbook["反馈"]
    rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    header, body = rows[0], rows[1:]
    assert result.rows == len(body) == 19
    assert header == [c.header for c in export_columns(questionnaire, with_text=True)]
    assert [row[0] for row in body] == list(range(1, 20))
    weeks = {row[1] for row in body}
    assert weeks == {datetime(2026, 11, 16), datetime(2026, 11, 23)}
    meetings = column([str(h) for h in header], "meetings_month")
    assert {row[meetings] for row in body} >= {0, 60}
    assert all(isinstance(row[meetings], int | type(None)) for row in body)
    suggestion = column([str(h) for h in header], "suggestion")
    assert [row[suggestion] for row in body if row[suggestion]] == [FORMULA]  # text, not formula
    cells = {str(value) for row in rows for value in row if value is not None}
    for identifier in await identifiers(database):
        assert identifier not in cells
    workbook.close()


async def test_an_empty_export_has_only_the_header(
    database: Database, cipher: TextCipher, questionnaire: Questionnaire, tmp_path: Path
) -> None:
    out = tmp_path / "empty.csv"
    result = await export_submissions(database, cipher, questionnaire, out, "csv", ALL_DAYS)
    assert result.rows == 0
    assert len(read_csv(out)) == 1


async def test_unknown_format_is_refused(
    database: Database, cipher: TextCipher, questionnaire: Questionnaire, tmp_path: Path
) -> None:
    with pytest.raises(ValueError, match="xlsx, csv or sav"):
        await export_submissions(
            database,
            cipher,
            questionnaire,
            tmp_path / "x.pdf",
            "pdf",  # type: ignore[arg-type]
            ALL_DAYS,
        )
