"""Questionnaire version 2 through the real bot and the emulator: the problems grid and the
impact grid, an example picked and typed (and scrubbed), Back into a grid and an edit of a
grid row from the review keeping what was answered, cancel with its confirmation and a
restore within the minute, and the stored answer keys. A draft begun on version 1 before the
bot was moved to version 2 still finishes, and is stored, on version 1."""

from __future__ import annotations

from sqlalchemy import func, select

from bot.anonymity.receipt import receipt_hash
from bot.config import DEFAULT_QUESTIONNAIRE
from bot.harness.emulator import EmulatedUser
from bot.harness.offline import OfflineBot
from bot.respondent.callbacks import Act
from storage.repositories import StoredSubmission
from storage.tables import fsm_entries
from tests.e2e.conftest import StartOffline
from tests.e2e.driver import (
    WAIT,
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
)

VERSION_1 = DEFAULT_QUESTIONNAIRE.parent / "earlier" / "formalism-v1.yaml"
PROBLEMS = ("p1", "p2", "p3", "p4", "p5", "p6", "p10", "p7", "p8", "p9")
PHONE = "13800138000"
EXAMPLE = "镇里让每个村都签责任状，出了事就追村干部的责任，联系我 "


def _acts(user: EmulatedUser) -> set[Act]:
    return {data.a for _, data in survey_buttons(active(user))}


def _offered(user: EmulatedUser) -> list[str]:
    """The choices a multi-choice question offers now, in order."""
    return [data.v for _, data in survey_buttons(active(user)) if data.a == Act.TOGGLE]


async def _stored(offline: OfflineBot, code: str) -> StoredSubmission:
    assert offline.services is not None
    services = offline.services
    found = await services.submissions.find_by_receipt(
        receipt_hash(code, services.keys.pseudonym_secret)
    )
    assert found is not None
    stored = await services.submissions.get(found)
    assert stored is not None
    return stored


async def _fsm_rows(offline: OfflineBot) -> int:
    assert offline.services is not None
    await offline.write_drafts()  # what the table holds once written behind
    async with offline.services.database.engine.connect() as connection:
        count = await connection.scalar(select(func.count()).select_from(fsm_entries))
    return int(count or 0)


async def test_a_cadre_who_meets_problems_walks_version_2_to_the_end(
    offline: OfflineBot,
) -> None:
    user = offline.new_user()
    await start_questionnaire(user)
    await tap(user, Act.ANSWER, "town_street")
    await tap(user, Act.SKIP)  # post_level

    # The problems: one grid, its rows in the questionnaire's order; required, so no Done yet.
    assert current_question(user) == "freq"
    assert "第 2/5 部分" in (active(user).text or "")
    assert grid_rows(user) == [f"freq.{row}" for row in PROBLEMS]
    assert Act.DONE not in _acts(user)
    met = {"freq.p3": "often", "freq.p10": "very_often", "freq.p5": "sometimes"}
    await press_cells(user, met)
    assert chosen_cells(user) == met
    await tap(user, Act.FILL)  # the rest: never
    frequencies = {f"freq.{row}": "never" for row in PROBLEMS} | met
    assert chosen_cells(user) == frequencies
    await tap(user, Act.DONE)

    # Impact: only the problems met often or more.
    assert current_question(user) == "impact"
    assert grid_rows(user) == ["impact.p3", "impact.p10"]
    await press_cells(user, {"impact.p3": "4"})
    # Back into the problems grid: every answer is still there, and the impact too.
    await tap(user, Act.BACK)
    assert current_question(user) == "freq"
    assert chosen_cells(user) == frequencies
    await tap(user, Act.DONE)
    assert current_question(user) == "impact"
    assert chosen_cells(user) == {"impact.p3": "4"}
    await press_cells(user, {"impact.p10": "5"})
    impacts = {"impact.p3": "4", "impact.p10": "5"}

    # Cancel asks first; "keep going" is the same question, untouched.
    await tap(user, Act.CANCEL)
    assert "确定放弃" in (active(user).text or "")
    await tap(user, Act.CANCEL_KEEP)
    assert current_question(user) == "impact" and chosen_cells(user) == impacts
    # Discard: the draft leaves storage at once; restored within the minute, it is back on
    # the same question with its answers.
    await tap(user, Act.CANCEL)
    await tap(user, Act.CANCEL_CONFIRM)
    assert "已取消" in (active(user).text or "")
    assert _acts(user) == {Act.RESTORE}
    assert await _fsm_rows(offline) == 0
    restored = await tap(user, Act.RESTORE)
    assert restored.text and "已恢复" in restored.text
    assert current_question(user) == "impact"
    assert chosen_cells(user) == impacts
    assert await _fsm_rows(offline) == 1
    await tap(user, Act.DONE)

    # Examples: offered for the problems met often or more; the one picked is asked for,
    # by its name, and what is typed is stored scrubbed.
    assert current_question(user) == "examples"
    assert _offered(user) == ["p3", "p10"]
    await tap(user, Act.TOGGLE, "p10")
    await tap(user, Act.DONE)
    assert current_question(user) == "p10_example"
    assert "层层下压" in (active(user).text or "")
    reply = await type_answer(user, EXAMPLE + PHONE)
    assert "🛡" in (reply.text or "") and "[手机号]" in (reply.text or "")

    assert current_question(user) == "burden_source"
    await tap(user, Act.TOGGLE, "county")
    await tap(user, Act.TOGGLE, "own_unit")
    await tap(user, Act.DONE)
    assert current_question(user) == "change_since"
    await tap(user, Act.ANSWER, "changed_form")
    assert current_question(user) == "meetings_month"
    await type_answer(user, "6")
    await type_answer(user, "4")
    assert current_question(user) == "deadline_share"
    await tap(user, Act.ANSWER, "from_30_to_50")
    assert current_question(user) == "measures"
    await tap(user, Act.TOGGLE, "fewer_inspections")
    await tap(user, Act.TOGGLE, "other")
    await tap(user, Act.DONE)
    assert current_question(user) == "measures_other"
    await type_answer(user, "考核结果向基层公开")
    assert current_question(user) == "suggestion"
    await tap(user, Act.SKIP)

    # The review; a grid row edited from it opens the grid with its answers as they were.
    assert current_question(user) is None
    review = active(user).text or ""
    assert "[手机号]" in review and PHONE not in review
    await tap(user, Act.EDIT, question="freq.p3")
    assert current_question(user) == "freq"
    assert chosen_cells(user) == frequencies
    await press_cells(user, {"freq.p3": "sometimes"})  # no longer often: its impact goes
    await tap(user, Act.DONE)
    assert current_question(user) is None

    code = await submit(user)
    stored = await _stored(offline, code)
    assert (stored.questionnaire_id, stored.questionnaire_version) == ("formalism", 2)
    assert dict(stored.answers) == {
        "unit_type": "town_street",
        **{f"freq.{row}": "never" for row in PROBLEMS},
        "freq.p3": "sometimes",
        "freq.p5": "sometimes",
        "freq.p10": "very_often",
        "impact.p10": 5,
        "examples": ["p10"],
        "p10_example": EXAMPLE + "[手机号]",
        "burden_source": ["county", "own_unit"],
        "change_since": "changed_form",
        "meetings_month": 6,
        "inspections_month": 4,
        "deadline_share": "from_30_to_50",
        "measures": ["fewer_inspections", "other"],
        "measures_other": "考核结果向基层公开",
    }
    assert await _fsm_rows(offline) == 0


async def test_a_draft_begun_on_version_1_finishes_on_version_1(
    start_offline: StartOffline,
) -> None:
    offline = await start_offline(questionnaire=VERSION_1)
    assert offline.services is not None
    assert offline.services.questionnaire.version == 1
    user = offline.new_user()
    await start_questionnaire(user)
    await tap(user, Act.ANSWER, "district_dept")
    await tap(user, Act.ANSWER, "staff")
    assert current_question(user) == "p1_freq"
    await tap(user, Act.ANSWER, "often")
    assert current_question(user) == "p1_impact"

    # The bot is moved to the shipped version 2, on the same data.
    await offline.stop_bot()
    offline.settings = offline.settings.model_copy(update={"questionnaire": DEFAULT_QUESTIONNAIRE})
    await offline.start_bot()
    assert offline.services is not None
    assert offline.services.questionnaire.version == 2

    # The draft's own question still takes its button, and /start resumes it, on version 1.
    await tap(user, Act.ANSWER, "4")
    assert current_question(user) == "p1_example"
    sent = await user.send_command("/start")
    offer = await user.wait_for_message(after=sent, timeout=WAIT)
    assert "未完成" in (offer.text or "")
    handle = await user.press("▶️ 继续作答", offer)
    await handle.wait_answered(WAIT)
    assert current_question(user) == "p1_example"
    await answer_until_review(user)
    stored = await _stored(offline, await submit(user))
    assert (stored.questionnaire_id, stored.questionnaire_version) == ("formalism", 1)
    assert stored.answers["unit_type"] == "district_dept"
    assert (stored.answers["p1_freq"], stored.answers["p1_impact"]) == ("often", 4)
    assert {f"p{n}_freq" for n in range(2, 10)} <= set(stored.answers)
    assert not any("." in key for key in stored.answers)  # no grid row of version 2

    # A cadre who starts now gets version 2.
    newcomer = offline.new_user()
    await start_questionnaire(newcomer)
    assert current_question(newcomer) == "unit_type"
    await tap(newcomer, Act.SKIP)
    await tap(newcomer, Act.SKIP)
    assert current_question(newcomer) == "freq"
    await answer_until_review(newcomer)
    fresh = await _stored(offline, await submit(newcomer))
    assert fresh.questionnaire_version == 2
    assert {f"freq.{row}" for row in PROBLEMS} <= set(fresh.answers)
