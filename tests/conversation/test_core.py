"""The conversation core driven directly, as a channel would, with no chat framework: a whole
questionnaire with grids, a resume after a restart, scrubbing, a refused receipt code, cancel,
and a follow-up by receipt code — on the real services and a real (SQLite) database, with the
small questionnaire of `tests.conversation.questionnaires` (not the shipped one)."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from bot.anonymity.crypto import TextCipher
from bot.anonymity.pseudonym import Pseudonymizer
from bot.anonymity.receipt import normalize_receipt, receipt_hash
from bot.campaigns.service import CampaignService
from bot.cases.followup import FollowupService
from bot.cases.sessions import MemorySessions
from bot.conversation.core import DRAFT_KEY, Conversation
from bot.conversation.model import (
    Act,
    Action,
    AnswerPress,
    Cadre,
    Command,
    ConversationKey,
    DeleteMessage,
    DeleteSession,
    Effect,
    Event,
    Press,
    Replace,
    Retire,
    Screen,
    Show,
    Start,
    Text,
)
from bot.conversation.restore import CancelledDrafts
from bot.conversation.state import MemoryStates
from bot.questionnaire import Questionnaire
from bot.respondent.survey import SurveyService
from bot.staff.audited import AuditedActions
from bot.statuses import FollowupOrigin
from storage.database import Database
from storage.repositories import (
    AuditRepository,
    CaseRepository,
    RateLimitRepository,
    SubmissionRepository,
)
from storage.repositories.campaigns import CampaignRepository
from storage.repositories.questionnaire_versions import QuestionnaireVersionRepository
from tests.conversation.questionnaires import grid_questionnaire

ZONE = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 2, 3, 0, tzinfo=UTC)
KEY = ConversationKey("pseudonym-of-one-chat")
PHONE = "13912345678"


@dataclass
class Services:
    survey: SurveyService
    followup: FollowupService
    sessions: MemorySessions
    cases: CaseRepository
    submissions: SubmissionRepository
    pseudonymizer: Pseudonymizer
    database: Database
    clock: list[float] = field(default_factory=lambda: [1000.0])

    def monotonic(self) -> float:
        return self.clock[0]

    def core(self) -> Conversation:
        """A new core instance, as after a restart: it keeps nothing itself (a cancelled
        draft lives in its own memory only, on the settable clock)."""
        cancelled = CancelledDrafts(clock=self.monotonic)
        return Conversation(
            self.survey, self.followup, self.sessions, k_anonymity=5, cancelled=cancelled
        )


@contextlib.asynccontextmanager
async def open_services(url: str, questionnaire: Questionnaire) -> AsyncIterator[Services]:
    """Real services on the migrated database at `url`, for `questionnaire`."""
    database = await Database.connect(url)
    secret = secrets.token_bytes(32)
    cipher = TextCipher(secrets.token_bytes(32))
    pseudonymizer = Pseudonymizer(secret)
    submissions = SubmissionRepository(database, cipher)
    rate_limits = RateLimitRepository(database)
    versions = QuestionnaireVersionRepository(database)

    def today() -> date:
        return NOW.astimezone(ZONE).date()

    campaigns = CampaignService(
        CampaignRepository(database),
        versions,
        AuditedActions(database, AuditRepository(database), today),
        today,
    )
    survey = SurveyService(
        questionnaire,
        database,
        submissions,
        rate_limits,
        secret,
        campaigns,
        versions,
        max_per_day=3,
        zone=ZONE,
        now=lambda: NOW,
    )
    cases = CaseRepository(database, cipher)
    followup = FollowupService(
        submissions,
        cases,
        rate_limits,
        secret,
        zone=ZONE,
        clock=lambda: NOW,
        min_seconds=0.0,
    )
    sessions = MemorySessions(pseudonymizer, clock=lambda: NOW)
    try:
        yield Services(survey, followup, sessions, cases, submissions, pseudonymizer, database)
    finally:
        await database.dispose()


@pytest.fixture
async def services(migrated_sqlite_url: str) -> AsyncIterator[Services]:
    async with open_services(migrated_sqlite_url, grid_questionnaire()) as opened:
        yield opened


@dataclass
class Shown:
    screen: Screen
    protect: bool = False
    previews: bool = True


@dataclass
class Chat:
    """A channel in miniature: numbers messages in order, carries out effects, reports the
    current screen back to the core, as the Telegram adapter does."""

    core: Conversation
    states: MemoryStates
    pseudonymizer: Pseudonymizer
    messages: dict[int, Shown | str] = field(default_factory=dict)
    answers: list[AnswerPress] = field(default_factory=list)
    deleted: set[int] = field(default_factory=set)
    cleared: list[tuple[int, int]] = field(default_factory=list)
    last_ref: int = 100

    @property
    def cadre(self) -> Cadre:
        def daily(purpose: str, day: date) -> str:
            return self.pseudonymizer.daily(purpose, day, 4242)

        return Cadre(KEY, "en", self.states.of(KEY), daily)

    def _ref(self) -> int:
        self.last_ref += 1
        return self.last_ref

    async def _run(self, event: Event, ref: int) -> list[Effect]:
        effects = await self.core.handle(event, self.cadre)
        for effect in effects:
            match effect:
                case Show():
                    shown = self._ref()
                    self.messages[shown] = Shown(
                        effect.screen, effect.protect, effect.link_previews
                    )
                    if effect.current:
                        await self.core.screen_shown(self.cadre, shown)
                case Replace():
                    self.messages[ref] = Shown(effect.screen)
                case Retire():
                    old = self.messages[effect.ref]
                    assert isinstance(old, Shown)
                    retired = replace(old.screen, rows=(), grid=())
                    self.messages[effect.ref] = replace(old, screen=retired)
                case DeleteMessage():
                    self.deleted.add(ref)
                case DeleteSession():
                    self.cleared.append((effect.first, ref))
                case AnswerPress():
                    self.answers.append(effect)
        return effects

    async def start(self) -> list[Effect]:
        ref = self._ref()
        self.messages[ref] = "/start"
        return await self._run(Start(ref, subscribed=False), ref)

    async def type(self, body: str) -> list[Effect]:
        ref = self._ref()
        self.messages[ref] = body
        return await self._run(Text(body, ref), ref)

    async def command(self, name: str, args: str = "") -> list[Effect]:
        ref = self._ref()
        self.messages[ref] = f"/{name} {args}"
        return await self._run(Command(name, args, ref), ref)

    async def press(self, act: Act, value: str | None = None, *, on: int | None = None) -> int:
        """Press the option on message `on` (default: the newest with one); returns the
        message pressed on."""
        ref = on if on is not None else self.newest_with_options()
        shown = self.messages[ref]
        assert isinstance(shown, Shown)
        for option in shown.screen.options:
            if option.action.act == act and (value is None or option.action.value == value):
                before = len(self.answers)
                await self._run(Press(option.action, ref), ref)
                assert len(self.answers) == before + 1, "every press is answered once"
                return ref
        raise AssertionError(f"no {act} {value} option on {shown.screen.body[:80]}")

    def newest_with_options(self) -> int:
        return max(
            ref
            for ref, shown in self.messages.items()
            if isinstance(shown, Shown) and shown.screen.rows and ref not in self.deleted
        )

    def screen(self, ref: int | None = None) -> Screen:
        shown = self.messages[ref if ref is not None else self.newest_with_options()]
        assert isinstance(shown, Shown)
        return shown.screen

    def question(self) -> str | None:
        """The question id on the current screen (a grid's, not a row's); None on the
        review."""
        options = self.screen().options
        if any(o.action.act == Act.SUBMIT for o in options):
            return None
        return next(o.action.question for o in options if o.action.question).split(".")[0]

    def bot_texts(self) -> list[str]:
        return [m.screen.body for m in self.messages.values() if isinstance(m, Shown)]


def _chat(services: Services, states: MemoryStates | None = None) -> Chat:
    return Chat(services.core(), states or MemoryStates(), services.pseudonymizer)


async def _consent(chat: Chat) -> None:
    await chat.start()
    await chat.press(Act.CONSENT)
    assert chat.question() == "unit_type"


async def _press_on(chat: Chat) -> None:
    """One plain press: a grid's fill (else its first open row's first cell), Done, the
    first choice, or Skip where nothing else goes."""
    acts = {o.action.act for o in chat.screen().options}
    if Act.FILL in acts:
        await chat.press(Act.FILL)
    elif Act.CELL in acts and Act.DONE not in acts:
        row = next(r for r in chat.screen().grid if not r.answered)
        await chat.press(Act.CELL, row.options[0].action.value)
    elif Act.DONE in acts:
        await chat.press(Act.DONE)
    elif Act.ANSWER in acts:
        await chat.press(Act.ANSWER)
    else:
        await chat.press(Act.SKIP)


async def _answer_to(chat: Chat, question: str) -> None:
    """Press plain answers until `question` is the current one."""
    while chat.question() != question:
        assert chat.question() is not None, "reached the review first"
        await _press_on(chat)


async def test_a_whole_questionnaire_through_the_core(services: Services) -> None:
    chat = _chat(services)
    await _consent(chat)
    await chat.press(Act.ANSWER, "village")
    assert chat.question() == "freq"
    grid_on = chat.newest_with_options()
    screen = chat.screen()
    assert screen.progress is not None and screen.progress.label == "Part 2 of 4"
    assert [row.label for row in screen.grid] == [
        "Meetings about meetings",
        "Piling on targets",
        "Paper trails over results",
    ]

    # A cell: the grid is replaced in place, the press answered, nothing new shown.
    before = len(chat.messages)
    cell = next(o for o in screen.grid[0].options if o.action.value == "often")
    pressed = await chat._run(Press(cell.action, grid_on), grid_on)
    assert [type(e) for e in pressed] == [Replace, AnswerPress]
    assert len(chat.messages) == before and chat.newest_with_options() == grid_on
    assert chat.screen().grid[0].options[2].selected is True
    await chat.press(Act.FILL)  # the rest: never
    assert all(row.answered for row in chat.screen().grid)
    await chat.press(Act.DONE)
    assert chat.question() == "impact"
    impact = chat.screen()
    assert [row.label for row in impact.grid] == ["Meetings about meetings"]
    await chat.press(Act.CELL, "4")
    await chat.press(Act.DONE)
    assert chat.question() == "examples"
    assert [o.action.value for o in chat.screen().options if o.action.act == Act.TOGGLE] == ["p1"]
    await chat.press(Act.TOGGLE, "p1")
    await chat.press(Act.DONE)
    assert chat.question() == "p1_example"
    pressed_on = chat.newest_with_options()

    # A typed answer with a phone number: scrubbed before it is stored, the cadre is told,
    # their message deleted, and the next question shown below before the old one retires.
    typed = await chat.type(f"会议太多，有事打{PHONE}")
    assert typed[0] == DeleteMessage() and max(chat.deleted) == pressed_on + 1
    notice = next(e for e in typed if isinstance(e, Show) and not e.current)
    assert "a phone number" in notice.screen.body and PHONE not in notice.screen.body
    shown = next(i for i, e in enumerate(typed) if isinstance(e, Show) and e.current)
    assert typed.index(Retire(pressed_on)) > shown
    assert chat.question() == "meetings_month"
    stored = await chat.states.stored(KEY)
    assert PHONE not in str(stored) and "会议太多" in str(stored)

    # Back, then skip the optional example.
    await chat.press(Act.BACK)
    assert chat.question() == "p1_example"
    assert "Current answer" in chat.screen().body
    await chat.press(Act.SKIP)
    assert chat.question() == "meetings_month"

    # A press on a retired screen is stale.
    before = len(chat.answers)
    await chat._run(Press(Action(Act.ANSWER, "p1_example", "x"), pressed_on), pressed_on)
    refusal = chat.answers[before].text
    assert refusal is not None and "older message" in refusal

    # A receipt code typed into an answer: deleted, refused, nothing stored from it.
    draft_before = (await chat.states.stored(KEY))[DRAFT_KEY]
    refused = await chat.type("ABCD-EFGH-JKMN-PQRS-TVWX")
    assert DeleteMessage() in refused
    assert any(isinstance(e, Show) and "receipt code" in e.screen.body for e in refused)
    assert (await chat.states.stored(KEY))[DRAFT_KEY] == draft_before
    assert chat.question() == "meetings_month"
    await chat.type("12")
    assert chat.question() == "suggestion"
    await chat.press(Act.SKIP)
    assert chat.question() is None  # the review

    # Edit one answer from the review, then back at the review.
    review = chat.screen()
    edit = next(o for o in review.options if o.action.question == "meetings_month")
    ref = chat.newest_with_options()
    await chat._run(Press(edit.action, ref), ref)
    assert chat.question() == "meetings_month"
    await chat.type("15")
    assert chat.question() is None
    assert "15" in chat.screen().body

    receipt_on = await chat.press(Act.SUBMIT)
    submitted = chat.messages[receipt_on]
    assert isinstance(submitted, Shown) and "Submitted" in submitted.screen.body
    receipt = chat.messages[chat.last_ref]
    assert isinstance(receipt, Shown) and receipt.protect
    code = receipt.screen.body.split("<code>")[1].split("</code>")[0]
    assert await chat.states.stored(KEY) == {}  # the draft is gone

    normalised = normalize_receipt(code)
    assert normalised is not None
    submission_id = await services.submissions.find_by_receipt(
        receipt_hash(normalised, services.survey.receipt_secret)
    )
    assert submission_id is not None
    stored_submission = await services.submissions.get(submission_id)
    assert stored_submission is not None
    answers = stored_submission.answers
    assert answers["freq.p1"] == "often" and answers["freq.p2"] == "never"
    assert answers["impact.p1"] == 4 and "impact.p2" not in answers
    assert answers["examples"] == ["p1"]
    assert "p1_example" not in answers  # skipped after going back
    assert answers["meetings_month"] == 15

    # The receipt's buttons: delete it, then clear the conversation from its first message.
    first = min(ref for ref, m in chat.messages.items() if m == "/start")
    await chat.press(Act.RECEIPT_SAVED)
    assert chat.last_ref - 1 in chat.deleted
    await chat.press(Act.CLEAR_CHAT)
    assert chat.cleared == [(first, chat.last_ref)]


async def test_resume_after_a_restart(services: Services) -> None:
    states = MemoryStates()
    chat = _chat(services, states)
    await _consent(chat)
    await chat.press(Act.ANSWER, "town")
    await chat.press(Act.FILL)
    old_screen = chat.newest_with_options()

    # A new core on the same storage, in the same chat.
    restarted = Chat(
        services.core(),
        states,
        services.pseudonymizer,
        messages=chat.messages,
        last_ref=chat.last_ref,
    )
    await restarted.start()
    resume = restarted.screen()
    assert "unfinished questionnaire" in resume.body
    assert "part 2 of 4" in resume.body
    await restarted.press(Act.RESUME)
    assert restarted.question() == "freq"
    assert all(row.answered for row in restarted.screen().grid)  # the grid as it was left
    assert restarted.newest_with_options() != old_screen
    stale = restarted.screen(old_screen)
    assert stale.rows == () and stale.grid == ()  # the previous screen lost its buttons
    await restarted.press(Act.DONE)  # every problem never met: no impact, no examples
    assert restarted.question() == "meetings_month"


async def test_cancel_asks_first_then_deletes_the_draft(services: Services) -> None:
    chat = _chat(services)
    await _consent(chat)
    await chat.press(Act.ANSWER, "town")
    asked = await chat.command("cancel")
    confirm = next(e for e in asked if isinstance(e, Show))
    assert confirm.current and "Discard" in confirm.screen.body
    assert (await chat.states.stored(KEY))[DRAFT_KEY]  # nothing deleted yet
    await chat.press(Act.CANCEL_CONFIRM)
    assert "Cancelled" in chat.screen().body
    assert await chat.states.stored(KEY) == {}
    again = await chat.command("cancel")
    assert any(isinstance(e, Show) and "nothing to cancel" in e.screen.body for e in again)


async def test_a_preview_is_walked_as_delivered_and_stores_nothing(services: Services) -> None:
    """The core asks no roles: the channel delivers the preview only to admins (Telegram: a
    router filtered with `IsAdmin`)."""
    chat = _chat(services)
    questionnaire = services.survey.questionnaire
    version = f"{questionnaire.id} v{questionnaire.version}"
    started = await chat.command("questionnaire_preview", version)
    assert any(isinstance(e, Show) and "Preview of" in e.screen.body for e in started)
    assert chat.question() == "unit_type"
    while chat.question() is not None:
        if chat.question() == "meetings_month":
            await chat.type("3")
        else:
            await _press_on(chat)
    await chat.press(Act.SUBMIT)
    assert "nothing stored" in chat.bot_texts()[-1]
    assert await services.submissions.count() == 0
    assert await chat.states.stored(KEY) == {}


async def test_a_follow_up_by_receipt_code(services: Services) -> None:
    chat = _chat(services)
    await _consent(chat)
    await _answer_to(chat, "meetings_month")
    while chat.question() is not None:
        await chat.press(Act.SKIP)
    await chat.press(Act.SUBMIT)
    receipt = chat.messages[chat.last_ref]
    assert isinstance(receipt, Shown)
    code = receipt.screen.body.split("<code>")[1].split("</code>")[0]
    normalised = normalize_receipt(code)
    assert normalised is not None
    submission_id = await services.submissions.find_by_receipt(
        receipt_hash(normalised, services.survey.receipt_secret)
    )
    assert submission_id is not None
    await services.cases.ensure_cases()
    await services.cases.add_message(
        submission_id, FollowupOrigin.INVESTIGATOR, "请问是哪个部门？", NOW.date()
    )

    asked = await chat.command("followup")
    assert any(isinstance(e, Show) and "receipt code" in e.screen.body for e in asked)
    opened = await chat.type(code)
    assert DeleteMessage() in opened  # the code does not stay in the chat
    report = chat.screen()
    assert "请问是哪个部门" in report.body
    assert all(isinstance(e, Show) and not e.link_previews for e in opened if isinstance(e, Show))

    await chat.press(Act.FOLLOWUP_ANSWER)
    saved = await chat.type(f"乡镇办公室，电话{PHONE}")
    notices = [e.screen.body for e in saved if isinstance(e, Show)]
    assert any("added to the report" in body and "a phone number" in body for body in notices)
    assert not any(isinstance(e, DeleteMessage) for e in saved)
    thread = await services.cases.thread(submission_id)
    assert [m.origin for m in thread] == ["investigator", "cadre"]
    assert PHONE not in thread[1].text and "乡镇办公室" in thread[1].text
    assert "乡镇办公室" in chat.screen().body

    await chat.press(Act.FOLLOWUP_END)
    assert await services.sessions.get(KEY) is None
    assert "Follow-up closed" in chat.screen().body
    assert await chat.states.stored(KEY) == {}  # nothing of it in the conversation state


async def test_a_wrong_code_keeps_asking_and_cancel_ends(services: Services) -> None:
    chat = _chat(services)
    await chat.command("followup")
    wrong = await chat.type("AAAA-BBBB-CCCC-DDDD-EEEE")
    assert DeleteMessage() in wrong
    assert any(isinstance(e, Show) and "No report" in e.screen.body for e in wrong)
    assert await services.sessions.get(KEY) is not None
    ended = await chat.command("cancel")
    assert any(isinstance(e, Show) and "Follow-up closed" in e.screen.body for e in ended)
    assert await services.sessions.get(KEY) is None
