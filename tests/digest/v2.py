"""The hand-made data set as version 2 of the questionnaire would have stored it: problem N's
frequency under the grid row "freq.pN", its impact under "impact.pN" (asked only when met
often or more), its example after picking it in `examples`; plus where the burden comes from
and how it changed."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any, Final

from bot.anonymity.crypto import TextCipher
from bot.digest.aggregate import HIGH_FREQUENCY
from bot.questionnaire import Questionnaire
from storage.database import Database
from storage.repositories import SubmissionRepository
from tests.digest import dataset
from tests.digest.dataset import PREVIOUS_WEEK, WEEK

ROWS: Final = ("p1", "p2", "p3", "p4", "p5", "p6", "p10", "p7", "p8", "p9")
_V1_KEY = re.compile(r"^(p\d+)_(freq|impact)$")
# s1–s12: 8 say the burden comes from the county (s5–s12), 3 from the town (s10–s12).
BURDEN: Final[list[list[str]]] = [[]] * 4 + [["county"]] * 5 + [["county", "town"]] * 3
# no_change 6, somewhat_lighter 5, heavier 1.
CHANGE: Final = ["no_change"] * 6 + ["somewhat_lighter"] * 5 + ["heavier"]


def as_v2(answers: dict[str, Any]) -> dict[str, Any]:
    """Version 1 answers in version 2's keys; impacts kept only where v2 asks them."""
    given: dict[str, Any] = {}
    for key, value in answers.items():
        match = _V1_KEY.match(key)
        if match is None:
            given[key] = value
        elif match.group(2) == "freq":
            given[f"freq.{match.group(1)}"] = value
        elif answers.get(f"{match.group(1)}_freq") in HIGH_FREQUENCY:
            given[f"impact.{match.group(1)}"] = value
    picked = [row for row in ROWS if f"{row}_example" in answers]
    if picked:
        given["examples"] = picked
    return given


def current_answers(index: int) -> dict[str, Any]:
    given = as_v2(dataset.current_answers(index))
    if BURDEN[index]:
        given["burden_source"] = BURDEN[index]
    given["change_since"] = CHANGE[index]
    return given


async def store_dataset(db: Database, cipher: TextCipher, questionnaire: Questionnaire) -> None:
    """The 12 + 6 submissions of `dataset`, on version 2."""
    repository = SubmissionRepository(db, cipher)
    for index in range(12):
        day = WEEK.first_day + timedelta(days=index % 7)
        await dataset.store(repository, questionnaire, current_answers(index), day)
    for index in range(6):
        day = PREVIOUS_WEEK.first_day + timedelta(days=index)
        await dataset.store(repository, questionnaire, as_v2(dataset.previous_answers(index)), day)
