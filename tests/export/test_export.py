"""Exports: one row per submission in zh-CN words, no ids, CSV that Excel opens, real XLSX."""

from __future__ import annotations

import csv
import io
import stat
from datetime import date, datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from bot.anonymity.crypto import TextCipher
from bot.export import export_columns, export_submissions
from bot.questionnaire import Questionnaire
from storage.database import Database
from storage.repositories import SubmissionRepository
from storage.tables import submissions
from tests.digest import dataset
from tests.digest.dataset import WEEK

BOM = b"\xef\xbb\xbf"
FORMULA = '=HYPERLINK("http://example.invalid","点我")'


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


async def test_csv_export(
    database: Database, cipher: TextCipher, questionnaire: Questionnaire, tmp_path: Path
) -> None:
    await seeded(database, cipher, questionnaire)
    out = tmp_path / "export.csv"

    written = await export_submissions(database, cipher, questionnaire, out, "csv", chunk_size=4)

    rows = read_csv(out)
    header, body = rows[0], rows[1:]
    assert written == len(body) == 20  # 12 + 6 + 1 (day after) + 1 (campaign); not "other"
    assert header[:2] == ["序号", "日期"]
    assert header[2] == "unit_type 您在哪类单位工作？"
    assert len(header) == 2 + len(questionnaire.questions)
    assert not any(h.lower() == "id" or "receipt" in h or "campaign" in h for h in header)
    assert [row[0] for row in body] == [str(n) for n in range(1, 21)]
    days = [row[1] for row in body]
    assert days == sorted(days) and days[0] == "2026-11-16" and days[-1] == "2026-11-30"
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert not (tmp_path / "export.csv.part").exists()

    text = out.read_text(encoding="utf-8-sig")
    for identifier in await identifiers(database):
        assert identifier not in text

    # Submission s1 of the data set, in words (s1 and the campaign copy are alike).
    s1 = [row for row in body if row[column(header, "measures")].startswith("精简会议和文件、减少")]
    assert s1
    row = s1[0]
    assert row[column(header, "unit_type")] == "区直部门"
    assert row[column(header, "post_level")] == "一般干部"
    assert row[column(header, "p1_freq")] == "偶尔"
    assert row[column(header, "p1_impact")] == "1"
    assert row[column(header, "p2_impact")] == ""  # "never": not asked
    assert row[column(header, "deadline_share")] == "不到一成"
    assert row[column(header, "meetings_month")] == "0"
    assert row[column(header, "measures")] == "精简会议和文件、减少、合并检查考核、不以留痕论成绩"
    # Free text: decrypted and scrubbed; a formula is defused.
    examples = [r[column(header, "p1_example")] for r in body]
    assert "某日" not in "".join(examples)  # exports keep the text as stored (dates too)
    assert any("联系[手机号]" in e for e in examples)
    assert not any("13800138000" in e for e in examples)
    suggestions = [r[column(header, "suggestion")] for r in body if r[column(header, "suggestion")]]
    assert suggestions == ["'" + FORMULA]


async def test_campaign_filter(
    database: Database, cipher: TextCipher, questionnaire: Questionnaire, tmp_path: Path
) -> None:
    await seeded(database, cipher, questionnaire)
    out = tmp_path / "spring.csv"

    written = await export_submissions(
        database, cipher, questionnaire, out, "csv", campaign_id="spring"
    )

    assert written == 1
    assert len(read_csv(out)) == 2


async def test_xlsx_export(
    database: Database, cipher: TextCipher, questionnaire: Questionnaire, tmp_path: Path
) -> None:
    await seeded(database, cipher, questionnaire)
    out = tmp_path / "export.xlsx"

    written = await export_submissions(database, cipher, questionnaire, out, "xlsx", chunk_size=7)

    workbook = load_workbook(out)
    sheet = workbook["反馈"]
    rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    header, body = rows[0], rows[1:]
    assert written == len(body) == 20
    assert header == [c.header for c in export_columns(questionnaire)]
    assert [row[0] for row in body] == list(range(1, 21))
    assert isinstance(body[0][1], datetime) and body[0][1].date() == date(2026, 11, 16)
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
    assert await export_submissions(database, cipher, questionnaire, out, "csv") == 0
    assert len(read_csv(out)) == 1


async def test_unknown_format_is_refused(
    database: Database, cipher: TextCipher, questionnaire: Questionnaire, tmp_path: Path
) -> None:
    with pytest.raises(ValueError, match="csv or xlsx"):
        await export_submissions(
            database,
            cipher,
            questionnaire,
            tmp_path / "x.pdf",
            "pdf",  # type: ignore[arg-type]
        )
