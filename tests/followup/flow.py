"""Helpers: a cadre submits and follows up; an investigator works a case — by pressing the
buttons the bot shows, as people would."""

from __future__ import annotations

from bot.cases.callbacks import CaseAct, CaseCallback, FollowupAct, FollowupCallback
from bot.harness.emulator import ChatMessage, EmulatedUser
from tests.e2e.driver import answer_until_review, start_questionnaire, submit

WAIT = 10.0


async def submit_report(user: EmulatedUser) -> str:
    await start_questionnaire(user)
    await answer_until_review(user)
    return await submit(user)


def case_buttons(message: ChatMessage) -> list[CaseCallback]:
    return [
        CaseCallback.unpack(b.callback_data)
        for row in message.buttons
        for b in row
        if b.callback_data and b.callback_data.startswith("cs:")
    ]


def followup_buttons(message: ChatMessage) -> list[FollowupCallback]:
    return [
        FollowupCallback.unpack(b.callback_data)
        for row in message.buttons
        for b in row
        if b.callback_data and b.callback_data.startswith("fu:")
    ]


async def press_case(user: EmulatedUser, message: ChatMessage, data: CaseCallback) -> ChatMessage:
    """Press a case button and return the message once the bot has edited it."""
    before = user.message(message.message_id)
    assert before is not None
    press = await user.press_data(data.pack(), message.message_id)
    await press.wait_answered(WAIT)

    def changed(u: EmulatedUser) -> bool:
        now = u.message(message.message_id)
        return now is not None and (now.text, now.keyboard) != (before.text, before.keyboard)

    await user.wait_for(changed, timeout=WAIT)
    after = user.message(message.message_id)
    assert after is not None
    return after


async def open_newest_case(staff: EmulatedUser, status: str = "new") -> tuple[str, ChatMessage]:
    """/cases → the status → the first case; returns (ref, the case message)."""
    sent = await staff.send_command("/cases")
    overview = await staff.wait_for_message(after=sent, timeout=WAIT)
    listing = await press_case(staff, overview, CaseCallback(a=CaseAct.LIST, s=status))
    first = next(d for d in case_buttons(listing) if d.a == CaseAct.VIEW)
    shown = await press_case(staff, listing, first)
    return first.r, shown


async def staff_text_action(
    staff: EmulatedUser, case_message: ChatMessage, act: CaseAct, ref: str, text: str
) -> ChatMessage:
    """Press Reply / Note / Label on a case, send `text`; return the refreshed case screen."""
    press = await staff.press_data(CaseCallback(a=act, r=ref).pack(), case_message.message_id)
    await press.wait_answered(WAIT)
    await staff.wait_for_message(f"#{ref}", after=case_message, timeout=WAIT)
    sent = await staff.send_text(text)
    return await staff.wait_for_message(
        where=lambda m: bool(case_buttons(m)), after=sent, timeout=WAIT
    )


async def open_followup(user: EmulatedUser, code: str) -> tuple[ChatMessage, ChatMessage]:
    """/followup, then the code; returns (the code message as sent, the bot's answer)."""
    sent = await user.send_command("/followup")
    await user.wait_for_message(after=sent, timeout=WAIT)
    code_message = await user.send_text(code)
    reply = await user.wait_for_message(after=code_message, timeout=WAIT)
    return code_message, reply


async def press_followup(user: EmulatedUser, message: ChatMessage, act: FollowupAct) -> None:
    press = await user.press_data(FollowupCallback(a=act).pack(), message.message_id)
    await press.wait_answered(WAIT)
