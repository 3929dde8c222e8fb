"""Quotes chosen by people, through the real bot and the emulator: an investigator marks a
report's suggestion as quotable on its /cases screen and unmarks it again; the screen says
which text is marked, the mark reaches the database with its audit entry, and a double tap
on a button shown before changes nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.cases.callbacks import CaseAct, CaseCallback
from bot.harness.emulator import EmulatedUser, Limits
from bot.harness.offline import OfflineBot
from bot.respondent.callbacks import Act
from storage.tables import answers, audit_log
from tests.e2e.driver import (
    active,
    answer_grid,
    current_question,
    start_questionnaire,
    submit,
    survey_buttons,
    tap,
    type_answer,
)
from tests.followup.flow import WAIT, case_buttons, open_newest_case, press_case

ADMIN_ID = 900_777
SUGGESTION = "少开会，多下村，把时间还给群众"


@pytest.fixture
async def staffed(tmp_path: Path, manual_digests: None) -> AsyncIterator[OfflineBot]:
    running = await OfflineBot.start(
        tmp_path / "data", limits=Limits.unlimited(), admin_ids=[ADMIN_ID]
    )
    try:
        yield running
    finally:
        await running.close()


async def _submit_with_suggestion(user: EmulatedUser) -> None:
    """Skip through the questionnaire like `answer_until_review`, but write a suggestion."""
    await start_questionnaire(user)
    for _ in range(100):
        question = current_question(user)
        if question is None:
            break
        buttons = {data.a for _, data in survey_buttons(active(user))}
        if question in ("freq", "impact"):
            await answer_grid(user, "never" if question == "freq" else "3")
        elif question.endswith("_freq"):
            await tap(user, Act.ANSWER, "never")
        elif question.endswith("_impact"):
            await tap(user, Act.ANSWER, "3")
        elif question == "suggestion":
            await type_answer(user, SUGGESTION)
        elif Act.SKIP in buttons:
            await tap(user, Act.SKIP)
        else:
            raise AssertionError(f"cannot pass {question}\n{user.transcript()}")
    await submit(user)


async def _marks(bot: OfflineBot) -> tuple[list[tuple[str, bool]], list[str]]:
    assert bot.services is not None
    async with bot.services.database.engine.connect() as connection:
        marks = (
            await connection.execute(
                select(answers.c.question_id, answers.c.quotable).where(
                    answers.c.text_enc.is_not(None)
                )
            )
        ).all()
        actions = (await connection.execute(select(audit_log.c.action))).scalars().all()
    return [(row.question_id, bool(row.quotable)) for row in marks], list(actions)


async def test_a_suggestion_is_marked_and_unmarked_by_its_button(staffed: OfflineBot) -> None:
    cadre = staffed.new_user(user_id=700_301)
    admin = staffed.new_user(user_id=ADMIN_ID)  # zh-CN, as investigators read it
    await _submit_with_suggestion(cadre)
    ref, shown = await open_newest_case(admin)
    assert SUGGESTION in (shown.text or "") and "（已标为可引用）" not in (shown.text or "")
    mark = next(d for d in case_buttons(shown) if d.a == CaseAct.QUOTE)
    assert not [d for d in case_buttons(shown) if d.a == CaseAct.UNQUOTE]
    assert any(b.text.startswith("可引用") for row in shown.buttons for b in row)
    assert all(
        len(b.callback_data.encode()) <= 64 for row in shown.buttons for b in row if b.callback_data
    )

    marked = await press_case(admin, shown, mark)
    assert "（已标为可引用）" in (marked.text or "")
    assert any(b.text.startswith("取消引用") for row in marked.buttons for b in row)
    marks, actions = await _marks(staffed)
    assert marks == [("suggestion", True)]
    assert actions.count("case.quote") == 1

    # The old "mark" button again (a double tap): nothing changes, nothing is audited.
    press = await admin.press_data(mark.pack(), marked.message_id)
    await press.wait_answered(WAIT)
    assert (await _marks(staffed))[1].count("case.quote") == 1

    unmark = next(d for d in case_buttons(marked) if d.a == CaseAct.UNQUOTE)
    assert unmark == CaseCallback(a=CaseAct.UNQUOTE, r=ref, s=mark.s, p=mark.p)
    unmarked = await press_case(admin, marked, unmark)
    assert "（已标为可引用）" not in (unmarked.text or "")
    marks, actions = await _marks(staffed)
    assert marks == [("suggestion", False)]
    assert actions.count("case.unquote") == 1


async def test_a_forged_quote_button_from_a_non_member_changes_nothing(
    staffed: OfflineBot,
) -> None:
    cadre = staffed.new_user(user_id=700_302)
    admin = staffed.new_user(user_id=ADMIN_ID)
    await _submit_with_suggestion(cadre)
    ref, shown = await open_newest_case(admin)
    mark = next(d for d in case_buttons(shown) if d.a == CaseAct.QUOTE)
    press = await cadre.press_data(mark.pack())
    await press.wait_answered(WAIT)
    marks, actions = await _marks(staffed)
    assert marks == [("suggestion", False)]
    assert "case.quote" not in actions
    # A made-up answer index is refused, also for staff.
    press = await admin.press_data(
        CaseCallback(a=CaseAct.QUOTE, r=ref, s="9").pack(), shown.message_id
    )
    await press.wait_answered(WAIT)
    assert (await _marks(staffed))[0] == [("suggestion", False)]
