"""The shipped questionnaire costs few presses: walked through the real conversation core
(as tests/conversation/test_core.py drives it), a cadre who types nothing finishes — every
press from the welcome's consent to submit counted — in at most 25 presses when meeting every
problem often, and in at most 12 when meeting none (using the grid's fill button)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.config import DEFAULT_QUESTIONNAIRE
from bot.conversation.core import Conversation
from bot.conversation.model import (
    Act,
    Action,
    AnswerPress,
    Cadre,
    ConversationKey,
    Option,
    Press,
    Replace,
    Retire,
    Screen,
    Show,
    Start,
)
from bot.conversation.state import MemoryStates
from bot.questionnaire import load_questionnaire
from storage.database import Database
from storage.repositories import (
    SubmissionRepository,
)
from storage.tables import submissions
from tests.conversation.test_core import open_services

ZONE = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 2, 3, 0, tzinfo=UTC)
KEY = ConversationKey("pseudonym-of-one-chat")
EVERY_PROBLEM_BUDGET = 25
NO_PROBLEM_BUDGET = 12


@dataclass
class Walk:
    """A channel in miniature that counts the cadre's presses."""

    core: Conversation
    database: Database
    submissions: SubmissionRepository
    cadre: Cadre
    screens: dict[int, Screen] = field(default_factory=dict)
    presses: int = 0
    asked: list[str] = field(default_factory=list)
    last_ref: int = 100

    async def run(self, event: Start | Press, ref: int) -> list[object]:
        effects = await self.core.handle(event, self.cadre)
        for effect in effects:
            match effect:
                case Show():
                    self.last_ref += 1
                    self.screens[self.last_ref] = effect.screen
                    if effect.current:
                        await self.core.screen_shown(self.cadre, self.last_ref)
                case Replace():
                    self.screens[ref] = effect.screen
                case Retire():
                    self.screens.pop(effect.ref, None)
        return list(effects)

    @property
    def current(self) -> int:
        """The newest screen with options (older ones lose theirs)."""
        return max(ref for ref, screen in self.screens.items() if screen.rows or screen.grid)

    @property
    def screen(self) -> Screen:
        return self.screens[self.current]

    async def press(self, wanted: Callable[[Option], bool]) -> None:
        option = next((o for o in self.screen.options if wanted(o)), None)
        assert option is not None, f"no such option on {self.screen.body[:120]}"
        self.presses += 1
        effects = await self.run(Press(option.action, self.current), self.current)
        assert sum(isinstance(e, AnswerPress) for e in effects) == 1, "one answer per press"

    def has(self, act: Act) -> bool:
        return any(o.action.act == act for o in self.screen.options)


def _is(act: Act, value: str | None = None) -> Callable[[Option], bool]:
    def wanted(option: Option) -> bool:
        action: Action = option.action
        return action.act == act and (value is None or action.value == value)

    return wanted


def _cell(cells: tuple[Option, ...], value: str) -> Callable[[Option], bool]:
    """The cell of one grid row holding `value`."""

    def wanted(option: Option) -> bool:
        return option in cells and option.action.value == value

    return wanted


@pytest.fixture
async def walk(migrated_sqlite_url: str) -> AsyncIterator[Walk]:
    """The real core on the real services with the shipped questionnaire."""
    shipped = load_questionnaire(DEFAULT_QUESTIONNAIRE)
    async with open_services(migrated_sqlite_url, shipped) as services:

        def daily(purpose: str, day: date) -> str:
            return services.pseudonymizer.daily(purpose, day, 4242)

        cadre = Cadre(KEY, "zh-CN", MemoryStates().of(KEY), daily)
        yield Walk(services.core(), services.database, services.submissions, cadre)


async def _walk_through(walk: Walk, frequency: str) -> dict[str, object]:
    """Consent, then: every frequency row `frequency` (the fill button for "never"), Done
    on the grids, the first choice of a single question, skip anything else; submit.
    Returns the stored answers."""
    await walk.run(Start(1, subscribed=False), 1)
    await walk.press(_is(Act.CONSENT))
    while not walk.has(Act.SUBMIT):
        screen = walk.screen
        question = next(o.action.question for o in screen.options if o.action.question)
        walk.asked.append(question.split(".")[0])
        if screen.grid and question.startswith("freq"):
            if frequency == "never":
                await walk.press(_is(Act.FILL))
            else:
                for number in range(len(walk.screen.grid)):
                    row = walk.screen.grid[number]
                    if not row.answered:
                        await walk.press(_cell(row.options, frequency))
            await walk.press(_is(Act.DONE))
        elif screen.grid:
            await walk.press(_is(Act.DONE))  # impact: optional rows, nothing rated
        elif walk.has(Act.ANSWER):
            await walk.press(_is(Act.ANSWER))
        else:
            await walk.press(_is(Act.SKIP))
        assert len(walk.asked) < 40, "the walk does not end"
    await walk.press(_is(Act.SUBMIT))
    assert walk.has(Act.RECEIPT_SAVED), "submitted: the receipt is shown"
    assert await walk.submissions.count() == 1
    (submission_id,) = await _ids(walk)
    stored = await walk.submissions.get(submission_id)
    assert stored is not None and stored.questionnaire_version == 2
    return dict(stored.answers)


async def _ids(walk: Walk) -> list[str]:
    async with walk.database.engine.connect() as connection:
        return list((await connection.execute(select(submissions.c.id))).scalars())


async def test_a_cadre_meeting_every_problem_often_finishes_within_25_presses(
    walk: Walk,
) -> None:
    answers = await _walk_through(walk, "often")

    print(f"every problem often: {walk.presses} presses, asked {walk.asked}")
    assert walk.presses <= EVERY_PROBLEM_BUDGET
    assert walk.asked[:4] == ["unit_type", "post_level", "freq", "impact"]
    assert "examples" in walk.asked and "burden_source" in walk.asked
    assert {answers[f"freq.p{n}"] for n in range(1, 11)} == {"often"}


async def test_a_cadre_meeting_no_problem_finishes_within_12_presses(walk: Walk) -> None:
    answers = await _walk_through(walk, "never")

    print(f"no problem: {walk.presses} presses, asked {walk.asked}")
    assert walk.presses <= NO_PROBLEM_BUDGET
    # nothing to rate, pick or trace back: those questions are not asked at all
    assert not {"impact", "examples", "burden_source"} & set(walk.asked)
    assert {answers[f"freq.p{n}"] for n in range(1, 11)} == {"never"}
