"""The cadre's whole path through the real bot and the emulator: answer, go back, skip,
edit from the review, submit, receive a receipt, clear the chat — and the stored result."""

from __future__ import annotations

from bot.anonymity.receipt import receipt_hash
from bot.harness.offline import OfflineBot
from bot.respondent.callbacks import Act
from tests.e2e.conftest import StartOffline
from tests.e2e.driver import (
    active,
    answer_until_review,
    chosen_cells,
    current_question,
    grid_rows,
    press_cells,
    start_questionnaire,
    submit,
    survey_buttons,
    tap,
    type_answer,
    wait_for_question_after,
)

LONG_TEXT = "会" * 501


async def test_full_questionnaire_with_back_skip_edit_and_submit(offline: OfflineBot) -> None:
    user = offline.new_user(user_id=5550001, first_name="李", username="li_cadre")
    await start_questionnaire(user)
    first = active(user)
    assert "第 1/5 部分" in (first.text or "")

    # Optional context: skip the unit type, answer the post level.
    assert current_question(user) == "unit_type"
    await tap(user, Act.SKIP)
    assert current_question(user) == "post_level"
    await tap(user, Act.ANSWER, "staff")

    # The problems: p1 met often, p2 never, the rest "never" in one press.
    assert current_question(user) == "freq"
    assert "第 2/5 部分" in (active(user).text or "")
    await press_cells(user, {"freq.p1": "often", "freq.p2": "never"})
    await tap(user, Act.FILL)
    await tap(user, Act.DONE)
    # p2 never -> its impact is not asked; Back returns to the grid, change p2 to often.
    assert current_question(user) == "impact"
    assert grid_rows(user) == ["impact.p1"]
    await tap(user, Act.BACK)
    assert current_question(user) == "freq"
    assert chosen_cells(user)["freq.p2"] == "never"
    await press_cells(user, {"freq.p2": "often"})
    await tap(user, Act.DONE)
    assert current_question(user) == "impact"
    assert grid_rows(user) == ["impact.p1", "impact.p2"]
    await press_cells(user, {"impact.p1": "4", "impact.p2": "2"})
    await tap(user, Act.DONE)

    # An example for p1 (none for p2), with a phone number, which is masked.
    assert current_question(user) == "examples"
    await tap(user, Act.TOGGLE, "p1")
    await tap(user, Act.DONE)
    assert current_question(user) == "p1_example"
    reply = await type_answer(user, "每周开三个会传达同一文件，联系我 138 0013 8000")
    assert "🛡" in (reply.text or "") and "手机号" in (reply.text or "")
    assert current_question(user) == "burden_source"
    await tap(user, Act.SKIP)
    assert current_question(user) == "change_since"
    await tap(user, Act.ANSWER, "changed_form")

    # Figures: bad numbers are refused, full-width digits are fine.
    assert current_question(user) == "meetings_month"
    reply = await type_answer(user, "很多")
    assert "整数" in (reply.text or "")
    reply = await type_answer(user, "500")
    assert "0 到 200" in (reply.text or "")
    await type_answer(user, "１２")
    assert current_question(user) == "inspections_month"
    await type_answer(user, "8")
    assert current_question(user) == "deadline_share"
    await tap(user, Act.ANSWER, "over_50")

    # Multi-choice: tick two, untick one, tick another, Done.
    assert current_question(user) == "measures"
    await tap(user, Act.TOGGLE, "fewer_meetings_docs")
    await tap(user, Act.TOGGLE, "fewer_inspections")
    await tap(user, Act.TOGGLE, "fewer_inspections")
    await tap(user, Act.TOGGLE, "no_trace_judging")
    assert "☑️" in str(active(user).buttons)
    await tap(user, Act.DONE)

    # Free text over the limit is refused with the limit named.
    assert current_question(user) == "suggestion"
    reply = await type_answer(user, LONG_TEXT)
    assert "500" in (reply.text or "") and "501" in (reply.text or "")
    await type_answer(user, "少开会，多调研。")

    # Review: edit p1 to "never": its impact and example disappear, back at the review.
    assert current_question(user) is None
    review = active(user).text or ""
    assert "少开会，多调研。" in review and "[手机号]" in review
    await tap(user, Act.EDIT, question="freq.p1")
    assert current_question(user) == "freq"
    await press_cells(user, {"freq.p1": "never"})
    await tap(user, Act.DONE)
    # The only example picked (p1) is no longer offered, so that question is open again,
    # offering p2 alone; skipping it returns to the review.
    assert current_question(user) == "examples"
    offered = [data.v for _, data in survey_buttons(active(user)) if data.a == Act.TOGGLE]
    assert offered == ["p2"]
    await tap(user, Act.SKIP)
    assert current_question(user) is None
    review = active(user).text or ""
    assert "[手机号]" not in review

    code = await submit(user)
    assert offline.services is not None
    services = offline.services
    submission_id = await services.submissions.find_by_receipt(
        receipt_hash(code, services.keys.pseudonym_secret)
    )
    assert submission_id is not None
    stored = await services.submissions.get(submission_id)
    assert stored is not None
    expected = {
        "post_level": "staff",
        "freq.p1": "never",
        "freq.p2": "often",
        **{f"freq.p{n}": "never" for n in (3, 4, 5, 6, 10, 7, 8, 9)},
        "impact.p2": 2,
        "change_since": "changed_form",
        "meetings_month": 12,
        "inspections_month": 8,
        "deadline_share": "over_50",
        "measures": ["fewer_meetings_docs", "no_trace_judging"],
        "suggestion": "少开会，多调研。",
    }
    assert dict(stored.answers) == expected
    assert stored.day == services.survey.today()
    # The draft is gone: nothing is keyed by this person any more.
    assert await _fsm_rows(offline) == 0
    assert offline.emulator.unanswered_callbacks() == []


async def test_clear_chat_deletes_the_session(offline: OfflineBot) -> None:
    user = offline.new_user()
    await start_questionnaire(user)
    await answer_until_review(user)
    await submit(user)
    assert len(user.messages) > 3
    handle = await user.press("🧹 清除本次对话")
    answer = await handle.wait_answered(10)
    assert answer.text and "已完成" in answer.text
    await user.wait_for(lambda u: len(u.messages) == 0, timeout=10)


async def test_resume_after_restarting_the_bot(offline: OfflineBot) -> None:
    user = offline.new_user()
    await start_questionnaire(user)
    await tap(user, Act.ANSWER, "town_street")
    await tap(user, Act.ANSWER, "middle")
    await press_cells(user, {"freq.p1": "very_often"})
    await tap(user, Act.FILL)
    await tap(user, Act.DONE)
    assert current_question(user) == "impact"

    await offline.restart_bot()

    # A button on the question message still works after the restart …
    await press_cells(user, {"impact.p1": "5"})
    assert chosen_cells(user) == {"impact.p1": "5"}
    await tap(user, Act.DONE)
    assert current_question(user) == "examples"
    # … and /start offers to continue where it stopped.
    sent = await user.send_command("/start")
    offer = await user.wait_for_message(after=sent, timeout=10)
    assert "未完成" in (offer.text or "")
    handle = await user.press("▶️ 继续作答", offer)
    await handle.wait_answered(10)
    assert current_question(user) == "examples"
    await answer_until_review(user)
    code = await submit(user)
    assert offline.services is not None
    services = offline.services
    found = await services.submissions.find_by_receipt(
        receipt_hash(code, services.keys.pseudonym_secret)
    )
    assert found is not None
    stored = await services.submissions.get(found)
    assert stored is not None
    assert stored.answers["unit_type"] == "town_street"
    assert stored.answers["freq.p1"] == "very_often"
    assert stored.answers["impact.p1"] == 5


async def test_cancel_by_button_and_by_command_deletes_the_draft(offline: OfflineBot) -> None:
    user = offline.new_user()
    await start_questionnaire(user)
    await tap(user, Act.ANSWER, "district_dept")
    assert await _fsm_rows(offline) == 1
    await tap(user, Act.CANCEL)
    # Asked once first: nothing is deleted until the cadre confirms.
    assert "确定放弃" in (active(user).text or "")
    assert await _fsm_rows(offline) == 1
    await tap(user, Act.CANCEL_CONFIRM)
    assert "已取消" in (user.last_bot_message.text or "")  # type: ignore[union-attr]
    assert await _fsm_rows(offline) == 0

    await start_questionnaire(user)
    await tap(user, Act.ANSWER, "other")
    assert await _fsm_rows(offline) == 1
    sent = await user.send_command("/cancel")
    confirm = await user.wait_for_message(after=sent, timeout=10)
    assert "确定放弃" in (confirm.text or "")
    assert await _fsm_rows(offline) == 1
    await tap(user, Act.CANCEL_CONFIRM)
    reply = user.message(confirm.message_id)
    assert reply is not None and "已取消" in (reply.text or "")
    assert "彻底删除" in (reply.text or "")
    assert await _fsm_rows(offline) == 0
    sent = await user.send_command("/cancel")
    reply = await user.wait_for_message(after=sent, timeout=10)
    assert "没有可取消" in (reply.text or "")


async def test_media_and_wrong_inputs_get_a_kind_explanation(offline: OfflineBot) -> None:
    user = offline.new_user()
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
    explanations = {
        "voice": ("语音", user.send_voice),
        "photo": ("位置", user.send_photo),
        "sticker": ("贴纸", user.send_sticker),
        "document": ("文件", user.send_document),
        "video": ("视频", user.send_video),
        "location": ("位置信息", lambda: user.send_location(39.9, 116.4)),
        "contact": ("名片", user.send_contact),
    }
    for kind, (word, send) in explanations.items():
        sent = await send()  # type: ignore[operator]
        reply = await user.wait_for_message(after=sent, timeout=10)
        assert word in (reply.text or ""), kind
        # … and the question is asked again below it.
        await wait_for_question_after(user, reply.message_id)
        assert current_question(user) == "p1_example"
    # A receipt code pasted into an answer is refused.
    reply = await type_answer(user, "我的回执码是 7KQ4-M2XD-9TRW-PB3H-C6NE")
    assert "回执码" in (reply.text or "")
    assert current_question(user) == "p1_example"
    # Typing while a button question is asked: use the buttons.
    await tap(user, Act.SKIP)
    reply = await type_answer(user, "经常")
    assert "按钮" in (reply.text or "")
    assert current_question(user) == "burden_source"
    assert offline.emulator.unanswered_callbacks() == []


async def test_old_forged_and_finished_buttons_are_refused_kindly(offline: OfflineBot) -> None:
    user = offline.new_user()
    await start_questionnaire(user)
    question = active(user)
    await tap(user, Act.ANSWER, "district_dept")

    # Double tap: the same button again does not advance twice.
    handle = await user.press_data("s:ans:unit_type:other", question.message_id)
    answer = await handle.wait_answered(10)
    assert answer.text
    assert current_question(user) == "post_level"

    # Forged and garbled data.
    forged = (
        "s:cell:freq.p9:often",
        "s:cell:freq.p99:often",
        "s:fill:freq:",
        "s:ans:p9_freq:often",
        "s:zzz",
        "garbage",
        "clr:abc",
        "lang:xx",
        "s:edit:nope",
    )
    for data in forged:
        handle = await user.press_data(data, active(user).message_id)
        answer = await handle.wait_answered(10)
        assert answer.text, data
        assert current_question(user) == "post_level", data

    # A button on an older message of the same chat.
    sent = await user.send_command("/help")
    await user.wait_for_message(after=sent, timeout=10)
    handle = await user.press_data("s:ans:post_level:staff", sent.message_id)
    answer = await handle.wait_answered(10)
    assert answer.text and "之前消息上的按钮" in answer.text
    assert current_question(user) == "post_level"

    # A button from a finished session.
    await answer_until_review(user)
    review = active(user)
    await tap(user, Act.SUBMIT)
    handle = await user.press_data("s:sub", review.message_id)
    answer = await handle.wait_answered(10)
    assert answer.text and "失效" in answer.text
    assert offline.emulator.unanswered_callbacks() == []
    assert offline.services is not None
    assert await offline.services.submissions.count() == 1


async def test_daily_limit_is_friendly(start_offline: StartOffline) -> None:
    offline = await start_offline(max_submissions_per_day=1)
    user = offline.new_user()
    await start_questionnaire(user)
    await answer_until_review(user)
    await submit(user)
    sent = await user.send_command("/start")
    welcome = await user.wait_for_message(after=sent, timeout=10)
    handle = await user.press("✅ 我明白了，开始作答", welcome)
    await handle.wait_answered(10)
    limit = await user.wait_for_message(contains="上限", after=welcome, timeout=10)
    assert "1" in (limit.text or "")


async def test_language_help_commands_and_strays(offline: OfflineBot) -> None:
    user = offline.new_user(language_code="zh-hans")
    # The command menu is registered in both languages.
    menu = user.command_menu
    assert ("start", "填写问卷") in menu
    sent = await user.send_command("/help")
    reply = await user.wait_for_message(after=sent, timeout=10)
    assert "/followup" in (reply.text or "") and "使用说明" in (reply.text or "")
    sent = await user.send_text("你好")
    reply = await user.wait_for_message(after=sent, timeout=10)
    assert "/start" in (reply.text or "")
    sent = await user.send_command("/frobnicate")
    reply = await user.wait_for_message(after=sent, timeout=10)
    assert "不认识" in (reply.text or "")
    sent = await user.send_command("/privacy")
    reply = await user.wait_for_message(after=sent, timeout=10)
    assert "看不到是谁写的" in (reply.text or "") and "Telegram 知道" in (reply.text or "")

    # Not a subscriber: the choice is kept in memory only, and the bot says so.
    sent = await user.send_command("/language")
    menu_message = await user.wait_for_message(after=sent, timeout=10)
    handle = await user.press("English", menu_message)
    await handle.wait_answered(10)
    chosen = await user.wait_for_message(contains="Language set", after=menu_message, timeout=10)
    assert "not stored" in (chosen.text or "")
    await start_questionnaire(user)
    assert "Part 1 of 5" in (active(user).text or "")
    assert await _subscriber_rows(offline) == 0


async def test_english_speakers_get_english_and_english_questions(offline: OfflineBot) -> None:
    user = offline.new_user(language_code="en")
    await start_questionnaire(user)
    text = active(user).text or ""
    assert "Part 1 of 5" in text
    assert all(ch < "\u4e00" or ch > "\u9fff" for ch in text.split("\n")[-1])


async def _subscriber_rows(offline: OfflineBot) -> int:
    from sqlalchemy import func, select

    from storage.tables import subscribers

    assert offline.services is not None
    async with offline.services.database.engine.connect() as connection:
        count = await connection.scalar(select(func.count()).select_from(subscribers))
    return int(count or 0)


async def _fsm_rows(offline: OfflineBot) -> int:
    from sqlalchemy import func, select

    from storage.tables import fsm_entries

    assert offline.services is not None
    await offline.write_drafts()  # what the table holds once written behind
    async with offline.services.database.engine.connect() as connection:
        count = await connection.scalar(select(func.count()).select_from(fsm_entries))
    return int(count or 0)
