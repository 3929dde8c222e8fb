"""Simulated cadres: people who answer the questionnaire on a phone, in Telegram (through the
emulator) or on the web page (through its HTTP API, as the page's script speaks it).

Used by `make demo`, the end-to-end tests and the benchmarks. A cadre only does what a person
can do — read the last message, tap its buttons, type text, reload the page — and reads the
question id from the buttons' callback data (Telegram) or the chips' actions (web) to know
what kind of answer fits.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from bot.harness.emulator import ChatMessage, ChatWaitTimeout, EmulatedUser, InlineButton
from bot.harness.web_client import Bubble, WebCadre, WebRefusal
from bot.i18n import SUPPORTED_LOCALES
from bot.i18n.text import gettext, use_locale
from bot.middlewares.callback_deadline import PLEASE_WAIT
from bot.questionnaire import Question, Questionnaire
from bot.respondent.callbacks import Act, SurveyCallback

RECEIPT_PATTERN = re.compile(r"\b[0-9A-Z]{4}(?:-[0-9A-Z]{4}){4}\b")
STEP_LIMIT = 400
WAIT = 120.0
#: How long a cadre looks at an unchanged screen after the spinner stopped before going on.
SCREEN_WAIT = 30.0

EXAMPLES = (
    "一周开了四个会传达同一个文件，每个会都要求拍照留痕。",
    "微信工作群里每条通知都要接龙回复“收到”，有事联系 13800138000。",
    "今天通知明天检查，只能连夜补材料。",
    "上级要求每项工作都拍照录像，写记实材料。",
    "同一项工作被三个部门重复检查，标准还不一样。",
    "视频会议要求每个单位凑够人数，达不到就通报。",
)


class Behaviour(StrEnum):
    """How a simulated cadre goes through the questionnaire."""

    STRAIGHT = "straight"  # answers everything in order
    WANDERING = "wandering"  # goes back now and then, skips optional questions, edits at review
    CANCELLING = "cancelling"  # gives up halfway and cancels
    RESUMING = "resuming"  # is interrupted, sends /start again and continues
    HURRIED = "hurried"  # answers only what is required, skips everything else


class Via(StrEnum):
    """The channel a simulated cadre answered through (submissions themselves record none)."""

    TELEGRAM = "telegram"
    WEB = "web"


class Move(StrEnum):
    """What a simulated cadre does next on a question or the review."""

    CANCEL = "cancel"
    INTERRUPT = "interrupt"  # walks away and comes back: /start, or a reload of the page
    REVIEW = "review"
    BACK = "back"
    SKIP = "skip"
    ANSWER = "answer"


@dataclass(frozen=True)
class GridLine:
    """One row of a grid question as the cadre sees it: its answer key ("grid.row"), the
    values of its cells in order, whether it must be answered, and the value chosen so far."""

    key: str
    values: tuple[str, ...]
    required: bool
    chosen: str | None = None


@dataclass(frozen=True)
class GridPlan:
    """How to answer a grid: the cells to press (row key, value) in order, then whether to
    press "the rest: …" before Done."""

    presses: tuple[tuple[str, str], ...]
    fill: bool = False


class Temperament:
    """What a simulated cadre decides at each step, whatever the channel it answers through:
    the same behaviour and seed make the same choices in Telegram and on the web page.
    `offered` holds the acts of the current screen's options."""

    def __init__(self, behaviour: Behaviour, rng: random.Random) -> None:
        self.behaviour = behaviour
        self.rng = rng
        self.cancel_at = rng.randint(3, 12)
        self.interrupted = False
        self.edited = False

    def next_move(self, steps: int, offered: Collection[str]) -> Move:
        if self.behaviour is Behaviour.CANCELLING and steps >= self.cancel_at:
            return Move.CANCEL
        resuming = self.behaviour is Behaviour.RESUMING
        if resuming and not self.interrupted and steps >= self.cancel_at:
            self.interrupted = True
            return Move.INTERRUPT
        if Act.SUBMIT in offered:
            return Move.REVIEW
        wandering = self.behaviour is Behaviour.WANDERING
        if wandering and Act.BACK in offered and self.rng.random() < 0.08:
            return Move.BACK
        hurried = self.behaviour is Behaviour.HURRIED
        if Act.SKIP in offered and (
            hurried or (wandering and self.rng.random() < 0.4) or self.rng.random() < 0.15
        ):
            return Move.SKIP
        return Move.ANSWER

    def picks(self, offered: Sequence[str], max_choices: int | None) -> list[str]:
        """The choices to tick on a multiple choice: one to three of those offered now (a
        choice whose condition does not hold is not on the screen), never more than allowed."""
        limit = min(3, len(offered), max_choices or len(offered))
        if limit < 1:
            return []
        return self.rng.sample(list(offered), k=self.rng.randint(1, limit))

    def grid(self, lines: Sequence[GridLine], fill_offered: bool) -> GridPlan:
        """A cell in every row still open; an optional row is left empty now and then (by a
        hurried cadre always). Where "the rest: …" is offered, now and then a few rows by hand
        and that button for the rest. Rows answered before (back, edit) are left as they are."""
        open_lines = [line for line in lines if line.chosen is None]
        hurried = self.behaviour is Behaviour.HURRIED
        if fill_offered and open_lines and self.rng.random() < 0.35:
            by_hand = [line for line in open_lines if self.rng.random() < 0.4]
            return GridPlan(
                tuple((line.key, self.rng.choice(line.values)) for line in by_hand), fill=True
            )
        presses = [
            (line.key, self.rng.choice(line.values))
            for line in open_lines
            if line.values and (line.required or (not hurried and self.rng.random() < 0.8))
        ]
        return GridPlan(tuple(presses))

    def edits_at_review(self, offered: Collection[str]) -> bool:
        """Whether to change an answer from the review (once, when wandering) first."""
        if self.behaviour is Behaviour.WANDERING and not self.edited and Act.EDIT in offered:
            self.edited = True
            return True
        return False


@dataclass
class CadreResult:
    behaviour: Behaviour
    via: Via = Via.TELEGRAM
    receipt: str | None = None
    steps: int = 0
    cancelled: bool = False
    masked_notices: int = 0
    subscribed: bool = False  # pressed the announcements button on the welcome
    receipt_deleted: bool = False  # pressed "I have saved it" on the receipt
    looked_again: int = 0  # the screen changed while reaching for a button (a slow bot)
    actions: list[str] = field(default_factory=list)


def _survey_data(button: InlineButton) -> SurveyCallback | None:
    if not button.callback_data or not button.callback_data.startswith("s:"):
        return None
    try:
        return SurveyCallback.unpack(button.callback_data)
    except (TypeError, ValueError):
        return None


def _buttons(message: ChatMessage) -> list[tuple[InlineButton, SurveyCallback]]:
    found = []
    for row in message.buttons:
        for button in row:
            data = _survey_data(button)
            if data is not None:
                found.append((button, data))
    return found


def _screen(user: EmulatedUser) -> list[tuple[int, str | None, object]]:
    """What the cadre sees: every message's id, text and buttons."""
    return [(m.message_id, m.text, m.keyboard) for m in user.messages]


def _active_message(user: EmulatedUser) -> ChatMessage | None:
    for message in reversed(user.messages):
        if message.from_bot and _buttons(message):
            return message
    return None


Buttons = dict[Act, list[tuple[InlineButton, SurveyCallback]]]

#: What a cadre does before acting ("tap" or "type"): a person reads, thinks, types. None: no
#: pause, as fast as the bot replies.
Pause = Callable[[str], Awaitable[None]]


def please_wait_texts() -> frozenset[str]:
    """The busy bot's "One moment, please…" in every locale: the press was taken, the new
    screen is still coming."""
    texts = set()
    for locale in SUPPORTED_LOCALES:
        with use_locale(locale):
            texts.add(gettext(PLEASE_WAIT))
    return frozenset(texts)


def _by_action(message: ChatMessage) -> Buttons:
    found: Buttons = {}
    for button, data in _buttons(message):
        found.setdefault(data.a, []).append((button, data))
    return found


CHOSEN_MARK = "🔘"  # how Telegram buttons mark the current answer


def grid_lines(question: Question, cells: Sequence[tuple[str, SurveyCallback]]) -> list[GridLine]:
    """The rows of a grid from its cell buttons (text, callback data) in keyboard order; the
    chosen cell is the one marked. Whether a row is required comes from the questionnaire,
    which the cadre has in front of them as the body's numbered list."""
    values: dict[str, list[str]] = {}
    chosen: dict[str, str] = {}
    for text, data in cells:
        values.setdefault(data.q, []).append(data.v)
        if CHOSEN_MARK in text:
            chosen[data.q] = data.v
    return [
        GridLine(
            key,
            tuple(row_values),
            question.row_required(question.row(key.split(".", 1)[1])),
            chosen.get(key),
        )
        for key, row_values in values.items()
    ]


class Cadre:
    """One simulated respondent."""

    def __init__(
        self,
        user: EmulatedUser,
        questionnaire: Questionnaire,
        rng: random.Random,
        behaviour: Behaviour = Behaviour.STRAIGHT,
        *,
        pause: Pause | None = None,
    ) -> None:
        self.user = user
        self.questionnaire = questionnaire
        self.rng = rng
        self.behaviour = behaviour
        self.pause = pause
        self.result = CadreResult(behaviour)
        self.mind = Temperament(behaviour, rng)
        self.subscribes = rng.random() < 0.3  # announcements are a choice; most do not

    async def press(self, button: InlineButton, message: ChatMessage) -> None:
        """Tap, wait for the spinner to stop, and — like a person — for the screen to change.

        A busy bot may stop the spinner before the new screen arrives; a cadre who then tapped
        the old screen again would only get "that button is from an earlier screen". A screen
        that changed while they read (the button gone) is looked at again, not pressed.
        """
        if self.pause is not None:
            await self.pause("tap")
        before = _screen(self.user)
        try:
            handle = await self.user.press(lambda b: b is button or b.raw == button.raw, message)
        except LookupError:
            # While they read, a late screen replaced this one (its message edited or deleted):
            # a person looks at what is there now, and so does the caller's next step.
            self.result.looked_again += 1
            return
        answer = await handle.wait_answered(WAIT)
        self.result.actions.append(f"press {button.callback_data}")
        if answer.text and answer.text not in please_wait_texts():
            return  # a notice instead of a new screen (stale button, alert)
        with contextlib.suppress(ChatWaitTimeout):
            await self.user.wait_for(lambda user: _screen(user) != before, SCREEN_WAIT)

    async def type(self, text: str) -> None:
        """Type an answer; the bot deletes it, shows what it stored, then the next question."""
        if self.pause is not None:
            await self.pause("type")
        sent = await self.user.send_text(text)
        reply = await self.user.wait_for_message(after=sent, timeout=WAIT)
        self.result.actions.append("type")
        if "🛡" in (reply.text or ""):
            self.result.masked_notices += 1

        def moved_on(user: EmulatedUser) -> bool:
            current = _active_message(user)
            return current is not None and current.message_id > sent.message_id

        await self.user.wait_for(moved_on, WAIT)

    async def opt_in(self, welcome: ChatMessage) -> None:
        """Press "receive announcements" on the welcome and wait for the confirmation."""
        button = welcome.button(lambda b: (b.callback_data or "") == "ann:1")
        if button is None:
            return
        if self.pause is not None:
            await self.pause("tap")
        handle = await self.user.press(lambda b: b.raw == button.raw, welcome)
        await handle.wait_answered(WAIT)
        await self.user.wait_for_message(contains="🔔", after=welcome, timeout=WAIT)
        self.result.subscribed = True
        self.result.actions.append("subscribe")

    async def run(self) -> CadreResult:
        """Start, consent, answer until submitted (or cancelled); returns what happened."""
        sent = await self.user.send_command("/start")
        welcome = await self.user.wait_for_message(after=sent, timeout=WAIT)
        consent = next((b for b, d in _buttons(welcome) if d.a in (Act.CONSENT, Act.RESUME)), None)
        if consent is None:
            raise AssertionError(f"no consent button\n{self.user.transcript()}")
        if self.subscribes:
            await self.opt_in(welcome)
        await self.press(consent, welcome)

        def asked(user: EmulatedUser) -> bool:
            current = _active_message(user)
            return current is not None and current.message_id > welcome.message_id

        with contextlib.suppress(ChatWaitTimeout):  # a stale resume screen is handled below
            await self.user.wait_for(asked, WAIT)
        for _ in range(STEP_LIMIT):
            self.result.steps += 1
            message = _active_message(self.user)
            if message is None:  # the spinner stopped before the next screen arrived
                with contextlib.suppress(ChatWaitTimeout):
                    await self.user.wait_for(lambda u: _active_message(u) is not None, WAIT)
                message = _active_message(self.user)
            if message is None:
                raise AssertionError(f"no active question\n{self.user.transcript()}")
            if await self._step(message):
                return self.result
        raise AssertionError(f"did not finish in {STEP_LIMIT} steps\n{self.user.transcript()}")

    async def _step(self, message: ChatMessage) -> bool:
        buttons = _buttons(message)
        by_action = _by_action(message)
        move = self.mind.next_move(self.result.steps, by_action)
        if move is Move.CANCEL:
            await self.press(by_action[Act.CANCEL][0][0], message)
            asked = _active_message(self.user)  # "discard what you filled in?"
            confirm = _by_action(asked).get(Act.CANCEL_CONFIRM) if asked is not None else None
            if asked is not None and confirm:
                await self.press(confirm[0][0], asked)
            self.result.cancelled = True
            return True
        if move is Move.INTERRUPT:
            sent = await self.user.send_command("/start")
            resume = await self.user.wait_for_message(after=sent, timeout=WAIT)
            button = next(b for b, d in _buttons(resume) if d.a == Act.RESUME)
            await self.press(button, resume)
            return False
        if move is Move.REVIEW:
            return await self._review(message, by_action)
        if move is Move.BACK:
            await self.press(by_action[Act.BACK][0][0], message)
            return False
        if move is Move.SKIP:
            await self.press(by_action[Act.SKIP][0][0], message)
            return False
        question_id = next((d.q for _, d in buttons if d.q), None)
        if question_id is None:
            raise AssertionError(f"no question id on the buttons\n{self.user.transcript()}")
        question = self.questionnaire.question(question_id.split(".", 1)[0])
        if Act.CELL in by_action:
            await self._answer_grid(question, message, by_action)
        else:
            await self._answer(question, message, by_action)
        return False

    async def _answer_grid(
        self, question: Question, message: ChatMessage, by_action: Buttons
    ) -> None:
        """Press a cell per row as the temperament plans it (each press redraws the keyboard
        in place), maybe "the rest: …", then Done."""
        cells = [(button.text, data) for button, data in by_action[Act.CELL]]
        plan = self.mind.grid(grid_lines(question, cells), Act.FILL in by_action)
        for key, value in plan.presses:
            message = _active_message(self.user) or message
            button = next(
                (
                    b
                    for b, d in _by_action(message).get(Act.CELL, [])
                    if d.q == key and d.v == value
                ),
                None,
            )
            if button is not None:
                await self.press(button, message)
        message = _active_message(self.user) or message
        by_action = _by_action(message)
        if plan.fill and Act.FILL in by_action:
            await self.press(by_action[Act.FILL][0][0], message)
        await self._press_done(message)

    async def _press_done(self, message: ChatMessage) -> None:
        """Press Done once it is there. A busy bot may still be redrawing after the last
        press; a person waits for the screen to settle rather than tapping what is not
        there (and the transcript says so if it never comes)."""
        message = _active_message(self.user) or message
        done = _by_action(message).get(Act.DONE)
        if done is None:
            self.result.looked_again += 1

            def offers_done(user: EmulatedUser) -> bool:
                current = _active_message(user)
                return current is not None and Act.DONE in _by_action(current)

            try:
                await self.user.wait_for(offers_done, SCREEN_WAIT)
            except ChatWaitTimeout:
                raise AssertionError(f"no Done button\n{self.user.transcript()}") from None
            message = _active_message(self.user) or message
            done = _by_action(message)[Act.DONE]
        await self.press(done[0][0], message)

    async def _answer(
        self,
        question: Question,
        message: ChatMessage,
        by_action: Buttons,
    ) -> None:
        if question.type in ("single", "scale"):
            button, _ = self.rng.choice(by_action[Act.ANSWER])
            await self.press(button, message)
        elif question.type == "multi":
            offered = [data.v for _, data in by_action.get(Act.TOGGLE, [])]
            for choice in self.mind.picks(offered, question.max_choices):
                message = _active_message(self.user) or message
                # the keyboard changed: find the same choice's button again on each press
                toggle = next(
                    (b for b, d in _by_action(message).get(Act.TOGGLE, []) if d.v == choice), None
                )
                if toggle is not None:
                    await self.press(toggle, message)
            await self._press_done(message)
        elif question.type == "number":
            low, high = question.min or 0, question.max or 0
            value = int(self.rng.triangular(low, min(high, low + 40), low + 6))
            await self.type(str(value))
        else:
            await self.type(self.rng.choice(EXAMPLES))

    async def _review(
        self,
        message: ChatMessage,
        by_action: Buttons,
    ) -> bool:
        if self.mind.edits_at_review(by_action):
            edit_button, _ = self.rng.choice(by_action[Act.EDIT])
            await self.press(edit_button, message)
            return False
        await self.press(by_action[Act.SUBMIT][0][0], message)
        receipt = await self.user.wait_for_message(
            where=lambda m: RECEIPT_PATTERN.search(m.text or "") is not None,
            after=0,
            timeout=WAIT,
        )
        match = RECEIPT_PATTERN.search(receipt.text or "")
        self.result.receipt = match.group(0) if match else None
        saved = receipt.button(lambda b: (b.callback_data or "").startswith("rcpt:"))
        if saved is not None:  # noted it down: delete the receipt message
            if self.pause is not None:
                await self.pause("tap")
            handle = await self.user.press(lambda b: b.raw == saved.raw, receipt)
            await handle.wait_answered(WAIT)
            gone = receipt.message_id
            await self.user.wait_for(lambda user: user.message(gone) is None, WAIT)
            self.result.receipt_deleted = True
        return True


Options = dict[str, list[dict[str, Any]]]


def _by_act(bubble: Bubble) -> Options:
    found: Options = {}
    for option in bubble.options:
        found.setdefault(option["action"]["a"], []).append(option)
    return found


def web_grid_lines(bubble: Bubble) -> list[GridLine]:
    """The rows of a grid as the page draws them."""
    lines = []
    for line in bubble.grid:
        options = line["options"]
        if not options:
            continue
        chosen = next((o["action"]["v"] for o in options if o.get("selected")), None)
        lines.append(
            GridLine(
                options[0]["action"]["q"],
                tuple(o["action"]["v"] for o in options),
                bool(line["required"]),
                chosen,
            )
        )
    return lines


class WebRespondent:
    """One simulated cadre on the web page, behaving like a `Cadre` in Telegram.

    It taps the chips of the newest screen that has any, types into the input bar, and, when
    resuming, reloads the page: same tab, same session token, the last sequence number asked
    again, then "continue". A refusal for going too fast is waited out as the page does."""

    def __init__(
        self,
        page: WebCadre,
        questionnaire: Questionnaire,
        rng: random.Random,
        behaviour: Behaviour = Behaviour.STRAIGHT,
    ) -> None:
        self.page = page
        self.questionnaire = questionnaire
        self.rng = rng
        self.behaviour = behaviour
        self.result = CadreResult(behaviour, via=Via.WEB)
        self.mind = Temperament(behaviour, rng)

    async def act(self, event: dict[str, Any]) -> dict[str, Any]:
        """Send one action; a 429 is retried with the same sequence number after the wait
        it names (the server applied nothing)."""
        while True:
            try:
                return await self.page.act(event)
            except WebRefusal as refusal:
                if refusal.status != 429:
                    raise
                self.page.seq -= 1
                await asyncio.sleep(float(refusal.body.get("retry_after", 1)))

    async def press(self, option: dict[str, Any], bubble: Bubble) -> dict[str, Any]:
        self.result.actions.append(f"press {option['action']['a']}")
        return await self.act({"type": "press", "action": option["action"], "ref": bubble.ref})

    async def type(self, text: str) -> None:
        answer = await self.act({"type": "text", "body": text})
        self.result.actions.append("type")
        shown = [op["ref"] for op in answer["ops"] if op["op"] == "show"]
        if any("🛡" in self.page.bubbles[ref].text for ref in shown if ref in self.page.bubbles):
            self.result.masked_notices += 1

    async def reload(self) -> None:
        """Reload the tab: the transcript is gone, the token is not; ask where we were."""
        page = WebCadre(self.page.http, locale=self.page.locale, campaign=self.page.campaign)
        page.token = self.page.token
        page.seq = int((await page.post("/api/state", {}))["seq"])
        self.page = page
        self.result.actions.append("reload")
        await self.act({"type": "start"})
        shown = self.page.current()
        await self.press(_by_act(shown)["res"][0], shown)

    async def run(self) -> CadreResult:
        """Open the page, consent, answer until submitted (or cancelled)."""
        await self.page.open()
        await self.act({"type": "start"})
        welcome = self.page.current()
        consent = _by_act(welcome).get("go") or _by_act(welcome).get("res")
        if not consent:
            raise AssertionError(f"no consent chip\n{self.page.chat_text()}")
        await self.press(consent[0], welcome)
        for _ in range(STEP_LIMIT):
            self.result.steps += 1
            if await self._step(self.page.current()):
                return self.result
        raise AssertionError(f"did not finish in {STEP_LIMIT} steps\n{self.page.chat_text()}")

    async def _step(self, bubble: Bubble) -> bool:
        by_act = _by_act(bubble)
        move = self.mind.next_move(self.result.steps, by_act)
        if move is Move.CANCEL:
            await self.press(by_act["cxl"][0], bubble)
            asked = self.page.current()  # "discard what you filled in?"
            confirm = _by_act(asked).get(Act.CANCEL_CONFIRM.value)
            if confirm:
                await self.press(confirm[0], asked)
            self.result.cancelled = True
            return True
        if move is Move.INTERRUPT:
            await self.reload()
            return False
        if move is Move.REVIEW:
            return await self._review(bubble, by_act)
        if move is Move.BACK:
            await self.press(by_act["back"][0], bubble)
            return False
        if move is Move.SKIP:
            await self.press(by_act["skip"][0], bubble)
            return False
        if bubble.grid:
            await self._answer_grid(bubble, by_act)
            return False
        question_id = next((o["action"]["q"] for o in bubble.options if o["action"]["q"]), "")
        if not question_id:
            raise AssertionError(f"no question id on the chips\n{self.page.chat_text()}")
        question = self.questionnaire.question(question_id)
        await self._answer(question, bubble, by_act)
        return False

    async def _answer_grid(self, bubble: Bubble, by_act: Options) -> None:
        """Tap a chip per row as the temperament plans it (each tap redraws the table in
        place), maybe "the rest: …", then Done."""
        plan = self.mind.grid(web_grid_lines(bubble), "fill" in by_act)
        for key, value in plan.presses:
            shown = self.page.current()
            chip = next(
                (
                    o
                    for o in shown.options
                    if o["action"]["a"] == "cell"
                    and o["action"]["q"] == key
                    and o["action"]["v"] == value
                ),
                None,
            )
            if chip is not None:
                await self.press(chip, shown)
        shown = self.page.current()
        if plan.fill and "fill" in _by_act(shown):
            await self.press(_by_act(shown)["fill"][0], shown)
            shown = self.page.current()
        await self.press(_by_act(shown)["done"][0], shown)

    async def _answer(self, question: Question, bubble: Bubble, by_act: Options) -> None:
        if question.type in ("single", "scale"):
            await self.press(self.rng.choice(by_act["ans"]), bubble)
        elif question.type == "multi":
            values = [o["action"]["v"] for o in by_act.get("tog", [])]
            for value in self.mind.picks(values, question.max_choices):
                shown = self.page.current()  # a toggle redraws the chips in place
                chip = next(o for o in shown.options if o["action"]["v"] == value)
                await self.press(chip, shown)
            shown = self.page.current()
            await self.press(_by_act(shown)["done"][0], shown)
        elif question.type == "number":
            low, high = question.min or 0, question.max or 0
            await self.type(str(int(self.rng.triangular(low, min(high, low + 40), low + 6))))
        else:
            await self.type(self.rng.choice(EXAMPLES))

    async def _review(self, bubble: Bubble, by_act: Options) -> bool:
        if self.mind.edits_at_review(by_act):
            await self.press(self.rng.choice(by_act["edit"]), bubble)
            return False
        await self.press(by_act["sub"][0], bubble)
        receipt = next(
            (b for b in self.page.bubbles.values() if RECEIPT_PATTERN.search(b.text)), None
        )
        if receipt is None:
            raise AssertionError(f"no receipt after submitting\n{self.page.chat_text()}")
        match = RECEIPT_PATTERN.search(receipt.text)
        self.result.receipt = match.group(0) if match else None
        saved = _by_act(receipt).get("rcpt")
        if saved:  # noted it down: take the receipt off the page
            await self.press(saved[0], receipt)
            self.result.receipt_deleted = receipt.ref not in self.page.bubbles
        return True


def behaviour_for(index: int) -> Behaviour:
    """A fixed mix: most answer straight through, some wander, a few cancel or resume."""
    cycle = (
        Behaviour.STRAIGHT,
        Behaviour.WANDERING,
        Behaviour.STRAIGHT,
        Behaviour.RESUMING,
        Behaviour.STRAIGHT,
        Behaviour.WANDERING,
        Behaviour.STRAIGHT,
        Behaviour.STRAIGHT,
        Behaviour.CANCELLING,
        Behaviour.WANDERING,
    )
    return cycle[index % len(cycle)]
