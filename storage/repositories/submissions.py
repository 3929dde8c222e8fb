"""Anonymous submissions: a random id, a day, the answers; nothing about who sent them."""

from __future__ import annotations

import random
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import String, cast, func, select
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.anonymity.crypto import TextCipher
from bot.anonymity.scrubber import scrub
from storage.database import Database
from storage.repositories.cases import insert_case
from storage.tables import answers, submissions

AnswerValue = str | int | list[str]

# Built once: a submit runs them with its own values (a fresh statement costs its cache key).
_INSERT_SUBMISSION = submissions.insert()
_INSERT_ANSWERS = answers.insert()


def answer_text_context(submission_id: str, question_id: str, ordinal: int) -> str:
    """What an answer's free text is bound to: its own row. Copied to another submission,
    question or ordinal, the blob no longer decrypts (question ids go last: they are the only
    part that could hold a colon)."""
    return f"answers.text_enc:{submission_id}:{ordinal}:{question_id}"


@dataclass(frozen=True)
class NewSubmission:
    """What the survey hands over on submit.

    `answers` maps question ids to a choice id or free text (`str`, told apart by
    `text_question_ids`), a number or scale value (`int`) or the choices of a multiple-choice
    question (`list[str]`; an empty list means "not answered" and is not stored).
    """

    questionnaire_id: str
    questionnaire_version: int
    answers: Mapping[str, AnswerValue]
    text_question_ids: frozenset[str]
    day: date
    receipt_hash: str
    campaign_id: str | None = None


@dataclass(frozen=True)
class StoredSubmission:
    """A submission read back, free text decrypted; `answers` has the shape it was given in."""

    id: str
    questionnaire_id: str
    questionnaire_version: int
    campaign_id: str | None
    day: date
    answers: dict[str, AnswerValue] = field(default_factory=dict)
    text_question_ids: frozenset[str] = frozenset()
    quotable_question_ids: frozenset[str] = frozenset()  # free texts staff marked as quotable


@dataclass(frozen=True)
class QuotableText:
    """A free text staff marked as quotable, for a report: which question, and the scrubbed
    text. Nothing else on purpose: no submission id, day, unit or post level of its author."""

    question_id: str
    text: str


def new_submission_id() -> str:
    """128 random bits as hex: ids reveal neither order nor volume (unlike a sequence)."""
    return secrets.token_hex(16)


class SubmissionRepository:
    """Stores submissions atomically and reads them back for digests, exports and follow-ups."""

    def __init__(
        self, db: Database, cipher: TextCipher, *, rng: random.Random | None = None
    ) -> None:
        self._db = db
        self._cipher = cipher
        self._rng = rng or random.SystemRandom()

    async def store(self, new: NewSubmission, *, connection: AsyncConnection | None = None) -> str:
        """Store the submission, all its answers and its case in one transaction (the caller's
        `connection` when given, e.g. with the daily limit); return its random id.

        Free text is scrubbed again here (scrubbing is idempotent) so that no caller can store
        a phone number by forgetting to, then encrypted.
        """
        if not new.receipt_hash:
            raise ValueError("a submission needs a receipt hash")
        if isinstance(new.day, datetime):
            raise TypeError("day must be a date: no time of day is ever stored")
        submission_id = new_submission_id()
        rows = list(self._answer_rows(submission_id, new))
        async with self._db.transaction(connection) as connection:
            await connection.execute(
                _INSERT_SUBMISSION,
                {
                    "id": submission_id,
                    "questionnaire_id": new.questionnaire_id,
                    "questionnaire_version": new.questionnaire_version,
                    "campaign_id": new.campaign_id,
                    "day": new.day,
                    "receipt_hash": new.receipt_hash,
                },
            )
            if rows:
                await connection.execute(_INSERT_ANSWERS, rows)
            # Every submission is a case for investigators, in the same transaction.
            await insert_case(connection, submission_id, new.day)
        return submission_id

    def _answer_rows(self, submission_id: str, new: NewSubmission) -> Iterable[dict[str, Any]]:
        for question_id, value in new.answers.items():
            base: dict[str, Any] = {
                "submission_id": submission_id,
                "question_id": question_id,
                "multi": False,
                "choice": None,
                "number": None,
                "text_enc": None,
            }
            if question_id in new.text_question_ids:
                if not isinstance(value, str):
                    raise TypeError(f"answer to text question {question_id!r} must be a str")
                context = answer_text_context(submission_id, question_id, 0)
                encrypted = self._cipher.encrypt(scrub(value).text, context=context)
                yield {**base, "ordinal": 0, "text_enc": encrypted}
            elif isinstance(value, bool):
                raise TypeError(f"answer to {question_id!r} is a bool; use a choice id")
            elif isinstance(value, int):
                yield {**base, "ordinal": 0, "number": value}
            elif isinstance(value, str):
                yield {**base, "ordinal": 0, "choice": value}
            elif isinstance(value, list):
                unique = list(dict.fromkeys(value))
                for ordinal, choice in enumerate(unique):
                    if not isinstance(choice, str):
                        raise TypeError(f"choices of {question_id!r} must be str")
                    yield {**base, "ordinal": ordinal, "multi": True, "choice": choice}
            else:
                raise TypeError(f"unsupported answer type for {question_id!r}")

    async def get(self, submission_id: str) -> StoredSubmission | None:
        """The submission with its answers, or None."""
        async with self._db.engine.connect() as connection:
            head = (
                await connection.execute(
                    select(submissions).where(submissions.c.id == submission_id)
                )
            ).first()
            if head is None:
                return None
            answer_rows = (
                await connection.execute(
                    select(answers)
                    .where(answers.c.submission_id == submission_id)
                    .order_by(answers.c.question_id, answers.c.ordinal)
                )
            ).all()
        return self._assemble(head, answer_rows)

    async def count(self) -> int:
        async with self._db.engine.connect() as connection:
            total = await connection.scalar(select(func.count()).select_from(submissions))
        return int(total or 0)

    async def count_on(self, day: date, campaign_id: str | None) -> int:
        """Reports stored on `day` in the campaign (None: outside any campaign): for a daily
        cap, which needs nothing about who sent them."""
        campaign = (
            submissions.c.campaign_id.is_(None)
            if campaign_id is None
            else submissions.c.campaign_id == campaign_id
        )
        query = (
            select(func.count()).select_from(submissions).where(submissions.c.day == day, campaign)
        )
        async with self._db.engine.connect() as connection:
            total = await connection.scalar(query)
        return int(total or 0)

    async def find_by_receipt(self, receipt_hash: str) -> str | None:
        """The id of the submission whose receipt hashes to `receipt_hash`, if any."""
        async with self._db.engine.connect() as connection:
            found = await connection.scalar(
                select(submissions.c.id).where(submissions.c.receipt_hash == receipt_hash)
            )
        return found

    async def answer_counts(
        self,
        question_id: str,
        *,
        first_day: date | None = None,
        last_day: date | None = None,
    ) -> dict[str, int]:
        """How many submissions gave each choice (or each number, as text) to a question.

        Free text is not counted. Callers that show these numbers must apply k-anonymity.
        """
        value = func.coalesce(answers.c.choice, cast(answers.c.number, String))
        query = (
            select(value.label("value"), func.count().label("n"))
            .where(answers.c.question_id == question_id, answers.c.text_enc.is_(None))
            .group_by(value)
        )
        if first_day is not None or last_day is not None:
            query = query.join(submissions, submissions.c.id == answers.c.submission_id)
            if first_day is not None:
                query = query.where(submissions.c.day >= first_day)
            if last_day is not None:
                query = query.where(submissions.c.day <= last_day)
        async with self._db.engine.connect() as connection:
            result = await connection.execute(query)
            return {str(row.value): int(row.n) for row in result}

    async def quotable_texts(
        self,
        questionnaire_id: str,
        *,
        campaign_id: str | None,
        first_day: date,
        last_day: date,
    ) -> list[QuotableText]:
        """The free texts staff marked as quotable in the campaign (None: outside any) between
        the two days (inclusive), scrubbed again, in a shuffled order.

        The rows are first sorted by their content, then shuffled with the injected random
        source: the order says nothing about when the reports arrived or how they are stored.
        """
        query = (
            select(
                answers.c.submission_id,
                answers.c.question_id,
                answers.c.ordinal,
                answers.c.text_enc,
            )
            .join(submissions, submissions.c.id == answers.c.submission_id)
            .where(
                answers.c.quotable.is_(True),
                answers.c.text_enc.is_not(None),
                submissions.c.questionnaire_id == questionnaire_id,
                submissions.c.day >= first_day,
                submissions.c.day <= last_day,
                submissions.c.campaign_id.is_(None)
                if campaign_id is None
                else submissions.c.campaign_id == campaign_id,
            )
        )
        async with self._db.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        texts = sorted(
            (
                QuotableText(
                    row.question_id,
                    scrub(
                        self._cipher.decrypt(
                            row.text_enc,
                            context=answer_text_context(
                                row.submission_id, row.question_id, row.ordinal
                            ),
                        )
                    ).text,
                )
                for row in rows
            ),
            key=lambda quote: (quote.question_id, quote.text),
        )
        self._rng.shuffle(texts)
        return texts

    def _assemble(self, head: Row[Any], rows: Sequence[Row[Any]]) -> StoredSubmission:
        decoded: dict[str, AnswerValue] = {}
        text_ids: set[str] = set()
        quotable_ids: set[str] = set()
        for row in rows:
            if row.text_enc is not None:
                context = answer_text_context(row.submission_id, row.question_id, row.ordinal)
                decoded[row.question_id] = self._cipher.decrypt(row.text_enc, context=context)
                text_ids.add(row.question_id)
                if row.quotable:
                    quotable_ids.add(row.question_id)
            elif row.number is not None:
                decoded[row.question_id] = int(row.number)
            elif row.multi:
                chosen = decoded.get(row.question_id)
                if isinstance(chosen, list):
                    chosen.append(row.choice)
                else:
                    decoded[row.question_id] = [row.choice]
            else:
                decoded[row.question_id] = row.choice
        return StoredSubmission(
            id=head.id,
            questionnaire_id=head.questionnaire_id,
            questionnaire_version=head.questionnaire_version,
            campaign_id=head.campaign_id,
            day=head.day,
            answers=decoded,
            text_question_ids=frozenset(text_ids),
            quotable_question_ids=frozenset(quotable_ids),
        )
