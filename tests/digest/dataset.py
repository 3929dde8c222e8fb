"""A hand-made data set: 12 submissions in one week, 6 in the week before.

Read the rows as a table; `EXPECTED` in test_aggregate.py is worked out by hand from it
(K = 5). Submissions s1–s5 meet no problem often; s6–s12 meet at least one (p1 "often").
"""

from __future__ import annotations

import secrets
from datetime import date, timedelta
from typing import Any

from bot.anonymity.crypto import TextCipher
from bot.digest.period import Period
from bot.questionnaire import Questionnaire
from storage.database import Database
from storage.repositories import NewSubmission, SubmissionRepository

WEEK = Period("weekly", date(2026, 11, 23), date(2026, 11, 29))
PREVIOUS_WEEK = WEEK.previous()

FREQ = {"N": "never", "S": "sometimes", "O": "often", "V": "very_often"}

# Frequency of p1…p9 per submission ("-" = not answered), one column per submission s1…s12.
FREQUENCIES = {
    "p1": "SSSSS OOOOOOO",
    "p2": "NSSSS OOOOOVV",
    "p3": "NNNNN NNNSOOO",
    "p4": "SSSSS VVVVVVV",
    "p5": "NNNNN SSSSSVV",
    "p6": "NNNNN NNNNNNN",
    "p7": "NNNNN NSSSSSS",
    "p8": "NNSSS SSOOOOO",
    "p9": "SSSSS VVVVVV-",
}
# Impact (1–5) per submission; only stored where the frequency is not "never" / missing.
IMPACTS = {
    "p1": [1, 2, 3, 4, 5, 1, 2, 3, 4, 5, 5, 5],
    "p2": [4] * 12,
    "p3": [5] * 12,
    "p4": [3] * 12,
    "p5": [9, 9, 9, 9, 9, 2, 2, 2, 2, 2, 5, 5],  # s1–s5 answered "never": not stored
    "p6": [1] * 12,
    "p7": [1] * 12,
    "p8": [9, 9, 1, 2, 3, 4, 5, 1, 2, 3, 4, 5],
    "p9": [2] * 12,
}
MEETINGS = [0, 2, 4, 4, 6, 8, 10, 10, 12, 20, 60, None]
INSPECTIONS = [1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2]
DEADLINE = [
    "under_10",
    "under_10",
    "under_10",
    "under_10",
    "under_10",
    "from_10_to_30",
    "from_10_to_30",
    "from_10_to_30",
    "from_10_to_30",
    "from_10_to_30",
    "over_50",
    None,
]
MEASURES = [
    ["fewer_meetings_docs", "fewer_inspections", "no_trace_judging"],
    ["fewer_meetings_docs", "fewer_inspections", "no_trace_judging"],
    ["fewer_meetings_docs", "fewer_inspections", "no_trace_judging"],
    ["fewer_meetings_docs", "fewer_inspections", "no_trace_judging"],
    ["fewer_meetings_docs", "fewer_inspections", "grassroots_research"],
    ["fewer_meetings_docs", "fewer_inspections", "grassroots_research"],
    ["fewer_meetings_docs", "grassroots_research"],
    ["fewer_meetings_docs", "grassroots_research"],
    ["fewer_meetings_docs", "grassroots_research", "leaders_example"],
    [],
    [],
    [],
]
UNIT_TYPE = [
    "district_dept",
    "district_dept",
    "district_dept",
    "district_dept",
    "district_dept",
    "town_street",
    "town_street",
    "town_street",
    "village_community",
    "village_community",
    None,
    None,
]
POST_LEVEL = [
    "staff",
    "staff",
    "staff",
    "staff",
    "staff",
    "staff",
    "middle",
    "middle",
    "middle",
    "middle",
    "middle",
    "other",
]
LONG_EXAMPLE = "乡里要求每个村每周上报三张内容几乎一样的表格，" * 6
EXAMPLES: dict[int, dict[str, str]] = {
    6: {"p1_example": "上午刚开完会，下午又开会传达上午的会议精神"},
    7: {"p1_example": "2026年11月25日夜里下发通知，要求当日办结，联系13800138000"},
    8: {"p1_example": LONG_EXAMPLE},
    9: {"p1_example": "文件层层转发，最后没有人落实"},
    10: {"p2_example": "每项工作都要拍照   留痕，\n工作群里接龙回复“收到”"},
}
# What the digest may show of them (scrubbed, dates masked, whitespace collapsed, ≤ 80 chars).
SHOWN_EXAMPLES = {
    "p1_example": {
        "上午刚开完会，下午又开会传达上午的会议精神",
        "某日夜里下发通知，要求当日办结，联系[手机号]",
        LONG_EXAMPLE[:79] + "…",
        "文件层层转发，最后没有人落实",
    },
    "p2_example": {"每项工作都要拍照 留痕， 工作群里接龙回复“收到”"},
}

# The previous week: six submissions, frequencies only.
PREVIOUS_FREQUENCIES = {
    "p1": "OOOSSS",
    "p2": "OOOOOO",
    "p3": "NNNNNN",
    "p4": "SSSSSS",
    "p5": "NNNNNN",
    "p6": "NNNNNN",
    "p7": "NNNNNN",
    "p8": "OOOOOO",
    "p9": "NNNNNN",
}


def current_answers(index: int) -> dict[str, Any]:
    """Answers of submission s{index + 1}."""
    given: dict[str, Any] = {}
    for problem, column in FREQUENCIES.items():
        letter = column.replace(" ", "")[index]
        if letter == "-":
            continue
        given[f"{problem}_freq"] = FREQ[letter]
        if letter != "N":
            given[f"{problem}_impact"] = IMPACTS[problem][index]
    optional = {
        "unit_type": UNIT_TYPE[index],
        "post_level": POST_LEVEL[index],
        "meetings_month": MEETINGS[index],
        "inspections_month": INSPECTIONS[index],
        "deadline_share": DEADLINE[index],
    }
    given.update({key: value for key, value in optional.items() if value is not None})
    if MEASURES[index]:
        given["measures"] = MEASURES[index]
    given.update(EXAMPLES.get(index + 1, {}))
    return given


def previous_answers(index: int) -> dict[str, Any]:
    return {
        f"{problem}_freq": FREQ[column[index]] for problem, column in PREVIOUS_FREQUENCIES.items()
    }


async def store(
    repository: SubmissionRepository,
    questionnaire: Questionnaire,
    answers: dict[str, Any],
    day: date,
    *,
    campaign_id: str | None = None,
    questionnaire_id: str | None = None,
) -> str:
    return await repository.store(
        NewSubmission(
            questionnaire_id=questionnaire_id or questionnaire.id,
            questionnaire_version=questionnaire.version,
            answers=answers,
            text_question_ids=questionnaire.text_question_ids,
            day=day,
            receipt_hash=secrets.token_hex(32),
            campaign_id=campaign_id,
        )
    )


async def store_dataset(db: Database, cipher: TextCipher, questionnaire: Questionnaire) -> None:
    """The 12 + 6 submissions, spread over the days of each week, plus noise that a digest
    of WEEK must ignore: another questionnaire's submission and a day after the week."""
    repository = SubmissionRepository(db, cipher)
    for index in range(12):
        day = WEEK.first_day + timedelta(days=index % 7)
        await store(repository, questionnaire, current_answers(index), day)
    for index in range(6):
        day = PREVIOUS_WEEK.first_day + timedelta(days=index)
        await store(repository, questionnaire, previous_answers(index), day)
    await store(
        repository, questionnaire, current_answers(6), WEEK.first_day, questionnaire_id="other"
    )
    await store(repository, questionnaire, current_answers(6), WEEK.last_day + timedelta(days=1))
