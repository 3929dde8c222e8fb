"""Exports of version 2: every grid row is a column of its own, headed by its key, holding
the cell's choice code (or the number); a multiple choice is one 0/1 column per option;
generalised to K like the rest."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from bot.anonymity.crypto import TextCipher
from bot.export import ExportOptions, export_columns, export_submissions
from bot.questionnaire import Questionnaire
from storage.database import Database
from tests.digest import v2
from tests.export.test_export import OTHER, column, groups, read_csv


def test_grid_rows_are_columns_headed_by_their_labels(questionnaire_v2: Questionnaire) -> None:
    headers = [c.header for c in export_columns(questionnaire_v2)]
    keys = [c.question_id for c in export_columns(questionnaire_v2)]
    assert "freq" not in keys and "impact" not in keys  # a grid itself holds no answer
    start = keys.index("freq.p1")
    assert keys[start : start + 10] == [f"freq.{row}" for row in v2.ROWS]
    assert keys[start + 10 : start + 20] == [f"impact.{row}" for row in v2.ROWS]
    assert headers[start : start + 10] == keys[start : start + 10]  # plain keys
    assert headers[start + 10] == "impact.p1"
    examples = [c for c in export_columns(questionnaire_v2) if c.question_id == "examples"]
    assert [c.header for c in examples] == [
        f"examples.{choice}" for choice in questionnaire_v2.question("examples").choice_ids
    ]
    assert not any(key is not None and key.endswith("_example") for key in keys)
    with_text = [c.question_id for c in export_columns(questionnaire_v2, with_text=True)]
    assert {"p10_example", "measures_other", "suggestion"} <= set(with_text)


async def test_a_v2_export_holds_the_rows_in_words_generalised_to_k(
    database: Database, cipher: TextCipher, questionnaire_v2: Questionnaire, tmp_path: Path
) -> None:
    await v2.store_dataset(database, cipher, questionnaire_v2)
    out = tmp_path / "v2.csv"

    result = await export_submissions(
        database, cipher, questionnaire_v2, out, "csv", ExportOptions(until=None, with_text=True)
    )

    rows = read_csv(out)
    header, body = rows[0], rows[1:]
    assert (result.rows, result.suppressed) == (18, 0)
    assert header == [c.header for c in export_columns(questionnaire_v2, with_text=True)]
    assert groups(header, body) == {
        ("区直部门", "一般干部", "2026-11-23"): 5,  # s1–s5
        (OTHER, OTHER, "2026-11-23"): 7,  # s6–s12: the smaller groups merged
        (OTHER, OTHER, "2026-11-16"): 6,
    }
    week = [row for row in body if row[1] == "2026-11-23"]
    assert Counter(row[column(header, "freq.p4")] for row in week) == {
        "sometimes": 5,
        "very_often": 7,
    }
    assert Counter(row[column(header, "freq.p10")] for row in body) == {"": 18}
    assert Counter(row[column(header, "impact.p1")] for row in week) == Counter(
        ["", "", "", "", "", "1", "2", "3", "4", "5", "5", "5"]
    )
    assert Counter(row[column(header, "change_since")] for row in week) == {
        "no_change": 6,
        "somewhat_lighter": 5,
        "heavier": 1,
    }
    county, town = column(header, "burden_source.county"), column(header, "burden_source.town")
    assert Counter((row[county], row[town]) for row in week) == {
        ("", ""): 4,  # not answered
        ("1", "0"): 5,
        ("1", "1"): 3,
    }
    p1, p2 = column(header, "examples.p1"), column(header, "examples.p2")
    assert sum(int(row[p1] or 0) for row in week) == 4
    assert sum(int(row[p2] or 0) for row in week) == 1
