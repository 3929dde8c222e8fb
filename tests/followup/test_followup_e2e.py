"""The follow-up round trip through the real bot and the emulator: a cadre submits, an
investigator replies through /cases, the cadre reads it with the receipt code and answers,
the investigator sees the answer. Plus: wrong codes, the daily try limit, a code pasted into
an answer, the code message deleted, and staff-only buttons."""

from __future__ import annotations

from sqlalchemy import select

from bot.cases.callbacks import CaseAct, CaseCallback, FollowupAct
from bot.harness.offline import OfflineBot
from storage.tables import audit_log, cases, followup_messages

from .conftest import ADMIN_ID
from .flow import (
    WAIT,
    case_buttons,
    followup_buttons,
    open_followup,
    open_newest_case,
    press_case,
    press_followup,
    staff_text_action,
    submit_report,
)

QUESTION = "请问会议通知大约是哪个月下发的？"
ANSWER = "大约是三月份，全镇都收到了"


async def test_round_trip(staffed: OfflineBot) -> None:
    cadre = staffed.new_user(user_id=700_001)
    admin = staffed.new_user(user_id=ADMIN_ID, language_code="en")
    code = await submit_report(cadre)

    assert staffed.dispatcher is not None  # the daily retention job runs with the bot
    job = staffed.dispatcher.workflow_data["case_runtime"].job
    assert job is not None and job.running
    ref, case_message = await open_newest_case(admin)
    assert 6 <= len(ref) <= 8
    assert code not in (case_message.text or "") and ref not in code
    refreshed = await staff_text_action(admin, case_message, CaseAct.REPLY, ref, QUESTION)
    assert QUESTION in (refreshed.text or "")

    code_message, report = await open_followup(cadre, code)
    assert cadre.message(code_message.message_id) is None  # the code was deleted
    assert QUESTION in (report.text or "")
    assert code not in (report.text or "")  # never echoed
    assert {b.a for b in followup_buttons(report)} >= {FollowupAct.ANSWER, FollowupAct.END}

    await press_followup(cadre, report, FollowupAct.ANSWER)
    sent = await cadre.send_text(ANSWER + "，电话 13912345678")
    thanks = await cadre.wait_for_message(after=sent, timeout=WAIT)
    assert "13912345678" not in (thanks.text or "")
    again = await cadre.wait_for_message(
        where=lambda m: ANSWER in (m.text or ""), after=thanks, timeout=WAIT
    )
    assert "13912345678" not in (again.text or "")

    # The investigator sees the answer (scrubbed) under the case.
    _, case_message = await open_newest_case(admin)
    assert ANSWER in (case_message.text or "")
    assert "13912345678" not in (case_message.text or "")

    # Finishing ends the session: nothing of it in the session store, nor in the FSM.
    await press_followup(cadre, again, FollowupAct.END)
    await cadre.wait_for_message("/followup", after=again, timeout=WAIT)
    assert staffed.services is not None and staffed.dispatcher is not None
    from aiogram.fsm.storage.base import StorageKey

    assert staffed.bot is not None
    key = StorageKey(bot_id=staffed.bot.id, chat_id=cadre.chat_id, user_id=cadre.id)
    assert await staffed.dispatcher.storage.get_data(key) == {}
    assert await staffed.dispatcher.storage.get_state(key) is None
    assert await staffed.dispatcher.workflow_data["followup_sessions"].get(key) is None

    async with staffed.services.database.engine.connect() as connection:
        origins = (await connection.execute(select(followup_messages.c.origin))).scalars().all()
        actions = (await connection.execute(select(audit_log.c.action))).scalars().all()
    assert sorted(origins) == ["cadre", "investigator"]
    assert "case.reply" in actions and "case.view" in actions


async def test_status_and_labels_by_buttons(staffed: OfflineBot) -> None:
    cadre = staffed.new_user(user_id=700_011)
    admin = staffed.new_user(user_id=ADMIN_ID, language_code="en")
    code = await submit_report(cadre)
    ref, case_message = await open_newest_case(admin)
    assert staffed.services is not None  # the answers, with the questionnaire's zh-CN labels
    # A grid row reads under its own label, with the label of the choice made.
    grid_row = next(f for f in staffed.services.questionnaire.answer_fields if f.row is not None)
    lines = [
        f"{grid_row.label_for('zh-CN')}: {grid_row.choice_label(choice, 'zh-CN')}"
        for choice in grid_row.choice_ids
    ]
    assert any(line in (case_message.text or "") for line in lines), case_message.text
    menu = await press_case(admin, case_message, CaseCallback(a=CaseAct.STATUS_MENU, r=ref))
    assert CaseCallback(a=CaseAct.SET_STATUS, r=ref, s="verifying") in case_buttons(menu)
    shown = await press_case(admin, menu, CaseCallback(a=CaseAct.SET_STATUS, r=ref, s="verifying"))
    assert "Checking" in (shown.text or "")
    labelled = await staff_text_action(admin, shown, CaseAct.LABEL, ref, "会议过多")
    assert "会议过多" in (labelled.text or "")
    noted = await staff_text_action(admin, labelled, CaseAct.NOTE, ref, "内部备注：待核实")
    assert "内部备注" in (noted.text or "")

    # The cadre sees the new status but never the internal note or the labels.
    _, report = await open_followup(cadre, code)
    assert "内部备注" not in (report.text or "") and "会议过多" not in (report.text or "")
    assert staffed.services is not None
    async with staffed.services.database.engine.connect() as connection:
        row = (await connection.execute(select(cases.c.status, cases.c.labels))).one()
    assert tuple(row) == ("verifying", "会议过多")


async def test_wrong_codes_and_the_daily_limit(staffed: OfflineBot) -> None:
    cadre = staffed.new_user(user_id=700_021)
    code = await submit_report(cadre)
    sent = await cadre.send_command("/followup")
    await cadre.wait_for_message(after=sent, timeout=WAIT)
    wrong_answers = []
    for guess in ("AAAA-BBBB-CCCC-DDDD-EEEE", "not a code", "1234", "ZZZZ-9999-ZZZZ-9999-ZZZZ"):
        message = await cadre.send_text(guess)
        reply = await cadre.wait_for_message(after=message, timeout=WAIT)
        assert cadre.message(message.message_id) is None  # deleted, right or wrong
        wrong_answers.append(reply.text)
    assert len(set(wrong_answers)) == 1  # one generic answer, whatever was wrong
    # The fifth try is the last one of the day — even the right code then fails tomorrow.
    message = await cadre.send_text("QQQQ-1111-QQQQ-1111-QQQQ")
    await cadre.wait_for_message(after=message, timeout=WAIT)
    _, refused = await open_followup(cadre, code)
    assert refused.text != wrong_answers[0]
    assert "5" in (refused.text or "")
    assert not followup_buttons(refused)


async def test_a_receipt_in_an_answer_is_refused(staffed: OfflineBot) -> None:
    cadre = staffed.new_user(user_id=700_031)
    code = await submit_report(cadre)
    other = "7KQ4-M2XD-9TRW-PB3H-C6NE"
    _, report = await open_followup(cadre, code)
    await press_followup(cadre, report, FollowupAct.ANSWER)
    prompt = await cadre.wait_for_message(after=report, timeout=WAIT)
    message = await cadre.send_text(f"我的回执是 {other}，补充一点")
    refusal = await cadre.wait_for_message(after=message, timeout=WAIT)
    assert other not in (refusal.text or "") and prompt.message_id < refusal.message_id
    assert cadre.message(message.message_id) is None
    assert staffed.services is not None
    async with staffed.services.database.engine.connect() as connection:
        stored = (await connection.execute(select(followup_messages))).all()
    assert stored == []


async def test_non_staff_are_refused_cases_and_forged_buttons(staffed: OfflineBot) -> None:
    cadre = staffed.new_user(user_id=700_041, language_code="en")
    await submit_report(cadre)
    sent = await cadre.send_command("/cases")
    reply = await cadre.wait_for_message(after=sent, timeout=WAIT)
    assert "investigators" in (reply.text or "")
    assert not case_buttons(reply)
    assert staffed.services is not None
    async with staffed.services.database.engine.connect() as connection:
        ref = (await connection.execute(select(cases.c.ref))).scalar_one()
    for data in (
        CaseCallback(a=CaseAct.VIEW, r=ref),
        CaseCallback(a=CaseAct.SET_STATUS, r=ref, s="closed"),
        CaseCallback(a=CaseAct.REPLY, r=ref),
        CaseCallback(a=CaseAct.LIST, s="new"),
    ):
        press = await cadre.press_data(data.pack())
        answer = await press.wait_answered(WAIT)
        assert answer.show_alert and "investigators" in (answer.text or "")
    sent = await cadre.send_command("/audit")
    reply = await cadre.wait_for_message(after=sent, timeout=WAIT)
    assert "administrators" in (reply.text or "")
    async with staffed.services.database.engine.connect() as connection:
        status = (await connection.execute(select(cases.c.status))).scalar_one()
        audit_rows = (await connection.execute(select(audit_log))).all()
    assert status == "new" and audit_rows == []


async def test_admins_read_the_audit_log(staffed: OfflineBot) -> None:
    cadre = staffed.new_user(user_id=700_051)
    admin = staffed.new_user(user_id=ADMIN_ID, language_code="en")
    await submit_report(cadre)
    ref, _ = await open_newest_case(admin)
    sent = await admin.send_command("/audit")
    reply = await admin.wait_for_message(after=sent, timeout=WAIT)
    assert ref in (reply.text or "") and "case.view" in (reply.text or "")
    assert str(ADMIN_ID) in (reply.text or "")
