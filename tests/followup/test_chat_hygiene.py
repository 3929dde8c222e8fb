"""Nothing left in the chat, nothing clickable from investigators: `/followup CODE` and a code
typed at any step are deleted at once; the clear-chat button deletes the follow-up's messages
(the cadre's and the bot's) and closes it; links in the thread reach the cadre as plain text
with a warning; every message of the follow-up has link previews off."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import func, select

from bot.cases.callbacks import FollowupAct
from bot.harness.emulator import ChatMessage, EmulatedUser
from bot.harness.offline import OfflineBot
from bot.respondent.callbacks import ClearChatCallback
from storage.repositories.cases import followup_context
from storage.tables import followup_messages, submissions

from .flow import WAIT, followup_buttons, open_followup, press_followup, submit_report

CLICKABLE = {"url", "text_link", "mention", "text_mention", "email", "phone_number"}
TRACKERS = (
    "https://track.example.org/r?id=7",
    "t.me/spy_desk_bot?start=42",
    "www.example.com/a",
    "example.cn/x",
    "@spy_desk_bot",
    "tg://resolve?domain=spy_desk_bot",
)


def _clear_button(message: ChatMessage) -> ClearChatCallback | None:
    for row in message.buttons:
        for button in row:
            if button.callback_data and button.callback_data.startswith("clr:"):
                return ClearChatCallback.unpack(button.callback_data)
    return None


def _previews(offline: OfflineBot, chat_id: int, after_seq: int) -> list[Any]:
    """The link_preview_options of every sendMessage to `chat_id` after call `after_seq`."""
    found = []
    for record in offline.emulator.calls.of("sendMessage"):
        if record.seq <= after_seq or int(record.params.get("chat_id", 0)) != chat_id:
            continue
        options = record.params.get("link_preview_options")
        found.append(json.loads(options) if isinstance(options, str) else options)
    return found


def _last_seq(offline: OfflineBot) -> int:
    last = offline.emulator.calls.last()
    return 0 if last is None else last.seq


async def _report_after(user: EmulatedUser, sent: ChatMessage) -> ChatMessage:
    return await user.wait_for_message(
        where=lambda m: bool(followup_buttons(m)), after=sent, timeout=WAIT
    )


async def test_followup_with_the_code_on_the_command_line(staffed: OfflineBot) -> None:
    cadre = staffed.new_user(user_id=760_001)
    code = await submit_report(cadre)
    before = _last_seq(staffed)
    sent = await cadre.send_command(f"/followup {code}")
    report = await _report_after(cadre, sent)
    assert cadre.message(sent.message_id) is None  # deleted at once
    assert code not in (report.text or "")
    # A wrong code on the command line goes too.
    wrong = await cadre.send_command("/followup AAAA-BBBB-CCCC-DDDD-EEEE")
    await cadre.wait_for_message(after=wrong, timeout=WAIT)
    assert cadre.message(wrong.message_id) is None
    previews = _previews(staffed, cadre.chat_id, before)
    assert previews and all(p == {"is_disabled": True} for p in previews)


async def test_a_code_typed_while_reading_is_deleted_and_not_stored(staffed: OfflineBot) -> None:
    cadre = staffed.new_user(user_id=760_011)
    code = await submit_report(cadre)
    await open_followup(cadre, code)
    message = await cadre.send_text(f"回执 {code}")  # in the reading step, not after "Answer"
    refusal = await cadre.wait_for_message(after=message, timeout=WAIT)
    assert cadre.message(message.message_id) is None
    assert code not in (refusal.text or "")
    assert staffed.services is not None
    async with staffed.services.database.engine.connect() as connection:
        count = await connection.scalar(select(func.count()).select_from(followup_messages))
    assert count == 0
    # A code after another command is deleted too, and the command still works.
    help_message = await cadre.send_command(f"/help {code}")
    await cadre.wait_for_message(after=help_message, timeout=WAIT)
    assert cadre.message(help_message.message_id) is None


async def test_clear_chat_deletes_the_follow_up_and_closes_it(staffed: OfflineBot) -> None:
    cadre = staffed.new_user(user_id=760_021)
    code = await submit_report(cadre)
    kept = [m.message_id for m in cadre.messages]  # the questionnaire's messages
    sent = await cadre.send_command("/followup")
    await cadre.wait_for_message(after=sent, timeout=WAIT)
    code_message = await cadre.send_text(code)
    report = await _report_after(cadre, code_message)
    await press_followup(cadre, report, FollowupAct.ANSWER)
    await cadre.wait_for_message(after=report, timeout=WAIT)
    answer = await cadre.send_text("补充：大约三月")
    latest = await _report_after(cadre, answer)
    assert cadre.message(answer.message_id) is not None
    button = _clear_button(latest)
    assert button is not None and button.first == sent.message_id
    press = await cadre.press_data(button.pack(), latest.message_id)
    await press.wait_answered(WAIT)
    await cadre.wait_for(lambda u: u.message(latest.message_id) is None, timeout=WAIT)
    remaining = [m.message_id for m in cadre.messages]
    assert all(m < sent.message_id for m in remaining)  # the cadre's and the bot's: all gone
    assert set(kept) >= set(remaining)
    # The follow-up is closed: the old buttons no longer open anything.
    again = await cadre.press_data(
        report.buttons[0][0].callback_data or "", message_id=report.message_id
    )
    assert (await again.wait_answered(WAIT)).show_alert


async def test_the_session_ended_message_offers_to_clear_the_chat(staffed: OfflineBot) -> None:
    cadre = staffed.new_user(user_id=760_031)
    code = await submit_report(cadre)
    sent = await cadre.send_command("/followup")
    await cadre.wait_for_message(after=sent, timeout=WAIT)
    await cadre.send_text(code)
    report = await _report_after(cadre, sent)
    await press_followup(cadre, report, FollowupAct.END)
    ended = await cadre.wait_for_message("/followup", after=report, timeout=WAIT)
    button = _clear_button(ended)
    assert button is not None and button.first == sent.message_id


async def test_links_from_investigators_reach_the_cadre_as_plain_text(
    staffed: OfflineBot,
) -> None:
    cadre = staffed.new_user(user_id=760_041)
    code = await submit_report(cadre)
    services = staffed.services
    assert services is not None
    async with services.database.engine.begin() as connection:
        submission_id = (await connection.execute(select(submissions.c.id))).scalar_one()
        # As if written by an investigator and missed by the scrubber (or stored earlier).
        text = "请打开以下链接核对：" + " ".join(TRACKERS)
        await connection.execute(
            followup_messages.insert().values(
                submission_id=submission_id,
                seq=0,
                day=services.digests.clock().date(),
                origin="investigator",
                text_enc=services.cipher.encrypt(text, context=followup_context(submission_id, 0)),
            )
        )
    before = _last_seq(staffed)
    _, report = await open_followup(cadre, code)
    shown = report.text or ""
    assert "请打开以下链接核对" in shown
    assert not [e for e in report.entities if e["type"] in CLICKABLE], report.entities
    assert "t[.]me/spy_desk_bot" in shown and "https[:]//track[.]example[.]org" in shown
    for tracker in TRACKERS:
        assert tracker not in shown
    assert "⚠️" in shown  # the warning line
    codes = [e for e in report.entities if e["type"] == "code"]
    assert len(codes) >= len(TRACKERS)
    previews = _previews(staffed, cadre.chat_id, before)
    assert previews and all(p == {"is_disabled": True} for p in previews)
