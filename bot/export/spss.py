"""An export as an SPSS .sav file (pyreadstat): variable labels are the questions' zh-CN
wording, a single choice is numbered 1..n in choice order with its zh-CN labels as value
labels (the codebook holds the same mapping), multi-choice options are 0/1, numbers are
numeric; the generalised groups, the week and free text are strings.

pyreadstat writes from a DataFrame, so the rows are held in memory until `close` (a few
hundred bytes per submission)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

from bot.export.codebook import LOCALE, TICKED, Column, wording

_STRING_KINDS = frozenset({"week", "group", "text"})


class SavSink:
    """Collects the rows, then writes them with their labels on `close`."""

    def __init__(self, path: Path, columns: Sequence[Column]) -> None:
        self._path = path
        self._columns = list(columns)
        self._codes = [column.spss_codes() for column in self._columns]
        self._data: list[list[Any]] = [[] for _ in self._columns]
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))

    def _value(self, index: int, value: object) -> Any:
        column = self._columns[index]
        if column.kind in _STRING_KINDS:
            if value is None:
                return ""
            return value.isoformat() if isinstance(value, date) else str(value)
        if column.kind == "single":
            code = self._codes[index].get(str(value)) if value is not None else None
            return float("nan") if code is None else float(code)
        return float("nan") if value is None else float(str(value))

    def write_rows(self, rows: Sequence[Sequence[object]]) -> None:
        for row in rows:
            for index, value in enumerate(row):
                self._data[index].append(self._value(index, value))

    def close(self) -> None:
        # Imported here: pandas and pyreadstat weigh ~60 MB, and only an export needs them.
        import pandas as pd
        import pyreadstat

        headers = [column.header for column in self._columns]
        frame = pd.DataFrame(
            {
                header: pd.Series(
                    values, dtype=object if column.kind in _STRING_KINDS else "float64"
                )
                for header, column, values in zip(headers, self._columns, self._data, strict=True)
            }
        )
        value_labels: dict[str, dict[int | float, str]] = {}
        for column, codes in zip(self._columns, self._codes, strict=True):
            if column.kind == "option":
                value_labels[column.header] = {code: zh for code, (zh, _en) in TICKED.items()}
            elif codes and column.answer_field is not None:
                value_labels[column.header] = {
                    number: column.answer_field.choice_label(choice, LOCALE)
                    for choice, number in codes.items()
                }
        pyreadstat.write_sav(
            frame,
            str(self._path),
            column_labels=[wording(column, LOCALE) for column in self._columns],
            variable_value_labels=value_labels,
        )
