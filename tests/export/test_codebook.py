"""Exports for analysis: a codebook that describes every column in both locales, 0/1 option
columns that add up to what was chosen, an XLSX laid out for filtering, a CSV codebook
beside the CSV, an SPSS file with its labels, and a whole-week date filter that leaves the
K groups as they were."""

from __future__ import annotations

import csv
import io
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pyreadstat
from openpyxl import load_workbook
from openpyxl.utils import get_column_letter
from sqlalchemy import select

from bot.anonymity.crypto import TextCipher
from bot.export import (
    ExportOptions,
    codebook_path,
    codebook_rows,
    export_columns,
    export_submissions,
)
from bot.questionnaire import Questionnaire
from storage.database import Database
from storage.tables import answers, submissions
from tests.digest import v2
from tests.digest.dataset import PREVIOUS_WEEK, WEEK
from tests.export.test_export import BOM, OTHER, column, groups, read_csv, seeded

ALL = ExportOptions(until=None, with_text=True)


def files(directory: Path, pattern: str) -> list[Path]:
    return list(directory.glob(pattern))


def test_the_codebook_describes_every_column_in_both_locales(
    questionnaire_v2: Questionnaire,
) -> None:
    columns = export_columns(questionnaire_v2, with_text=True)
    rows = codebook_rows(columns)
    assert [row[0] for row in rows] == [c.header for c in columns]
    assert all(row[2] and row[3] and row[4] for row in rows)  # wording both locales, type
    by_name = {row[0]: row for row in rows}
    for answer_field in questionnaire_v2.answer_fields:
        question = answer_field.question
        if answer_field.type == "multi":
            for number, choice in enumerate(question.choices):
                _name, qid, zh, en, kind, codes = by_name[f"{answer_field.key}.{choice.id}"]
                assert qid == answer_field.key and kind == "multi (0/1)"
                assert zh.startswith(question.label_for("zh-CN"))
                assert zh.endswith(answer_field.choice_label(choice.id, "zh-CN")) and en.endswith(
                    answer_field.choice_label(choice.id, "en")
                )
                assert codes == "0 = 未选 / Not ticked; 1 = 已选 / Ticked", number
            continue
        _name, qid, zh, en, kind, codes = by_name[answer_field.key]
        assert qid == answer_field.key
        assert zh.startswith(question.label_for("zh-CN")) and en.startswith(
            question.label_for("en")
        )
        if answer_field.row is not None:
            assert zh.endswith(answer_field.label_for("zh-CN"))
        if answer_field.type == "single" and answer_field.key not in ("unit_type", "post_level"):
            expected = [
                f"{choice} ({number}) = {answer_field.choice_label(choice, 'zh-CN')}"
                f" / {answer_field.choice_label(choice, 'en')}"
                for number, choice in enumerate(answer_field.choice_ids, 1)
            ]
            assert codes.split("; ") == expected
    unit = by_name["unit_type"]
    assert unit[4] == "single (generalised to K)" and unit[5].endswith(
        f"{OTHER} / Other or not given"
    )
    assert "never (1) = 从未遇到 / Never" in by_name["freq.p1"][5]


async def test_option_columns_add_up_to_the_choices_stored(
    database: Database, cipher: TextCipher, questionnaire_v2: Questionnaire, tmp_path: Path
) -> None:
    await v2.store_dataset(database, cipher, questionnaire_v2)
    out = tmp_path / "v2.csv"
    result = await export_submissions(database, cipher, questionnaire_v2, out, "csv", ALL)
    assert result.suppressed == 0 and result.pending == 0  # every stored row is exported
    header, *body = read_csv(out)
    async with database.engine.connect() as connection:
        stored = (
            await connection.execute(
                select(answers.c.question_id, answers.c.choice)
                .join(submissions, submissions.c.id == answers.c.submission_id)
                .where(submissions.c.questionnaire_id == questionnaire_v2.id)
            )
        ).all()
    chosen = Counter(f"{row.question_id}.{row.choice}" for row in stored)
    multi = [f for f in questionnaire_v2.answer_fields if f.type == "multi"]
    assert multi
    for answer_field in multi:
        answered = {row.question_id for row in stored if row.question_id == answer_field.key}
        for choice in answer_field.choice_ids:
            name = f"{answer_field.key}.{choice}"
            cells = [row[column(header, name)] for row in body]
            assert set(cells) <= {"", "0", "1"}
            assert sum(int(cell or 0) for cell in cells) == chosen[name]
            if not answered:
                assert set(cells) == {""}
    # A row is empty in every option of a question it skipped, else 0/1 in all of them.
    options = [
        column(header, f"burden_source.{c}")
        for c in questionnaire_v2.question("burden_source").choice_ids
    ]
    for row in body:
        assert len({row[i] == "" for i in options}) == 1


async def test_the_csv_codebook_sits_beside_the_csv(
    database: Database, cipher: TextCipher, questionnaire: Questionnaire, tmp_path: Path
) -> None:
    await seeded(database, cipher, questionnaire)
    out = tmp_path / "answers.csv"
    result = await export_submissions(database, cipher, questionnaire, out, "csv", ALL)
    book = tmp_path / "answers.codebook.csv"
    assert result.codebook == book == codebook_path(out)
    assert out.read_bytes().startswith(BOM) and book.read_bytes().startswith(BOM)
    entries = list(csv.reader(io.StringIO(book.read_text(encoding="utf-8-sig"))))
    assert entries[1:] == codebook_rows(export_columns(questionnaire, with_text=True))
    assert [entry[0] for entry in entries[1:]] == read_csv(out)[0]
    assert not files(tmp_path, "*.part")


async def test_the_xlsx_has_a_filtered_frozen_header_and_a_codebook_sheet(
    database: Database, cipher: TextCipher, questionnaire: Questionnaire, tmp_path: Path
) -> None:
    await seeded(database, cipher, questionnaire)
    out = tmp_path / "answers.xlsx"
    result = await export_submissions(database, cipher, questionnaire, out, "xlsx", ALL)
    assert result.codebook is None and not files(tmp_path, "*.codebook.csv")
    workbook = load_workbook(out)
    assert workbook.sheetnames == ["反馈", "codebook", "交叉表"]
    sheet, book = workbook["反馈"], workbook["codebook"]
    columns = export_columns(questionnaire, with_text=True)
    assert sheet.freeze_panes == "A2" and book.freeze_panes == "A2"
    assert sheet.auto_filter.ref == f"A1:{get_column_letter(len(columns))}{1 + 19}"
    assert sheet.column_dimensions["C"].width and sheet.column_dimensions["C"].width >= 10
    header = [cell.value for cell in sheet[1]]
    assert header == [c.header for c in columns]
    entries = [list(row) for row in book.iter_rows(min_row=2, values_only=True)]
    assert [[value or "" for value in entry] for entry in entries] == codebook_rows(columns)
    body = [list(row) for row in sheet.iter_rows(min_row=2, values_only=True)]
    meetings = header.index("meetings_month")
    assert {row[meetings] for row in body} >= {0, 60}  # numbers stay numbers
    ticked = header.index("measures.fewer_meetings_docs")
    assert {row[ticked] for row in body} <= {0, 1, None} and 1 in {row[ticked] for row in body}
    workbook.close()


async def test_the_sav_reads_back_with_its_labels(
    database: Database, cipher: TextCipher, questionnaire_v2: Questionnaire, tmp_path: Path
) -> None:
    await v2.store_dataset(database, cipher, questionnaire_v2)
    csv_out, sav_out = tmp_path / "v2.csv", tmp_path / "v2.sav"
    await export_submissions(database, cipher, questionnaire_v2, csv_out, "csv", ALL)
    result = await export_submissions(database, cipher, questionnaire_v2, sav_out, "sav", ALL)
    assert result.rows == 18 and result.codebook == tmp_path / "v2.codebook.csv"
    frame, meta = pyreadstat.read_sav(str(sav_out))
    header, *body = read_csv(csv_out)
    assert list(meta.column_names) == header
    labels = meta.column_names_to_labels
    assert labels["unit_type"] == questionnaire_v2.question("unit_type").label_for("zh-CN")
    assert str(labels["freq.p1"]).endswith("以会议落实会议、以文件落实文件")
    freq = questionnaire_v2.answer_field("freq.p1")
    assert meta.variable_value_labels["freq.p1"] == {
        float(n): freq.choice_label(choice, "zh-CN") for n, choice in enumerate(freq.choice_ids, 1)
    }
    assert meta.variable_value_labels["burden_source.county"] == {0.0: "未选", 1.0: "已选"}
    number = {choice: n for n, choice in enumerate(freq.choice_ids, 1)}
    for index, row in enumerate(body):
        code = row[column(header, "freq.p4")]
        value = frame["freq.p4"][index]
        assert (value != value) if code == "" else value == number[code]  # NaN when empty
        assert frame["unit_type"][index] == row[column(header, "unit_type")]  # a string
        impact = row[column(header, "impact.p1")]
        assert (frame["impact.p1"][index] != frame["impact.p1"][index]) or (
            frame["impact.p1"][index] == float(impact)
        )
    assert sorted(frame["week"].unique()) == ["2026-11-16", "2026-11-23"]


async def test_a_date_range_keeps_whole_weeks_and_their_groups(
    database: Database, cipher: TextCipher, questionnaire: Questionnaire, tmp_path: Path
) -> None:
    await seeded(database, cipher, questionnaire)
    full = tmp_path / "full.csv"
    await export_submissions(database, cipher, questionnaire, full, "csv", ALL)
    header, *everything = read_csv(full)
    wednesday = WEEK.first_day + timedelta(days=2)
    for first, last, week in (
        (wednesday, wednesday, WEEK.first_day),
        (PREVIOUS_WEEK.first_day, PREVIOUS_WEEK.last_day, PREVIOUS_WEEK.first_day),
    ):
        out = tmp_path / f"{week}.csv"
        options = ExportOptions(until=None, with_text=True, first_day=first, last_day=last)
        result = await export_submissions(database, cipher, questionnaire, out, "csv", options)
        _header, *body = read_csv(out)
        assert {row[1] for row in body} == {week.isoformat()}
        same_week = [row for row in everything if row[1] == week.isoformat()]
        assert result.rows == len(body) == len(same_week)
        assert groups(header, body) == groups(header, same_week)  # generalised as before
        assert sorted(row[2:] for row in body) == sorted(row[2:] for row in same_week)
    # A range that ends before the first report holds nothing.
    empty = tmp_path / "empty.csv"
    before = PREVIOUS_WEEK.first_day - timedelta(days=1)
    options = ExportOptions(until=None, first_day=before, last_day=before)
    assert (
        await export_submissions(database, cipher, questionnaire, empty, "csv", options)
    ).rows == 0
