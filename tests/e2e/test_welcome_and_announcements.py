"""The welcome tells the truth, and announcements are the cadre's own choice.

The welcome shows the questionnaire's own intro, its real length (checked against the
engine's shortest and longest walk), the configured K, what Telegram knows, and what opting
in to announcements stores. Nothing subscribes a chat except the button; a second /start of a
subscribed chat does not touch its row (same `xmin` on PostgreSQL), and the row carries the
month only.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, text
from sqlalchemy.sql.expression import Executable

from bot.harness.emulator import ChatMessage, EmulatedUser
from bot.harness.offline import OfflineBot
from bot.questionnaire import Question, Questionnaire
from bot.questionnaire.engine import Draft, Engine
from bot.respondent.callbacks import Act
from storage.tables import subscribers
from tests.e2e.conftest import StartOffline
from tests.e2e.driver import (
    WAIT,
    answer_until_review,
    opt_in,
    start_questionnaire,
    submit,
    tap,
)

pytestmark = pytest.mark.usefixtures("manual_digests")

# Claims an earlier welcome made that no test proves (or that are false).
OVER_CLAIMS = (
    "无法和您本人对应",
    "没有人能知道",
    "完全匿名",
    "只能看到汇总",
    "调研人员只看到总数",
    "5–8 分钟",
    "大约五分钟",
    "Nothing links your answers to you",
    "see totals only",
)


# What a tap or a line of typing takes, in seconds (optional text: most leave it).
_SECONDS = {"single": 6, "scale": 6, "multi": 10, "number": 10}
_GRID_SECONDS = 4
_REQUIRED_TEXT_SECONDS = 60


def _walk(questionnaire: Questionnaire, frequency: str) -> tuple[list[Question], dict[str, Any]]:
    """The questions asked, and the answers standing, when every problem of the freq grid is
    met at `frequency`, every impact is 3 and every problem that can have an example gets
    one picked (so every branch the answers allow is open): the engine's own walk."""
    answers: dict[str, Any] = {}
    for question in questionnaire.questions:
        if question.type == "grid":
            cell = frequency if question.cells_are_choices else 3
            answers.update(dict.fromkeys(question.row_keys, cell))
    answers["examples"] = list(questionnaire.question("examples").choice_ids)
    engine = Engine(questionnaire)
    asked = [questionnaire.question(qid) for qid in engine.relevant_question_ids(answers)]
    draft = Draft(questionnaire.id, questionnaire.version, answers)
    return asked, engine.relevant_answers(draft)


def _walk_minutes(questionnaire: Questionnaire, frequency: str) -> int:
    """That walk's length at the per-answer times above, rounded up to whole minutes."""
    asked, standing = _walk(questionnaire, frequency)
    seconds = 0
    for question in asked:
        if question.type == "grid":
            rows = sum(1 for key in question.row_keys if key in standing)
            seconds += _GRID_SECONDS * (1 + rows)
        elif question.type == "text":
            seconds += _REQUIRED_TEXT_SECONDS if question.required else 0
        else:
            seconds += _SECONDS[question.type]
    return math.ceil(seconds / 60)


def _typed_share(questionnaire: Questionnaire, frequency: str) -> tuple[int, int]:
    """Typed questions and all questions asked in that walk with no example picked."""
    asked, _ = _walk(questionnaire, frequency)
    asked = [q for q in asked if not q.id.endswith("_example")]
    return sum(1 for q in asked if q.type in ("text", "number")), len(asked)


async def _welcome(user: EmulatedUser) -> ChatMessage:
    sent = await user.send_command("/start")
    return await user.wait_for_message(after=sent, timeout=WAIT)


async def _subscriber_rows(offline: OfflineBot) -> list[Any]:
    assert offline.services is not None
    database = offline.services.database
    async with database.engine.connect() as connection:
        query: Executable
        if database.engine.dialect.name == "postgresql":
            query = text(
                "SELECT chat_hash, chat_id_enc, locale, active, since_day, xmin::text AS xmin, "
                "xmax::text AS xmax FROM subscribers"
            )
        else:
            query = select(subscribers)
        return list((await connection.execute(query)).all())


def _announcement_button(message: ChatMessage) -> str | None:
    for row in message.buttons:
        for button in row:
            if (button.callback_data or "").startswith("ann:"):
                return button.text
    return None


async def test_the_welcome_shows_intro_real_length_k_and_what_opting_in_stores(
    start_offline: StartOffline,
) -> None:
    offline = await start_offline(k_anonymity=7)
    assert offline.services is not None
    questionnaire = offline.services.questionnaire
    user = offline.new_user()
    welcome = await _welcome(user)
    shown = welcome.text or ""

    for line in questionnaire.intro_for("zh-CN").splitlines():
        assert line in shown
    # The length shown is the engine's estimate, and it lies between the shortest walk
    # (no problem met) and the longest (every problem met almost daily, every branch open).
    minutes = Engine(questionnaire).estimated_minutes()
    fewest = _walk_minutes(questionnaire, "never")
    most = _walk_minutes(questionnaire, "very_often")
    assert (fewest, minutes, most) == (2, 3, 3)  # the shipped questionnaire, walked
    assert f"约 {minutes} 分钟" in shown
    # "Most questions take a tap": true whether no problem or every problem is met.
    for frequency in ("never", "very_often"):
        typed, asked = _typed_share(questionnaire, frequency)
        assert 2 * typed < asked, frequency
    assert "点一下按钮" in shown
    assert "不足 7 人的分组不会显示" in shown
    assert "调研组会逐份阅读答卷" in shown and "看不到是谁写的" in shown
    assert "Telegram 知道谁在和本机器人对话" in shown
    assert "通知默认关闭" in shown
    for stored in ("加密的聊天编号", "语言", "订阅月份", "没有任何关联", "/stop"):
        assert stored in shown, stored
    assert _announcement_button(welcome) == "🔔 接收调查通知"

    sent = await user.send_command("/privacy")
    privacy = await user.wait_for_message(after=sent, timeout=WAIT)
    for text_ in (shown, privacy.text or ""):
        for claim in OVER_CLAIMS:
            assert claim not in text_, claim
    assert "不足 7 人" in (privacy.text or "") and "订阅月份" in (privacy.text or "")
    assert _announcement_button(privacy) == "🔔 接收调查通知"

    english = offline.new_user(language_code="en")
    shown_en = (await _welcome(english)).text or ""
    assert questionnaire.intro_for("en").splitlines()[0] in shown_en
    assert f"About {minutes} min" in shown_en and "fewer than 7 people" in shown_en


async def test_nothing_but_the_button_subscribes(start_offline: StartOffline) -> None:
    offline = await start_offline()
    user = offline.new_user()
    await _welcome(user)
    for command in ("/help", "/privacy", "/stop", "/language"):
        sent = await user.send_command(command)
        await user.wait_for_message(after=sent, timeout=WAIT)
    handle = await user.press("English")
    await handle.wait_answered(WAIT)
    await user.wait_for_message(contains="Language set", timeout=WAIT)
    await start_questionnaire(user)
    await tap(user, Act.SKIP)
    await answer_until_review(user)
    await submit(user)
    assert await _subscriber_rows(offline) == []


async def test_the_button_subscribes_in_the_month_and_stop_deletes(
    start_offline: StartOffline,
) -> None:
    offline = await start_offline()
    user = offline.new_user()
    welcome = await _welcome(user)
    handle = await user.press("🔔 接收调查通知", welcome)
    await handle.wait_answered(WAIT)
    confirmation = await user.wait_for_message(contains="已开启通知", after=welcome, timeout=WAIT)
    assert "加密的聊天编号" in (confirmation.text or "")
    # The pressed keyboard now offers the way back.
    await user.wait_for(
        lambda u: _announcement_button(u.message(welcome.message_id)) == "🔕 不再接收通知",  # type: ignore[arg-type]
        WAIT,
    )
    rows = await _subscriber_rows(offline)
    assert offline.services is not None
    today = offline.services.survey.today()
    assert [(row.locale, row.active, row.since_day) for row in rows] == [
        ("zh-CN", True, today.replace(day=1))
    ]
    assert await offline.services.subscribers.active_chat_ids() == [user.chat_id]
    assert _announcement_button(await _welcome(user)) == "🔕 不再接收通知"

    sent = await user.send_command("/stop")
    stopped = await user.wait_for_message(after=sent, timeout=WAIT)
    assert "已关闭通知" in (stopped.text or "")
    assert await _subscriber_rows(offline) == []
    sent = await user.send_command("/stop")
    again = await user.wait_for_message(after=sent, timeout=WAIT)
    assert "没有开启通知" in (again.text or "")

    # On, then off with the button.
    welcome = await _welcome(user)
    handle = await user.press("🔔 接收调查通知", welcome)
    await handle.wait_answered(WAIT)
    await user.wait_for_message(contains="已开启通知", after=welcome, timeout=WAIT)
    await user.wait_for(
        lambda u: _announcement_button(u.message(welcome.message_id)) == "🔕 不再接收通知",  # type: ignore[arg-type]
        WAIT,
    )
    handle = await user.press("🔕 不再接收通知", welcome)
    await handle.wait_answered(WAIT)
    await user.wait_for_message(contains="已关闭通知", after=welcome, timeout=WAIT)
    assert await _subscriber_rows(offline) == []


class _Clock:
    """A wall clock the test moves: the bot reads it for days and months."""

    def __init__(self, start: datetime) -> None:
        self.moment = start

    def __call__(self) -> datetime:
        return self.moment


async def test_start_again_does_not_rewrite_the_subscriber_row(
    db_url: str, start_offline: StartOffline
) -> None:
    clock = _Clock(datetime(2026, 3, 17, 10, 30, tzinfo=ZoneInfo("Asia/Shanghai")))
    now: Callable[[], datetime] = clock
    offline = await start_offline(database_url=db_url, now=now)
    user = offline.new_user()
    await opt_in(user)
    [before] = await _subscriber_rows(offline)
    assert before.since_day == date(2026, 3, 1)

    clock.moment += timedelta(days=30)  # next month: a rewrite would show a new month
    welcome = await _welcome(user)
    assert _announcement_button(welcome) == "🔕 不再接收通知"
    # A stale "on" button pressed again, and the same language chosen again.
    handle = await user.press_data("ann:1", welcome.message_id)
    answer = await handle.wait_answered(WAIT)
    assert answer.text and "已经开启" in answer.text
    sent = await user.send_command("/language")
    menu = await user.wait_for_message(after=sent, timeout=WAIT)
    handle = await user.press("中文", menu)
    await handle.wait_answered(WAIT)
    await user.wait_for_message(contains="语言已设为", after=menu, timeout=WAIT)
    await start_questionnaire(user)
    await answer_until_review(user)
    await submit(user)

    [after] = await _subscriber_rows(offline)
    assert tuple(after) == tuple(before)  # same bytes, same day — and on PostgreSQL same xmin
    if db_url.startswith("postgresql"):
        assert (after.xmin, after.xmax) == (before.xmin, before.xmax)  # not even locked
