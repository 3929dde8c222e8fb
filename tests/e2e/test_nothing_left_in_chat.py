"""Nothing the cadre typed is left in the chat, and an edit never leaves raw text stored.

A typed answer is deleted once read and the bot shows the scrubbed answer it stored instead;
a receipt code is deleted wherever it is typed; the receipt message is protected and one tap
deletes it. Edits: the answer just given is replaced (scrubbed again), any other is refused.
The draft is read back by decrypting the FSM rows with the real key.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import select

from bot.anonymity.receipt import new_receipt_code
from bot.harness.emulator import EmulatedUser
from bot.harness.offline import OfflineBot
from bot.respondent.callbacks import Act
from storage.tables import fsm_entries
from tests.e2e.driver import (
    WAIT,
    active,
    answer_until_review,
    current_question,
    press_cells,
    start_questionnaire,
    submit,
    tap,
    type_answer,
    wait_for_question_after,
)

pytestmark = pytest.mark.usefixtures("manual_digests")

PHONE = "13800138000"


async def _stored_drafts(offline: OfflineBot) -> list[dict[str, Any]]:
    """Every FSM row, decrypted with the bot's own key (what an operator could read)."""
    assert offline.services is not None
    await offline.write_drafts()  # what the table holds once written behind
    services = offline.services
    async with services.database.engine.connect() as connection:
        rows = (await connection.execute(select(fsm_entries))).all()
    found = []
    for row in rows:
        if row.data_enc is None:
            continue
        plain = services.cipher.decrypt(row.data_enc, context=f"fsm_entries.data_enc:{row.key}")
        found.append(json.loads(plain))
    return found


async def _to_first_example(user: EmulatedUser) -> None:
    await start_questionnaire(user)
    await tap(user, Act.ANSWER, "district_dept")
    await tap(user, Act.ANSWER, "staff")
    await press_cells(user, {"freq.p1": "often"})
    await tap(user, Act.FILL)
    await tap(user, Act.DONE)
    await press_cells(user, {"impact.p1": "3"})
    await tap(user, Act.DONE)
    await tap(user, Act.TOGGLE, "p1")
    await tap(user, Act.DONE)
    assert current_question(user) == "p1_example"


async def test_a_typed_answer_is_deleted_and_shown_scrubbed(offline: OfflineBot) -> None:
    user = offline.new_user()
    await _to_first_example(user)
    sent = await user.send_text("开会太多 <b>真的</b> & 联系我 138 0013 8000")
    echo = await user.wait_for_message(after=sent, timeout=WAIT)
    await wait_for_question_after(user, echo.message_id)
    assert user.message(sent.message_id) is None  # the cadre's message is gone
    shown = echo.text or ""
    assert shown.startswith("🛡 已记录（已隐去手机号）：")
    assert "[手机号]" in shown and "0013" not in shown
    assert "<b>真的</b> &" in shown and not echo.entities  # escaped, shown as typed
    assert current_question(user) == "burden_source"  # the next question, below the echo
    assert active(user).message_id > echo.message_id

    # Numbers too: the message goes, the stored value is shown.
    await tap(user, Act.SKIP)
    await tap(user, Act.SKIP)  # change_since
    assert current_question(user) == "meetings_month"
    sent = await user.send_text("１２")
    echo = await user.wait_for_message(after=sent, timeout=WAIT)
    assert echo.text == "📝 已记录：12"
    await wait_for_question_after(user, echo.message_id)
    assert user.message(sent.message_id) is None
    # A refused answer is deleted too; an over-long text comes back scrubbed, to shorten.
    sent = await user.send_text("很多")
    await wait_for_question_after(user, sent.message_id)
    assert user.message(sent.message_id) is None
    await type_answer(user, "8")
    await tap(user, Act.ANSWER, "over_50")
    await tap(user, Act.TOGGLE, "fewer_inspections")
    await tap(user, Act.DONE)
    assert current_question(user) == "suggestion"
    long_text = "会" * 500 + PHONE
    sent = await user.send_text(long_text)
    copy = await user.wait_for_message(after=sent, timeout=WAIT)
    await wait_for_question_after(user, copy.message_id)
    assert user.message(sent.message_id) is None
    assert "505 字" in (copy.text or "") and "500 字" in (copy.text or "")  # as shown below
    assert "[手机号]" in (copy.text or "") and PHONE not in (copy.text or "")
    assert all(PHONE not in (m.text or "") for m in user.messages)
    for draft in await _stored_drafts(offline):
        assert PHONE not in json.dumps(draft, ensure_ascii=False)


async def test_a_receipt_code_is_deleted_wherever_it_is_typed(offline: OfflineBot) -> None:
    user = offline.new_user()
    code = new_receipt_code()
    # In an idle chat.
    sent = await user.send_text(f"我的回执码 {code}")
    reply = await user.wait_for_message(after=sent, timeout=WAIT)
    assert user.message(sent.message_id) is None
    assert "已立即删除" in (reply.text or "") and "/followup" in (reply.text or "")
    # As an unknown command's argument.
    sent = await user.send_command("/code", code.replace("-", ""))
    reply = await user.wait_for_message(after=sent, timeout=WAIT)
    assert user.message(sent.message_id) is None and "/followup" in (reply.text or "")
    # Inside the questionnaire, on a text question and on a button question.
    await _to_first_example(user)
    sent = await user.send_text(f"回执 {code.lower()}")
    reply = await user.wait_for_message(after=sent, timeout=WAIT)
    await wait_for_question_after(user, reply.message_id)
    assert user.message(sent.message_id) is None
    assert "回执码" in (reply.text or "") and current_question(user) == "p1_example"
    await tap(user, Act.SKIP)
    sent = await user.send_text(code)
    await wait_for_question_after(user, sent.message_id)
    assert user.message(sent.message_id) is None
    assert all(code not in (m.text or "") for m in user.messages)
    for draft in await _stored_drafts(offline):
        assert code not in json.dumps(draft) and code.replace("-", "") not in json.dumps(draft)


async def test_the_receipt_is_protected_and_the_saved_button_deletes_it(
    offline: OfflineBot,
) -> None:
    user = offline.new_user()
    await start_questionnaire(user)
    await answer_until_review(user)
    code = await submit(user)
    receipt = next(m for m in user.messages if code in (m.text or ""))
    assert receipt.raw.get("has_protected_content") is True
    assert "抄下来" in (receipt.text or "")
    assert receipt.button_texts[0] == "✅ 我已保存，删除这条消息"
    handle = await user.press("✅ 我已保存，删除这条消息", receipt)
    answer = await handle.wait_answered(WAIT)
    assert answer.text == "已删除。"
    await user.wait_for(lambda u: u.message(receipt.message_id) is None, WAIT)
    assert all(code not in (m.text or "") for m in user.messages)
    # The clear-chat button is still offered below, and still works.
    follow = await user.wait_for_message(contains="回执消息已删除", timeout=WAIT, after=0)
    handle = await user.press("🧹 清除本次对话", follow)
    await handle.wait_answered(WAIT)
    await user.wait_for(lambda u: len(u.messages) == 0, WAIT)


async def test_an_edit_of_the_answer_just_given_is_scrubbed_and_replaces_it(
    offline: OfflineBot,
) -> None:
    user = offline.new_user()
    await _to_first_example(user)
    # The cadre sends and edits at once: the bot gets the message, then the edit.
    sent = await user.send_text("会议太多")
    await user.edit_text(sent, f"会议太多，电话 {PHONE}，邮箱 li@example.com")
    notice = await user.wait_for_message(contains="已按您的修改更新", after=sent, timeout=WAIT)
    await wait_for_question_after(user, notice.message_id)
    shown = notice.text or ""
    assert "已隐去手机号、电子邮箱" in shown and "[手机号]" in shown and PHONE not in shown
    assert user.message(sent.message_id) is None  # deleted, and its edit too
    assert current_question(user) == "burden_source"
    [draft] = await _stored_drafts(offline)
    assert draft["draft"]["answers"]["p1_example"] == "会议太多，电话 [手机号]，邮箱 [邮箱]"
    everything = json.dumps(draft, ensure_ascii=False)
    assert PHONE not in everything and "li@example.com" not in everything
    # The edit counts as the answer: what is submitted is the scrubbed edit.
    await answer_until_review(user)
    assert "会议太多，电话 [手机号]" in (active(user).text or "")


async def test_an_edit_of_an_earlier_answer_is_refused(offline: OfflineBot) -> None:
    user = offline.new_user()
    await start_questionnaire(user)
    await tap(user, Act.SKIP)
    await tap(user, Act.SKIP)
    await tap(user, Act.FILL)  # every problem: never
    await tap(user, Act.DONE)
    await tap(user, Act.SKIP)  # change_since
    assert current_question(user) == "meetings_month"
    # Two answers, then an edit of the first: it is no longer the current answer.
    first = await user.send_text("12")
    second = await user.send_text("8")
    await user.edit_text(first, f"15 {PHONE}")
    refused = await user.wait_for_message(contains="这次修改没有生效", after=second, timeout=WAIT)
    await wait_for_question_after(user, refused.message_id)
    assert current_question(user) == "deadline_share"
    assert user.message(first.message_id) is None and user.message(second.message_id) is None
    [draft] = await _stored_drafts(offline)
    answers = draft["draft"]["answers"]
    assert (answers["meetings_month"], answers["inspections_month"]) == (12, 8)
    assert PHONE not in json.dumps(draft)

    # A message Telegram no longer lets the bot delete (older than 48 hours when read) stays;
    # once a button has moved on, editing it is refused and stores nothing.
    await tap(user, Act.ANSWER, "over_50")
    await tap(user, Act.DONE)
    assert current_question(user) == "suggestion"
    sent = await user.send_text("少开会")
    offline.emulator.clock.advance(48 * 3600)  # before the bot reads it
    echo = await user.wait_for_message(after=sent, timeout=WAIT)
    await wait_for_question_after(user, echo.message_id)
    assert user.message(sent.message_id) is not None
    assert current_question(user) is None  # the review
    await tap(user, Act.EDIT, question="deadline_share")
    await tap(user, Act.ANSWER, "under_10")
    assert current_question(user) is None
    review = active(user)
    await user.edit_text(sent, "少开会 13912345678")
    refused = await user.wait_for_message(contains="这次修改没有生效", after=review, timeout=WAIT)
    await wait_for_question_after(user, refused.message_id)
    [draft] = await _stored_drafts(offline)
    assert draft["draft"]["answers"]["suggestion"] == "少开会"
    assert "13912345678" not in json.dumps(draft)
