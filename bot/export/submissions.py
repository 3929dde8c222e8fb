"""One row per submission, one column per question, streamed in chunks.

What an export holds: a row number within this export, the submission's **week** (its
Monday's date, or "YYYY-MM" where the week had to be widened), and every answer as a code
(see `bot.export.codebook`): a single choice or a grid row ("freq.p3") as its choice id, a
multiple choice as one 0/1 column per option, numbers as numbers, the grouping answers in
words as generalised; with a codebook (a sheet of the XLSX, a ".codebook.csv" file beside a
CSV or SAV) that says what every column and code means. `first_day` / `last_day` narrow an
export to whole weeks; the closed-weeks rule below applies all the same.
Free text is left out — its columns too — unless the caller asks for it (`with_text`), and
then it is decrypted and scrubbed again (scrubbing is idempotent).
An XLSX export also has a sheet of cross-tabs (each problem by each grouping question):
those of a digest of exactly the export's whole weeks and campaign (`export_crosstabs`), with
the digest's groups and suppression, so it shows nothing a digest of those days would not.

What it never holds: the submission id, the receipt hash, the campaign, the questionnaire
version, the day, or anything else that could single a report out or link it to a follow-up.

Three rules keep an export from isolating a report (see `bot.export.generalise`):

- **closed weeks only**: `until` (today, in TIMEZONE, for every caller but an explicit
  `--include-today`) excludes the week still running, and a month group appears only once
  its month has closed, so two exports made at different times differ by whole closed weeks
  (each of whose groups holds at least K rows), never by a day's one or two reports;
- **K rows per combination**: the grouping answers (unit type, post level) and the week are
  generalised until every (unit type, post level, week) combination holds at least K rows;
  rows whose group stays below K even as "其他/未填, 其他/未填, month" are left out (counted);
- **no order**: rows are sorted by their generalised group and, within it, by the random
  submission id — never by day or by insertion.

A submission whose free text cannot be decrypted (wrong key, damaged or moved blob) is left
out before the groups are counted and reported in `ExportResult.undecryptable`; the export
goes on. Only the ids and groups of the exported submissions are held in memory (about a
hundred bytes each); the answers are read in chunks.

Free text reaches spreadsheet programs, so text that starts like a formula (=, +, -, @) is
defused: CSV cells get a leading apostrophe, XLSX cells are written as plain strings.

Exports go to `<out>.part` (created owner-only, 0600) and are renamed into place when
complete, so a crash never leaves a half-written file under the final name.
"""

from __future__ import annotations

import asyncio
import csv
import os
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Final, Literal, Protocol, TypeAlias

from sqlalchemy import Select, func, select

from bot.anonymity.crypto import DecryptionError, TextCipher
from bot.anonymity.scrubber import scrub
from bot.digest.aggregate import DigestData, aggregate_digest
from bot.digest.period import Period
from bot.digest.render import group_label, grouping_name, problem_label
from bot.export.codebook import (
    CODEBOOK_HEADER,
    LEVEL_QUESTION,
    LOCALE,
    UNIT_QUESTION,
    Column,
    codebook_rows,
    export_columns,
)
from bot.export.generalise import OTHER, GroupKey, RawKey, generalise, week_of
from bot.export.spss import SavSink
from bot.questionnaire import AnswerField, Questionnaire
from storage.database import Database
from storage.repositories.submissions import answer_text_context
from storage.tables import answers, submissions

if TYPE_CHECKING:  # openpyxl (and numpy, lxml) is imported when an XLSX is written: ~30 MB
    from openpyxl.cell.cell import Cell
    from openpyxl.styles import Font
    from openpyxl.worksheet._write_only import WriteOnlyWorksheet

ExportFormat: TypeAlias = Literal["csv", "xlsx", "sav"]
EXPORT_FORMATS: Final[tuple[ExportFormat, ...]] = ("xlsx", "csv", "sav")
CellValue: TypeAlias = str | int | date | None

CHUNK_SIZE: Final = 1000
DEFAULT_K: Final = 5
SHEET_TITLE: Final = "反馈"
CODEBOOK_TITLE: Final = "codebook"
CROSSTAB_TITLE: Final = "交叉表"
CROSSTAB_HEADER: Final = ("grouping question", "group", "n", "problem", "column", "share")
CODEBOOK_SUFFIX: Final = ".codebook.csv"
_FORMULA_START: Final = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class ExportOptions:
    """What an export covers. `until`: pass today, and only the weeks closed before it are
    exported; None exports every day, today included (the operator's `--include-today`).
    `first_day` / `last_day` narrow it to the whole weeks that hold them."""

    until: date | None
    with_text: bool = False
    k: int = DEFAULT_K
    campaign_id: str | None = None
    first_day: date | None = None
    last_day: date | None = None


@dataclass(frozen=True)
class ExportResult:
    """Rows written, and what was left out: submissions whose free text could not be
    decrypted, and rows whose group stayed below K. `codebook`: the codebook file written
    beside a CSV or SAV export."""

    rows: int
    undecryptable: int = 0
    suppressed: int = 0
    pending: int = 0  # held back until their month closes (then they appear)
    codebook: Path | None = field(default=None, compare=False)


def codebook_path(out: Path) -> Path:
    """Where the codebook of a CSV or SAV export goes: FILE stem + ".codebook.csv"."""
    return out.with_name(out.stem + CODEBOOK_SUFFIX)


def _choice_label(answer_field: AnswerField, choice_id: str) -> str:
    try:
        return answer_field.choice_label(choice_id, LOCALE)
    except KeyError:
        return choice_id  # a choice an older questionnaire version offered


@dataclass(frozen=True)
class ExportPlan:
    """The submissions to export, in export order, each with its generalised group."""

    rows: list[tuple[str, GroupKey]]
    undecryptable: int
    suppressed: int
    pending: int = 0


def _scope(questionnaire: Questionnaire, options: ExportOptions) -> list[Any]:
    conditions: list[Any] = [submissions.c.questionnaire_id == questionnaire.id]
    if options.campaign_id is not None:
        conditions.append(submissions.c.campaign_id == options.campaign_id)
    if options.until is not None:
        conditions.append(submissions.c.day < week_of(options.until))
    if options.first_day is not None:
        conditions.append(submissions.c.day >= week_of(options.first_day))
    if options.last_day is not None:
        conditions.append(submissions.c.day < week_of(options.last_day) + timedelta(weeks=1))
    return conditions


def _in_scope(query: Select[Any], conditions: list[Any]) -> Select[Any]:
    return query.join(submissions, submissions.c.id == answers.c.submission_id).where(*conditions)


async def plan_export(
    db: Database, cipher: TextCipher, questionnaire: Questionnaire, options: ExportOptions
) -> ExportPlan:
    """Which submissions go out, in which generalised group, in which order.

    With `with_text`, every free text in scope is decrypted once here, so that a submission
    that cannot be read is left out *before* the groups are counted (a group never ends up
    below K because one of its rows was dropped later)."""
    conditions = _scope(questionnaire, options)
    async with db.engine.connect() as connection:
        heads = (
            await connection.execute(select(submissions.c.id, submissions.c.day).where(*conditions))
        ).all()
        grouping = (
            await connection.execute(
                _in_scope(
                    select(answers.c.submission_id, answers.c.question_id, answers.c.choice),
                    conditions,
                ).where(answers.c.question_id.in_([UNIT_QUESTION, LEVEL_QUESTION]))
            )
        ).all()
        unreadable: set[str] = set()
        if options.with_text:
            texts = await connection.stream(
                _in_scope(
                    select(
                        answers.c.submission_id,
                        answers.c.question_id,
                        answers.c.ordinal,
                        answers.c.text_enc,
                    ),
                    conditions,
                ).where(answers.c.text_enc.is_not(None))
            )
            async for row in texts:
                context = answer_text_context(row.submission_id, row.question_id, row.ordinal)
                try:
                    cipher.decrypt(row.text_enc, context=context)
                except DecryptionError:
                    unreadable.add(row.submission_id)
    chosen: dict[tuple[str, str], str] = {
        (row.submission_id, row.question_id): row.choice for row in grouping
    }
    raw_of: dict[str, RawKey] = {
        head.id: (
            chosen.get((head.id, UNIT_QUESTION)),
            chosen.get((head.id, LEVEL_QUESTION)),
            week_of(head.day),
        )
        for head in heads
        if head.id not in unreadable
    }
    return replace(plan_rows(raw_of, options.k, until=options.until), undecryptable=len(unreadable))


async def covered_days(
    db: Database, questionnaire: Questionnaire, options: ExportOptions
) -> Period | None:
    """The whole weeks an export covers, as a campaign-kind period (None: nothing in scope):
    from the first week holding a submission in scope to the last, within the closed weeks
    and the `first_day` / `last_day` the options allow."""
    conditions = _scope(questionnaire, options)
    async with db.engine.connect() as connection:
        first, last = (
            await connection.execute(
                select(func.min(submissions.c.day), func.max(submissions.c.day)).where(*conditions)
            )
        ).one()
    if first is None or last is None:
        return None
    return Period.campaign(week_of(first), week_of(last) + timedelta(days=6))


async def export_crosstabs(
    db: Database, cipher: TextCipher, questionnaire: Questionnaire, options: ExportOptions
) -> DigestData | None:
    """The cross-tabs of a digest of exactly the export's days and campaign, under the
    digest's own disclosure rules (the export adds no figure a digest of those days lacks);
    None when nothing is in scope."""
    period = await covered_days(db, questionnaire, options)
    if period is None:
        return None
    return await aggregate_digest(
        db,
        cipher,
        questionnaire,
        period,
        k=options.k,
        campaign_id=options.campaign_id,
        compare_with=None,
    )


@dataclass(frozen=True)
class CrosstabRow:
    """One group of one problem's cross-tab, as the cross-tab sheet shows it."""

    grouping: str
    group: str
    size: int
    problem: str
    column: str
    share: float | None
    """None when the digest suppresses it (the cell stays blank)."""


def crosstab_rows(data: DigestData | None, questionnaire: Questionnaire) -> list[CrosstabRow]:
    """The sheet's rows: grouping question, group (as digests label it), group size,
    problem, its answers column, share meeting it often or more (blank when suppressed)."""
    if data is None:
        return []
    rows: list[CrosstabRow] = []
    for table in data.crosstabs:
        grouping = grouping_name(questionnaire, table.breakdown_id, LOCALE)
        problem = problem_label(questionnaire, table.question_id, LOCALE, max_chars=None)
        for group in table.groups:
            rows.append(
                CrosstabRow(
                    grouping,
                    group_label(questionnaire, table.breakdown_id, group.group_id, LOCALE),
                    group.size,
                    problem,
                    table.question_id,
                    group.often_share,
                )
            )
    return rows


def plan_rows(raw_of: Mapping[str, RawKey], k: int, *, until: date | None) -> ExportPlan:
    """What an export made on `until` publishes of these submissions (id → raw
    combination): the groups, the order, and how many were left out or held back.

    Submissions of the week still running (or later) are not considered at all, the same
    rule as `plan_export`'s query, so that this function alone decides what an export made
    on a given day holds (the property tests call it directly)."""
    closed_before = None if until is None else week_of(until)
    in_scope = {
        submission_id: raw
        for submission_id, raw in raw_of.items()
        if closed_before is None or raw[2] < closed_before
    }
    generalisation = generalise(Counter(in_scope.values()), k, closed_before=closed_before)
    rows: list[tuple[str, GroupKey]] = []
    pending = 0
    for submission_id, raw in in_scope.items():
        group = generalisation.groups.get(raw)
        if group is not None:
            rows.append((submission_id, group))
        elif raw in generalisation.pending:
            pending += 1
    rows.sort(key=lambda item: (item[1].span, item[1].unit, item[1].level, item[0]))
    return ExportPlan(rows, 0, len(in_scope) - len(rows) - pending, pending)


def _grouping_label(answer_field: AnswerField, group_value: str) -> str:
    return OTHER if group_value == OTHER else _choice_label(answer_field, group_value)


async def iter_export_rows(
    db: Database,
    cipher: TextCipher,
    questionnaire: Questionnaire,
    plan: ExportPlan,
    *,
    with_text: bool = False,
    chunk_size: int = CHUNK_SIZE,
) -> AsyncIterator[list[list[CellValue]]]:
    """Chunks of rows (period, then one value per column of `export_columns` after the row
    number and week), in the plan's order. Answers under keys the questionnaire no longer has
    are left out; the grouping answers are shown as generalised by the plan."""
    if chunk_size < 1:
        raise ValueError("chunk_size must be at least 1")
    columns = export_columns(questionnaire, with_text=with_text)[2:]
    position: dict[tuple[str | None, str | None], int] = {}
    options_of: dict[str, list[int]] = defaultdict(list)
    for index, column in enumerate(columns):
        position[(column.question_id, column.choice_id)] = index
        if column.kind == "option" and column.question_id is not None:
            options_of[column.question_id].append(index)
    for start in range(0, len(plan.rows), chunk_size):
        part = plan.rows[start : start + chunk_size]
        ids = [submission_id for submission_id, _group in part]
        async with db.engine.connect() as connection:
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
        for submission_id, group in part:
            values: list[CellValue] = [None] * len(columns)
            for row in by_submission.get(submission_id, []):
                option_indexes = options_of.get(row.question_id)
                if option_indexes is not None:
                    for option in option_indexes:
                        if values[option] is None:
                            values[option] = 0
                    ticked = position.get((row.question_id, row.choice))
                    if ticked is not None:
                        values[ticked] = 1
                    continue
                found = position.get((row.question_id, None))
                if found is None or columns[found].kind == "group":
                    continue
                index = found
                if row.text_enc is not None:
                    context = answer_text_context(row.submission_id, row.question_id, row.ordinal)
                    values[index] = scrub(cipher.decrypt(row.text_enc, context=context)).text
                elif row.number is not None:
                    values[index] = int(row.number)
                else:
                    values[index] = row.choice
            for question_id, group_value in (
                (UNIT_QUESTION, group.unit),
                (LEVEL_QUESTION, group.level),
            ):
                at = position.get((question_id, None))
                answer_field = None if at is None else columns[at].answer_field
                if at is not None and answer_field is not None:
                    values[at] = _grouping_label(answer_field, group_value)
            chunk.append([group.span.label(), *values])
        yield chunk


# ---------------------------------------------------------------------------- writers


class _Sink(Protocol):
    def write_rows(self, rows: Sequence[Sequence[CellValue]]) -> None: ...

    def close(self) -> None: ...


def _defuse(text: str) -> str:
    """Keep spreadsheet programs from reading respondent text as a formula."""
    return "'" + text if text.startswith(_FORMULA_START) else text


def _owner_only(path: Path) -> None:
    """Create (or empty) `path` with mode 0600 before a library writes into it."""
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))


def _csv_cell(value: CellValue) -> CellValue:
    if isinstance(value, date):
        return value.isoformat()
    return _defuse(value) if isinstance(value, str) else value


def write_codebook_csv(path: Path, columns: Sequence[Column]) -> None:
    """The codebook as a CSV file (UTF-8 with BOM, owner-only)."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8-sig", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(CODEBOOK_HEADER)
        writer.writerows(codebook_rows(list(columns)))


class _CsvSink:
    """UTF-8 with BOM, so Excel opens Chinese text correctly; days as YYYY-MM-DD."""

    def __init__(self, path: Path, columns: Sequence[Column]) -> None:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        self._file: IO[str] = os.fdopen(descriptor, "w", encoding="utf-8-sig", newline="")
        self._writer = csv.writer(self._file)
        self._writer.writerow([column.header for column in columns])

    def write_rows(self, rows: Sequence[Sequence[CellValue]]) -> None:
        self._writer.writerows([[_csv_cell(value) for value in row] for row in rows])

    def close(self) -> None:
        self._file.close()


def _width(column: Column) -> float:
    """Wide enough for the header, and for a date or a code under it."""
    return float(min(max(len(column.header) + 2, 12 if column.kind == "week" else 8), 40))


#: Widths of the codebook sheet's columns (name, question, wording ×2, type, codes).
_CODEBOOK_WIDTHS: Final = (30.0, 18.0, 50.0, 50.0, 22.0, 80.0)
#: Widths of the cross-tab sheet's columns (grouping, group, n, problem, column, share).
_CROSSTAB_WIDTHS: Final = (16.0, 20.0, 8.0, 40.0, 14.0, 10.0)


class _XlsxSink:
    """openpyxl in write-only mode: rows go to a temporary file, not into memory. The
    answers sheet has a frozen, filtered header row; the codebook is a second sheet."""

    def __init__(self, path: Path, columns: Sequence[Column]) -> None:
        self._path = path
        self._columns = list(columns)
        self._rows = 1
        self._crosstabs: list[CrosstabRow] = []
        from openpyxl import Workbook

        _owner_only(path)  # openpyxl reopens it; the 0600 mode stays
        self._workbook = Workbook(write_only=True)
        self._sheet = self._new_sheet(
            SHEET_TITLE, [column.header for column in columns], [_width(c) for c in columns]
        )

    def _new_sheet(
        self, title: str, header: Sequence[str], widths: Sequence[float]
    ) -> WriteOnlyWorksheet:
        from openpyxl.styles import Font
        from openpyxl.utils import get_column_letter
        from openpyxl.worksheet._write_only import WriteOnlyWorksheet

        sheet = self._workbook.create_sheet(title=title)
        assert isinstance(sheet, WriteOnlyWorksheet)
        sheet.freeze_panes = "A2"
        layout: Any = sheet  # write-only sheets take widths and filters (untyped in stubs)
        for index, width in enumerate(widths, 1):
            layout.column_dimensions[get_column_letter(index)].width = width
        bold = Font(bold=True)
        sheet.append([self._cell(sheet, text, font=bold) for text in header])
        return sheet

    @staticmethod
    def _cell(sheet: WriteOnlyWorksheet, value: CellValue, *, font: Font | None = None) -> Cell:
        from openpyxl.cell import WriteOnlyCell
        from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

        if isinstance(value, str):
            cell = WriteOnlyCell(sheet, value=ILLEGAL_CHARACTERS_RE.sub("", value))
            cell.data_type = "s"  # never a formula, whatever the text starts with
        elif isinstance(value, date):
            cell = WriteOnlyCell(sheet, value=datetime.combine(value, time()))
            cell.number_format = "yyyy-mm-dd"
        else:
            cell = WriteOnlyCell(sheet, value=value)
        if font is not None:
            cell.font = font
        return cell

    def write_rows(self, rows: Sequence[Sequence[CellValue]]) -> None:
        for row in rows:
            self._sheet.append([self._cell(self._sheet, value) for value in row])
        self._rows += len(rows)

    def set_crosstabs(self, rows: Sequence[CrosstabRow]) -> None:
        """Rows of the cross-tab sheet, written after the codebook on `close`."""
        self._crosstabs = list(rows)

    def close(self) -> None:
        from openpyxl.cell import WriteOnlyCell
        from openpyxl.utils import get_column_letter

        last = get_column_letter(len(self._columns))
        answers_layout: Any = self._sheet
        answers_layout.auto_filter.ref = f"A1:{last}{self._rows}"
        entries = codebook_rows(self._columns)
        codebook = self._new_sheet(CODEBOOK_TITLE, CODEBOOK_HEADER, _CODEBOOK_WIDTHS)
        for entry in entries:
            codebook.append([self._cell(codebook, value) for value in entry])
        codebook_layout: Any = codebook
        codebook_layout.auto_filter.ref = f"A1:F{len(entries) + 1}"
        crosstabs = self._new_sheet(CROSSTAB_TITLE, CROSSTAB_HEADER, _CROSSTAB_WIDTHS)
        for row in self._crosstabs:
            values: tuple[CellValue, ...] = (row.grouping, row.group, row.size, row.problem)
            cells = [self._cell(crosstabs, value) for value in (*values, row.column)]
            share = WriteOnlyCell(crosstabs, value=row.share)
            share.number_format = "0%"
            crosstabs.append([*cells, share])
        crosstab_layout: Any = crosstabs
        crosstab_layout.auto_filter.ref = f"A1:F{len(self._crosstabs) + 1}"
        self._workbook.save(self._path)


async def export_submissions(
    db: Database,
    cipher: TextCipher,
    questionnaire: Questionnaire,
    out: Path,
    fmt: ExportFormat,
    options: ExportOptions,
    *,
    chunk_size: int = CHUNK_SIZE,
) -> ExportResult:
    """Write the submissions of `questionnaire` that `options` cover to `out`, generalised
    (see the module docstring); say how many rows were written and how many left out."""
    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"unknown export format {fmt!r}: use xlsx, csv or sav")
    columns = export_columns(questionnaire, with_text=options.with_text)
    plan = await plan_export(db, cipher, questionnaire, options)
    crosstabs = (
        crosstab_rows(await export_crosstabs(db, cipher, questionnaire, options), questionnaire)
        if fmt == "xlsx"
        else []
    )
    partial = out.with_name(out.name + ".part")
    factory: Callable[[Path, Sequence[Column]], _Sink] = _SINKS[fmt]
    sink = await asyncio.to_thread(factory, partial, columns)
    if isinstance(sink, _XlsxSink):
        sink.set_crosstabs(crosstabs)
    written = 0
    try:
        async for chunk in iter_export_rows(
            db, cipher, questionnaire, plan, with_text=options.with_text, chunk_size=chunk_size
        ):
            numbered = [[written + offset + 1, *row] for offset, row in enumerate(chunk)]
            await asyncio.to_thread(sink.write_rows, numbered)
            written += len(chunk)
        await asyncio.to_thread(sink.close)
    except BaseException:
        await asyncio.to_thread(_discard, sink, partial)
        raise
    codebook = None
    if fmt != "xlsx":
        codebook = codebook_path(out)
        await asyncio.to_thread(write_codebook_csv, codebook, columns)
    await asyncio.to_thread(os.replace, partial, out)
    return ExportResult(written, plan.undecryptable, plan.suppressed, plan.pending, codebook)


_SINKS: Final[dict[str, Callable[[Path, Sequence[Column]], _Sink]]] = {
    "csv": _CsvSink,
    "xlsx": _XlsxSink,
    "sav": SavSink,
}


def _discard(sink: _Sink, partial: Path) -> None:
    try:
        sink.close()
    finally:
        partial.unlink(missing_ok=True)
