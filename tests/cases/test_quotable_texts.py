"""Quotes chosen by people: staff mark free-text answers as quotable, and a later report reads
back only the marked texts, scrubbed, with nothing that points at a report or its author (no
submission id, day, unit or post level), in an order that says nothing about arrival."""

from __future__ import annotations

import dataclasses
import random
import secrets
from collections.abc import AsyncIterator, Iterator, Mapping
from datetime import date

import pytest

from bot.anonymity.crypto import TextCipher
from bot.cases import screens
from bot.cases.callbacks import CaseAct, CaseCallback
from bot.config import DEFAULT_QUESTIONNAIRE
from bot.i18n import make_i18n
from bot.questionnaire import load_questionnaire
from bot.statuses import CaseStatus
from storage.database import Database
from storage.repositories import (
    CaseDetail,
    CaseRepository,
    CaseSummary,
    NewSubmission,
    StoredSubmission,
    SubmissionRepository,
)
from storage.repositories.submissions import QuotableText

FIRST = date(2026, 11, 1)
LAST = date(2026, 11, 30)
TEXTS = frozenset({"p1_example", "suggestion"})


@pytest.fixture
async def database(db_url: str) -> AsyncIterator[Database]:
    db = await Database.connect(db_url)
    try:
        await db.upgrade()
        yield db
    finally:
        await db.dispose()


@pytest.fixture
def cipher() -> TextCipher:
    return TextCipher(secrets.token_bytes(32))


async def _store(
    repository: SubmissionRepository,
    answers: Mapping[str, str],
    *,
    day: date = FIRST,
    campaign_id: str | None = "c1",
    questionnaire_id: str = "q",
) -> str:
    return await repository.store(
        NewSubmission(
            questionnaire_id=questionnaire_id,
            questionnaire_version=1,
            answers={**answers, "unit_level": "township"},
            text_question_ids=TEXTS & set(answers),
            day=day,
            receipt_hash=secrets.token_hex(32),
            campaign_id=campaign_id,
        )
    )


async def _mark(cases: CaseRepository, submission_id: str, *question_ids: str) -> None:
    for question_id in question_ids:
        assert await cases.set_quotable(submission_id, question_id, 0, True)


async def test_only_marked_texts_of_the_campaign_and_days_come_back(
    database: Database, cipher: TextCipher
) -> None:
    submissions = SubmissionRepository(database, cipher)
    cases = CaseRepository(database, cipher)
    inside = await _store(submissions, {"p1_example": "每周三个会", "suggestion": "少开会"})
    await _mark(cases, inside, "suggestion")
    also = await _store(submissions, {"suggestion": "多下村，电话13912345678"}, day=LAST)
    await _mark(cases, also, "suggestion")
    unmarked = await _store(submissions, {"suggestion": "没有标记的建议"})
    assert unmarked
    for other in (
        await _store(submissions, {"suggestion": "太晚了"}, day=date(2026, 12, 1)),
        await _store(submissions, {"suggestion": "太早了"}, day=date(2026, 10, 31)),
        await _store(submissions, {"suggestion": "别的活动"}, campaign_id="c2"),
        await _store(submissions, {"suggestion": "活动之外"}, campaign_id=None),
        await _store(submissions, {"suggestion": "别的问卷"}, questionnaire_id="other"),
    ):
        await _mark(cases, other, "suggestion")
    assert not await cases.set_quotable(inside, "unit_level", 0, True)  # a choice: never

    found = await submissions.quotable_texts("q", campaign_id="c1", first_day=FIRST, last_day=LAST)
    assert sorted(found, key=lambda q: q.text) == sorted(
        [QuotableText("suggestion", "少开会"), QuotableText("suggestion", "多下村，电话[手机号]")],
        key=lambda q: q.text,
    )
    outside = await submissions.quotable_texts(
        "q", campaign_id=None, first_day=FIRST, last_day=LAST
    )
    assert outside == [QuotableText("suggestion", "活动之外")]


async def test_a_quote_carries_only_its_question_and_text(
    database: Database, cipher: TextCipher
) -> None:
    assert [f.name for f in dataclasses.fields(QuotableText)] == ["question_id", "text"]
    submissions = SubmissionRepository(database, cipher)
    submission_id = await _store(submissions, {"suggestion": "把时间还给群众"})
    await _mark(CaseRepository(database, cipher), submission_id, "suggestion")
    (quote,) = await submissions.quotable_texts(
        "q", campaign_id="c1", first_day=FIRST, last_day=LAST
    )
    assert dataclasses.astuple(quote) == ("suggestion", "把时间还给群众")
    assert submission_id not in repr(quote) and "township" not in repr(quote)


async def test_the_order_comes_from_the_injected_random_source_not_arrival(
    database: Database, cipher: TextCipher
) -> None:
    cases = CaseRepository(database, cipher)
    texts = [f"建议{i:02d}" for i in range(12)]
    for text in random.Random(3).sample(texts, len(texts)):  # stored in no particular order
        submission_id = await _store(SubmissionRepository(database, cipher), {"suggestion": text})
        await _mark(cases, submission_id, "suggestion")

    async def read(seed: int) -> list[str]:
        repository = SubmissionRepository(database, cipher, rng=random.Random(seed))
        found = await repository.quotable_texts(
            "q", campaign_id="c1", first_day=FIRST, last_day=LAST
        )
        return [q.text for q in found]

    expected = sorted(texts)
    random.Random(7).shuffle(expected)  # content order, shuffled: storage order plays no part
    assert await read(7) == expected == await read(7)
    assert await read(8) != expected and sorted(await read(8)) == sorted(texts)


# --- the case screen ---------------------------------------------------------------------


@pytest.fixture
def english() -> Iterator[None]:
    i18n = make_i18n("en")
    with i18n.context(), i18n.use_locale("en"):
        yield


def _screen(quotable: frozenset[str]) -> screens.Screen:
    summary = CaseSummary("s" * 32, "abcd2345", CaseStatus.NEW, FIRST, FIRST, ())
    submission = StoredSubmission(
        id="s" * 32,
        questionnaire_id="q",
        questionnaire_version=1,
        campaign_id=None,
        day=FIRST,
        answers={"suggestion": "少开会", "p1_example": "三个会", "unit_level": "township"},
        text_question_ids=TEXTS,
        quotable_question_ids=quotable,
    )
    questionnaire = load_questionnaire(DEFAULT_QUESTIONNAIRE)
    return screens.case_screen(CaseDetail(summary, []), submission, questionnaire, 0)


def _quote_buttons(screen: screens.Screen) -> dict[str, CaseCallback]:
    assert screen.markup is not None
    return {
        b.text: CaseCallback.unpack(b.callback_data)
        for row in screen.markup.inline_keyboard
        for b in row
        if b.callback_data
        and CaseCallback.unpack(b.callback_data).a in (CaseAct.QUOTE, CaseAct.UNQUOTE)
    }


def test_each_free_text_answer_gets_its_own_button(english: None) -> None:
    buttons = _quote_buttons(_screen(frozenset()))
    assert len(buttons) == 2  # the two texts; the choice gets none
    assert {d.a for d in buttons.values()} == {CaseAct.QUOTE}
    assert sorted(d.s for d in buttons.values()) == ["0", "1"]
    assert all(text.startswith("Quotable: ") for text in buttons)
    assert "(marked quotable)" not in _screen(frozenset()).text


def test_a_marked_text_says_so_and_offers_to_unmark(english: None) -> None:
    screen = _screen(frozenset({"suggestion"}))
    assert "少开会 (marked quotable)" in screen.text
    assert "三个会 (marked quotable)" not in screen.text
    buttons = _quote_buttons(screen)
    unmark = [d for d in buttons.values() if d.a == CaseAct.UNQUOTE]
    assert [screens.quote_keys(_stored())[int(d.s)] for d in unmark] == ["suggestion"]


def _stored() -> StoredSubmission:
    return StoredSubmission(
        id="s" * 32,
        questionnaire_id="q",
        questionnaire_version=1,
        campaign_id=None,
        day=FIRST,
        text_question_ids=TEXTS,
    )
