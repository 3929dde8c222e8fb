"""The follow-up service without Telegram: same work and a padded latency for right and
wrong codes, a daily try limit under a daily pseudonym, receipts refused in answers."""

from __future__ import annotations

import secrets
import time
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.anonymity.crypto import TextCipher
from bot.anonymity.pseudonym import Pseudonymizer
from bot.anonymity.receipt import new_receipt_code, receipt_hash
from bot.cases.followup import (
    Answered,
    FollowupService,
    Opened,
    ReceiptRefused,
    ReportGone,
    TooManyTries,
    WrongCode,
)
from bot.conversation.model import Cadre, ConversationKey
from bot.conversation.state import MemoryState
from storage.database import Database
from storage.repositories import (
    CaseRepository,
    NewSubmission,
    RateLimitRepository,
    SubmissionRepository,
)
from storage.tables import rate_counters

SECRET = secrets.token_bytes(32)
PSEUDONYMS = Pseudonymizer(SECRET)


def _person(user_id: int) -> Cadre:
    """A cadre as the Telegram channel describes one: daily pseudonyms of the user id."""

    def daily(purpose: str, day: date) -> str:
        return PSEUDONYMS.daily(purpose, day, user_id)

    return Cadre(ConversationKey(f"key-{user_id}"), "zh-CN", MemoryState(), daily)


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 2, 3, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def database(sqlite_url: str) -> AsyncIterator[Database]:
    db = await Database.connect(sqlite_url)
    try:
        await db.upgrade()
        yield db
    finally:
        await db.dispose()


async def _service(database: Database, clock: Clock) -> tuple[FollowupService, str]:
    cipher = TextCipher(secrets.token_bytes(32))
    submissions = SubmissionRepository(database, cipher)
    code = new_receipt_code()
    await submissions.store(
        NewSubmission(
            questionnaire_id="q",
            questionnaire_version=1,
            answers={"p1_freq": "often"},
            text_question_ids=frozenset(),
            day=clock().date(),
            receipt_hash=receipt_hash(code, SECRET),
        )
    )
    service = FollowupService(
        submissions,
        CaseRepository(database, cipher),
        RateLimitRepository(database),
        SECRET,
        zone=ZoneInfo("Asia/Shanghai"),
        clock=clock,
        min_seconds=0.05,
    )
    return service, code


async def test_right_and_wrong_codes_take_the_padded_time(database: Database) -> None:
    clock = Clock()
    service, code = await _service(database, clock)
    for attempt, expected in (
        (code.lower().replace("-", " "), Opened),
        ("AAAA-BBBB-CCCC-DDDD-EEEE", WrongCode),
        ("hello", WrongCode),
    ):
        started = time.monotonic()
        result = await service.open(_person(42), attempt)
        assert isinstance(result, expected)
        assert time.monotonic() - started >= 0.05


async def test_five_tries_a_day_then_tomorrow_again(database: Database) -> None:
    clock = Clock()
    service, code = await _service(database, clock)
    for _ in range(5):
        assert isinstance(await service.open(_person(7), "nope"), WrongCode)
    assert isinstance(await service.open(_person(7), code), TooManyTries)  # even the right one
    assert isinstance(await service.open(_person(8), code), Opened)  # another person: free
    async with database.engine.connect() as connection:
        keys = (await connection.execute(select(rate_counters.c.key))).scalars().all()
    assert all(key != "7" and len(key) == 64 for key in keys)  # pseudonyms, not ids
    clock.now += timedelta(days=1)
    assert isinstance(await service.open(_person(7), code), Opened)


async def test_answers_are_scrubbed_and_receipts_refused(database: Database) -> None:
    clock = Clock()
    service, code = await _service(database, clock)
    opened = await service.open(_person(1), code)
    assert isinstance(opened, Opened)
    assert isinstance(await service.answer(opened.receipt_hash, f"看 {code}"), ReceiptRefused)
    assert isinstance(
        await service.answer(opened.receipt_hash, f"看 {new_receipt_code()}"), ReceiptRefused
    )
    result = await service.answer(opened.receipt_hash, "电话 13912345678")
    assert isinstance(result, Answered) and result.masked == ("phone",)
    report = await service.report(opened.receipt_hash)
    assert report is not None and len(report.thread) == 1
    assert "13912345678" not in report.thread[0].text
    assert isinstance(await service.answer("0" * 64, "x"), ReportGone)
    assert await service.report("0" * 64) is None
