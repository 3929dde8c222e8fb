"""Small helpers to drive the respondent conversation precisely, as a person would."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from bot.harness.emulator import CallbackAnswer, ChatMessage, EmulatedUser, InlineButton
from bot.harness.simulation import RECEIPT_PATTERN
from bot.respondent.callbacks import Act, SurveyCallback

WAIT = 10.0


def survey_buttons(message: ChatMessage) -> list[tuple[InlineButton, SurveyCallback]]:
    found = []
    for row in message.buttons:
        for button in row:
            if button.callback_data and button.callback_data.startswith("s:"):
                found.append((button, SurveyCallback.unpack(button.callback_data)))
    return found


def active_or_none(user: EmulatedUser) -> ChatMessage | None:
    for message in reversed(user.messages):
        if message.from_bot and survey_buttons(message):
            return message
    return None


def active(user: EmulatedUser) -> ChatMessage:
    """The bot message carrying the current questionnaire buttons."""
    message = active_or_none(user)
    if message is None:
        raise AssertionError(f"no active questionnaire message\n{user.transcript()}")
    return message


async def wait_for_question_after(user: EmulatedUser, message_id: int) -> ChatMessage:
    """Wait until the current question is shown in a message newer than `message_id`."""

    def moved(u: EmulatedUser) -> bool:
        current = active_or_none(u)
        return current is not None and current.message_id > message_id

    await user.wait_for(moved, timeout=WAIT)
    return active(user)


def current_question(user: EmulatedUser) -> str | None:
    """The question id on the active message (a grid's own id, not a row's), or None on the
    review screen."""
    buttons = survey_buttons(active(user))
    if any(data.a == Act.SUBMIT for _, data in buttons):
        return None
    question = next((data.q for _, data in buttons if data.q and data.a != Act.EDIT), None)
    return None if question is None else question.split(".", 1)[0]


def grid_rows(user: EmulatedUser) -> list[str]:
    """The row keys ("grid.row") of the grid on the active message, in order."""
    keys: list[str] = []
    for _, data in survey_buttons(active(user)):
        if data.a == Act.CELL and data.q not in keys:
            keys.append(data.q)
    return keys


def chosen_cells(user: EmulatedUser) -> dict[str, str]:
    """The chosen cell of every answered row of the active grid: row key -> value (the
    renderer marks it with 🔘, as any chosen answer)."""
    return {
        data.q: data.v
        for button, data in survey_buttons(active(user))
        if data.a == Act.CELL and "🔘" in button.text
    }


async def press_cells(user: EmulatedUser, cells: Mapping[str, str]) -> None:
    """Press one cell per row key ("grid.row" -> value) of the active grid; stays on it."""
    for key, value in cells.items():
        await tap(user, Act.CELL, value, question=key)


async def answer_grid(user: EmulatedUser, value: str) -> None:
    """Press `value` in every row of the active grid, then Done."""
    for key in grid_rows(user):
        await tap(user, Act.CELL, value, question=key)
    await tap(user, Act.DONE)


def same_button(wanted: InlineButton) -> Callable[[InlineButton], bool]:
    """A matcher for exactly this button (by its raw data, as a press sends it)."""
    return lambda button: button.raw == wanted.raw


async def tap(
    user: EmulatedUser, act: Act, value: str | None = None, *, question: str | None = None
) -> CallbackAnswer:
    """Press the active message's button for this action (and value / question)."""
    message = active(user)
    for button, data in survey_buttons(message):
        if data.a != act:
            continue
        if value is not None and data.v != value:
            continue
        if question is not None and data.q != question:
            continue
        handle = await user.press(same_button(button), message)
        return await handle.wait_answered(WAIT)
    raise AssertionError(f"no {act} button (value={value!r})\n{user.transcript()}")


async def start_questionnaire(user: EmulatedUser) -> None:
    sent = await user.send_command("/start")
    welcome = await user.wait_for_message(after=sent, timeout=WAIT)
    button = next(b for b, d in survey_buttons(welcome) if d.a == Act.CONSENT)
    handle = await user.press(lambda b: b.raw == button.raw, welcome)
    await handle.wait_answered(WAIT)


async def type_answer(user: EmulatedUser, text: str) -> ChatMessage:
    """Send text and return the bot's next message (what it stored, or a refusal), once the
    current question is shown below it."""
    sent = await user.send_text(text)
    reply = await user.wait_for_message(after=sent, timeout=WAIT)
    await wait_for_question_after(user, sent.message_id)
    return reply


async def opt_in(user: EmulatedUser) -> None:
    """/start, then the announcements button on the welcome (they are off until pressed)."""
    sent = await user.send_command("/start")
    welcome = await user.wait_for_message(after=sent, timeout=WAIT)
    button = welcome.button(lambda b: (b.callback_data or "") == "ann:1")
    assert button is not None, user.transcript()
    handle = await user.press(lambda b: b.raw == button.raw, welcome)
    await handle.wait_answered(WAIT)
    await user.wait_for_message(contains="🔔", after=welcome, timeout=WAIT)


async def answer_until_review(user: EmulatedUser, *, frequency: str = "never") -> None:
    """Finish the questionnaire quickly from wherever it is: skip what can be skipped."""
    for _ in range(100):
        question = current_question(user)
        if question is None:
            return
        buttons = {data.a for _, data in survey_buttons(active(user))}
        if question == "freq":
            await answer_grid(user, frequency)
        elif question == "impact":
            await answer_grid(user, "3")
        elif question.endswith("_freq"):
            await tap(user, Act.ANSWER, frequency)
        elif question.endswith("_impact"):
            await tap(user, Act.ANSWER, "3")
        elif Act.SKIP in buttons:
            await tap(user, Act.SKIP)
        else:
            raise AssertionError(f"cannot pass {question}\n{user.transcript()}")
    raise AssertionError("the review never came")


async def submit(user: EmulatedUser) -> str:
    """Press Submit on the review and return the receipt code shown."""
    await tap(user, Act.SUBMIT)
    receipt = await user.wait_for_message(
        where=lambda m: RECEIPT_PATTERN.search(m.text or "") is not None, after=0, timeout=WAIT
    )
    match = RECEIPT_PATTERN.search(receipt.text or "")
    assert match is not None
    return match.group(0)
