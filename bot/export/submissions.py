"""One row per submission, one column per question, streamed in chunks.

What an export holds: a row number within this export, the submission's calendar day, and
every answer in zh-CN words (choice labels; a multiple choice as its labels joined by "、";
numbers as numbers; free text decrypted and scrubbed again, scrubbing being idempotent).

What it never holds: the submission id, the receipt hash, the campaign, the questionnaire
version, or anything else that could single a report out or link it to a follow-up. Rows are
ordered by day and, within a day, by the random submission id — an order that says nothing
about when within the day a report arrived (insertion order is never used). Row numbers are
just positions in this file.

Free text reaches spreadsheet programs, so text that starts like a formula (=, +, -, @) is
defused: CSV cells get a leading apostrophe, XLSX cells are written as plain strings.

Exports go to `<out>.part` (created owner-only, 0600) and are renamed into place when
complete, so a crash never leaves a half-written file under the final name.
"""

from __future__ import annotations

import asyncio
import csv
import os
from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import IO, Any, Final, Literal, Protocol, TypeAlias

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell
from openpyxl.styles import Font
from openpyxl.worksheet._write_only import WriteOnlyWorksheet
from sqlalchemy import and_, or_, select

from bot.anonymity.crypto import TextCipher
from bot.anonymity.scrubber import scrub
from bot.questionnaire import Question, Questionnaire
from storage.database import Database
from storage.repositories.submissions import TEXT_CONTEXT
from storage.tables import answers, submissions

ExportFormat: TypeAlias = Literal["csv", "xlsx"]
CellValue: TypeAlias = str | int | date | None

CHUNK_SIZE: Final = 1000
LOCALE: Final = "zh-CN"
MULTI_SEPARATOR: Final = "、"
ROW_NUMBER_HEADER: Final = "序号"
DAY_HEADER: Final = "日期"
SHEET_TITLE: Final = "反馈"
_FORMULA_START: Final = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Column:
    """An export column: a question (or None for the row number / day) and its header."""

    question_id: str | None
    header: str


def export_columns(questionnaire: Questionnaire) -> list[Column]:
    """Row number, day, then every question in asking order, headed "id label" (labels of
    the nine "example" questions are identical, the id tells them apart)."""
    columns = [Column(None, ROW_NUMBER_HEADER), Column(None, DAY_HEADER)]
    columns += [
        Column(question.id, f"{question.id} {question.label_for(LOCALE)}")
        for question in questionnaire.questions
    ]
    return columns


def _choice_label(question: Question, choice_id: str) -> str:
    try:
        return question.choice_label(choice_id, LOCALE)
    except KeyError:
        return choice_id  # a choice an older questionnaire version offered


async def iter_export_rows(
    db: Database,
    cipher: TextCipher,
    questionnaire: Questionnaire,
    *,
    campaign_id: str | None = None,
    chunk_size: int = CHUNK_SIZE,
) -> AsyncIterator[list[list[CellValue]]]:
    """Chunks of rows (day, then one value per question; no row number), in export order.

    Keyset pagination on (day, id) keeps memory flat however many submissions there are.
    Answers to questions the questionnaire no longer has are left out.
    """
    if chunk_size < 1:
        raise ValueError("chunk_size must be at least 1")
    questions = list(questionnaire.questions)
    position = {question.id: index for index, question in enumerate(questions)}
    scope = submissions.c.questionnaire_id == questionnaire.id
    if campaign_id is not None:
        scope = and_(scope, submissions.c.campaign_id == campaign_id)
    after: tuple[date, str] | None = None
    while True:
        async with db.engine.connect() as connection:
            query = select(submissions.c.id, submissions.c.day).where(scope)
            if after is not None:
                query = query.where(
                    or_(
                        submissions.c.day > after[0],
                        and_(submissions.c.day == after[0], submissions.c.id > after[1]),
                    )
                )
            heads = (
                await connection.execute(
                    query.order_by(submissions.c.day, submissions.c.id).limit(chunk_size)
                )
            ).all()
            if not heads:
                return
            ids = [head.id for head in heads]
            answer_rows = (
                await connection.execute(
                    select(
                        answers.c.submission_id,
                        answers.c.question_id,
                        answers.c.ordinal,
                        answers.c.choice,
                        answers.c.number,
                        answers.c.text_enc,
                    )
                    .where(answers.c.submission_id.in_(ids))
                    .order_by(answers.c.submission_id, answers.c.question_id, answers.c.ordinal)
                )
            ).all()
        by_submission: dict[str, list[Any]] = defaultdict(list)
        for row in answer_rows:
            by_submission[row.submission_id].append(row)
        chunk: list[list[CellValue]] = []
        for head in heads:
            values: list[CellValue] = [None] * len(questions)
            multi: dict[int, list[str]] = defaultdict(list)
            for row in by_submission.get(head.id, []):
                index = position.get(row.question_id)
                if index is None:
                    continue
                question = questions[index]
                if row.text_enc is not None:
                    text = cipher.decrypt(row.text_enc, context=TEXT_CONTEXT)
                    values[index] = scrub(text).text
                elif row.number is not None:
                    values[index] = int(row.number)
                elif question.type == "multi":
                    multi[index].append(_choice_label(question, row.choice))
                else:
                    values[index] = _choice_label(question, row.choice)
            for index, labels in multi.items():
                values[index] = MULTI_SEPARATOR.join(labels)
            chunk.append([head.day, *values])
        yield chunk
        after = (heads[-1].day, heads[-1].id)
        if len(heads) < chunk_size:
            return


# ---------------------------------------------------------------------------- writers


class _Sink(Protocol):
    def write_rows(self, rows: Sequence[Sequence[CellValue]]) -> None: ...

    def close(self) -> None: ...


def _defuse(text: str) -> str:
    """Keep spreadsheet programs from reading respondent text as a formula."""
    return "'" + text if text.startswith(_FORMULA_START) else text


class _CsvSink:
    """UTF-8 with BOM, so Excel opens Chinese text correctly; days as YYYY-MM-DD."""

    def __init__(self, path: Path, header: Sequence[str]) -> None:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        self._file: IO[str] = os.fdopen(descriptor, "w", encoding="utf-8-sig", newline="")
        self._writer = csv.writer(self._file)
        self._writer.writerow(header)

    def write_rows(self, rows: Sequence[Sequence[CellValue]]) -> None:
        self._writer.writerows(
            [
                [
                    value.isoformat()
                    if isinstance(value, date)
                    else _defuse(value)
                    if isinstance(value, str)
                    else value
                    for value in row
                ]
                for row in rows
            ]
        )

    def close(self) -> None:
        self._file.close()


class _XlsxSink:
    """openpyxl in write-only mode: rows go to a temporary file, not into memory."""

    def __init__(self, path: Path, header: Sequence[str]) -> None:
        self._path = path
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.close(descriptor)  # openpyxl reopens it; the 0600 mode stays
        self._workbook = Workbook(write_only=True)
        sheet = self._workbook.create_sheet(title=SHEET_TITLE)
        assert isinstance(sheet, WriteOnlyWorksheet)
        self._sheet = sheet
        bold = Font(bold=True)
        sheet.append([self._cell(text, font=bold) for text in header])

    def _cell(self, value: CellValue, *, font: Font | None = None) -> Cell:
        if isinstance(value, str):
            cell = WriteOnlyCell(self._sheet, value=ILLEGAL_CHARACTERS_RE.sub("", value))
            cell.data_type = "s"  # never a formula, whatever the text starts with
        elif isinstance(value, date):
            cell = WriteOnlyCell(self._sheet, value=datetime.combine(value, time()))
            cell.number_format = "yyyy-mm-dd"
        else:
            cell = WriteOnlyCell(self._sheet, value=value)
        if font is not None:
            cell.font = font
        return cell

    def write_rows(self, rows: Sequence[Sequence[CellValue]]) -> None:
        for row in rows:
            self._sheet.append([self._cell(value) for value in row])

    def close(self) -> None:
        self._workbook.save(self._path)


async def export_submissions(
    db: Database,
    cipher: TextCipher,
    questionnaire: Questionnaire,
    out: Path,
    fmt: ExportFormat,
    *,
    campaign_id: str | None = None,
    chunk_size: int = CHUNK_SIZE,
) -> int:
    """Write every submission of `questionnaire` (optionally one campaign's) to `out`;
    return the number of rows written (the header not counted)."""
    if fmt not in ("csv", "xlsx"):
        raise ValueError(f"unknown export format {fmt!r}: use csv or xlsx")
    header = [column.header for column in export_columns(questionnaire)]
    partial = out.with_name(out.name + ".part")
    factory = _CsvSink if fmt == "csv" else _XlsxSink
    sink: _Sink = await asyncio.to_thread(factory, partial, header)
    written = 0
    try:
        async for chunk in iter_export_rows(
            db, cipher, questionnaire, campaign_id=campaign_id, chunk_size=chunk_size
        ):
            numbered = [[written + offset + 1, *row] for offset, row in enumerate(chunk)]
            await asyncio.to_thread(sink.write_rows, numbered)
            written += len(chunk)
        await asyncio.to_thread(sink.close)
    except BaseException:
        await asyncio.to_thread(_discard, sink, partial)
        raise
    await asyncio.to_thread(os.replace, partial, out)
    return written


def _discard(sink: _Sink, partial: Path) -> None:
    try:
        sink.close()
    finally:
        partial.unlink(missing_ok=True)
