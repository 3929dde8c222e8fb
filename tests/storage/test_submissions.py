"""Submissions: atomic, random ids, free text scrubbed and encrypted, answers read back intact."""

from __future__ import annotations

import math
from collections import Counter
from datetime import date, datetime
from typing import Any

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.anonymity.crypto import TextCipher
from storage.database import Database
from storage.repositories import NewSubmission, SubmissionRepository
from storage.tables import answers, submissions
from tests.storage.at_rest import assert_at_rest, assert_not_at_rest

DAY = date(2024, 11, 29)
SECRET_TEXT = "乡镇每周要报三张内容重复的表格，县里从来不看"
ANSWERS: dict[str, str | int | list[str]] = {
    "role": "township_cadre",  # single choice
    "burdens": ["forms", "meetings", "apps"],  # multiple choice
    "only_one": ["forms"],  # multiple choice with a single pick
    "severity": 4,  # scale
    "hours": 12,  # number
    "story": SECRET_TEXT,  # free text
}
TEXT_IDS = frozenset({"story"})


def submission(**changes: Any) -> NewSubmission:
    values: dict[str, Any] = {
        "questionnaire_id": "formalism",
        "questionnaire_version": 3,
        "answers": ANSWERS,
        "text_question_ids": TEXT_IDS,
        "day": DAY,
        "receipt_hash": "a" * 64,
    }
    values.update(changes)
    return NewSubmission(**values)


@pytest.fixture
def repository(database: Database, cipher: TextCipher) -> SubmissionRepository:
    return SubmissionRepository(database, cipher)


async def row_counts(database: Database) -> tuple[int, int]:
    async with database.engine.connect() as connection:
        heads = await connection.scalar(select(func.count()).select_from(submissions))
        rows = await connection.scalar(select(func.count()).select_from(answers))
    return int(heads or 0), int(rows or 0)


async def test_a_full_submission_round_trips(repository: SubmissionRepository) -> None:
    submission_id = await repository.store(submission(campaign_id="spring-2025"))
    stored = await repository.get(submission_id)
    assert stored is not None
    assert stored.id == submission_id
    assert stored.answers == ANSWERS
    assert stored.text_question_ids == TEXT_IDS
    assert (stored.questionnaire_id, stored.questionnaire_version) == ("formalism", 3)
    assert (stored.day, stored.campaign_id) == (DAY, "spring-2025")
    assert await repository.get("0" * 32) is None


async def test_free_text_is_encrypted_at_rest(
    database: Database, repository: SubmissionRepository
) -> None:
    await repository.store(submission())
    async with database.engine.connect() as connection:
        blob = await connection.scalar(
            select(answers.c.text_enc).where(answers.c.question_id == "story")
        )
    assert isinstance(blob, bytes)
    assert SECRET_TEXT.encode() not in blob
    await assert_not_at_rest(database, SECRET_TEXT, SECRET_TEXT[:8])
    await assert_at_rest(database, "township_cadre")  # the check can see what is stored


async def test_free_text_is_scrubbed_again_before_storing(repository: SubmissionRepository) -> None:
    text = "我的电话13800138000，邮箱li@example.com"
    submission_id = await repository.store(submission(answers={"story": text}))
    stored = await repository.get(submission_id)
    assert stored is not None
    assert stored.answers == {"story": "我的电话[手机号]，邮箱[邮箱]"}


async def test_ids_are_random_not_sequential(repository: SubmissionRepository) -> None:
    ids = [
        await repository.store(submission(receipt_hash=f"{n:064x}", answers={"role": "x"}))
        for n in range(50)
    ]
    assert len(set(ids)) == 50
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in ids)
    assert ids != sorted(ids) and ids != sorted(ids, reverse=True)
    # No two share a long prefix (as consecutive or time-based ids would).
    assert max(len(_common_prefix(a, b)) for a in ids for b in ids if a != b) < 8
    counts = Counter("".join(ids))
    entropy = -sum(n / 1600 * math.log2(n / 1600) for n in counts.values())
    assert entropy > 3.9  # bits per hex digit; 4 is the maximum


def _common_prefix(a: str, b: str) -> str:
    length = 0
    while length < len(a) and a[length] == b[length]:
        length += 1
    return a[:length]


async def test_a_constraint_failure_midway_leaves_nothing(
    database: Database, repository: SubmissionRepository, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = repository._answer_rows

    def rows_with_a_bad_last_one(submission_id: str, new: NewSubmission) -> Any:
        rows = list(original(submission_id, new))
        # Neither choice, number nor text: violates ck_answers_exactly_one_value.
        rows.append(
            {
                **rows[0],
                "question_id": "zz_broken",
                "choice": None,
                "number": None,
                "text_enc": None,
            }
        )
        return rows

    monkeypatch.setattr(repository, "_answer_rows", rows_with_a_bad_last_one)
    with pytest.raises(IntegrityError):
        await repository.store(submission())
    assert await row_counts(database) == (0, 0)


async def test_a_crash_between_statements_leaves_nothing(
    database: Database, repository: SubmissionRepository, monkeypatch: pytest.MonkeyPatch
) -> None:
    original_execute = AsyncConnection.execute

    async def crash_on_answers(
        self: AsyncConnection, statement: Any, *args: Any, **kwargs: Any
    ) -> Any:
        if getattr(statement, "table", None) is answers:
            raise RuntimeError("power cut")
        return await original_execute(self, statement, *args, **kwargs)

    monkeypatch.setattr(AsyncConnection, "execute", crash_on_answers)
    with pytest.raises(RuntimeError, match="power cut"):
        await repository.store(submission())
    monkeypatch.undo()
    assert await row_counts(database) == (0, 0)
    assert await repository.count() == 0


async def test_receipt_lookup_and_uniqueness(
    database: Database, repository: SubmissionRepository
) -> None:
    first = await repository.store(submission(receipt_hash="b" * 64))
    assert await repository.find_by_receipt("b" * 64) == first
    assert await repository.find_by_receipt("c" * 64) is None
    with pytest.raises((IntegrityError, DBAPIError)):
        await repository.store(submission(receipt_hash="b" * 64))
    assert await row_counts(database) == (1, len(ANSWERS) + 2)  # lists take a row per choice
    assert await repository.count() == 1


async def test_answer_counts_for_digests(repository: SubmissionRepository) -> None:
    picks = [(["forms", "meetings"], 4, DAY), (["forms"], 5, DAY), (["apps"], 4, date(2024, 12, 2))]
    for n, (burdens, severity, day) in enumerate(picks):
        await repository.store(
            submission(
                receipt_hash=f"{n:064x}",
                day=day,
                answers={"burdens": burdens, "severity": severity, "story": "略"},
            )
        )
    assert await repository.answer_counts("burdens") == {"forms": 2, "meetings": 1, "apps": 1}
    assert await repository.answer_counts("severity") == {"4": 2, "5": 1}
    assert await repository.answer_counts("story") == {}  # free text is never counted
    assert await repository.answer_counts("burdens", first_day=date(2024, 12, 1)) == {"apps": 1}
    assert await repository.answer_counts("burdens", last_day=DAY) == {"forms": 2, "meetings": 1}


async def test_deleting_a_submission_deletes_its_answers(
    database: Database, repository: SubmissionRepository
) -> None:
    await repository.store(submission(receipt_hash="1" * 64, day=date(2023, 1, 1)))
    kept = await repository.store(submission(receipt_hash="2" * 64, day=DAY))
    async with database.engine.begin() as connection:
        await connection.execute(delete(submissions).where(submissions.c.day < date(2024, 1, 1)))
    assert await row_counts(database) == (1, len(ANSWERS) + 2)
    assert (await repository.get(kept)) is not None


@pytest.mark.parametrize(
    ("answers_given", "text_ids"),
    [
        ({"consent": True}, frozenset()),
        ({"story": ["a", "b"]}, frozenset({"story"})),
        ({"burdens": ["forms", 3]}, frozenset()),
        ({"weird": 1.5}, frozenset()),
    ],
)
async def test_malformed_answers_are_refused_and_nothing_is_stored(
    database: Database,
    repository: SubmissionRepository,
    answers_given: dict[str, Any],
    text_ids: frozenset[str],
) -> None:
    with pytest.raises(TypeError):
        await repository.store(submission(answers=answers_given, text_question_ids=text_ids))
    assert await row_counts(database) == (0, 0)


async def test_a_time_of_day_is_refused(
    database: Database, repository: SubmissionRepository
) -> None:
    with pytest.raises(TypeError, match="date"):
        await repository.store(submission(day=datetime(2024, 11, 29, 23, 59)))
    assert await row_counts(database) == (0, 0)


async def test_duplicate_and_empty_choices(repository: SubmissionRepository) -> None:
    submission_id = await repository.store(
        submission(answers={"burdens": ["forms", "forms", "apps"], "none": []})
    )
    stored = await repository.get(submission_id)
    assert stored is not None
    assert stored.answers == {"burdens": ["forms", "apps"]}
