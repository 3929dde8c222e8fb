"""A long case is shown in pages: no message over 4096 characters (as Telegram counts them,
after parsing the HTML), every page carries the action buttons, the follow-up thread is one
button away, and the pages together show everything. Unit-level through the emulator's own
HTML parser (end to end: `tests/followup/test_case_pages_e2e.py`)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest

from bot.cases import screens
from bot.cases.callbacks import CaseAct, CaseCallback
from bot.config import DEFAULT_QUESTIONNAIRE
from bot.harness.emulator.formatting import format_text, utf16_length
from bot.i18n import make_i18n
from bot.questionnaire import load_questionnaire
from bot.statuses import CaseStatus
from storage.repositories import CaseDetail, CaseSummary, StoredSubmission, ThreadMessage

DAY = date(2026, 11, 2)
REF = "abcd2345"
ACTIONS = {CaseAct.REPLY, CaseAct.STATUS_MENU, CaseAct.LABEL, CaseAct.NOTE, CaseAct.LIST}


@pytest.fixture(autouse=True)
def english() -> Iterator[None]:
    i18n = make_i18n("en")
    with i18n.context(), i18n.use_locale("en"):
        yield


def _long_case(answers: int, messages: int) -> tuple[CaseDetail, StoredSubmission]:
    summary = CaseSummary("s" * 32, REF, CaseStatus.NEW, DAY, DAY, ("标签",))
    thread = [
        ThreadMessage("investigator" if i % 2 else "cadre", DAY, f"消息{i}：" + "细节&<说明>" * 330)
        for i in range(messages)
    ]
    submission = StoredSubmission(
        id="s" * 32,
        questionnaire_id="q",
        questionnaire_version=1,
        campaign_id=None,
        day=DAY,
        answers={f"extra_{i:02d}": f"回答{i}：" + "很长的叙述&" * 300 for i in range(answers)},
    )
    return CaseDetail(summary, thread), submission


def _walk_pages(detail: CaseDetail, submission: StoredSubmission) -> list[screens.Screen]:
    questionnaire = load_questionnaire(DEFAULT_QUESTIONNAIRE)
    pages = [screens.case_screen(detail, submission, questionnaire, 0)]
    while True:
        forward = [
            CaseCallback.unpack(b.callback_data)
            for row in pages[-1].markup.inline_keyboard  # type: ignore[union-attr]
            for b in row
            if b.text == "▶" and b.callback_data
        ]
        if not forward:
            return pages
        pages.append(screens.case_screen(detail, submission, questionnaire, forward[0].p))


def test_a_long_case_is_paged_within_telegrams_limits() -> None:
    detail, submission = _long_case(answers=12, messages=8)
    pages = _walk_pages(detail, submission)
    assert len(pages) > 3
    bodies = []
    for page in pages:
        parsed = format_text(page.text, parse_mode="HTML")  # raises on broken HTML
        assert utf16_length(parsed.text) <= 4096
        assert page.markup is not None
        data = [b.callback_data for row in page.markup.inline_keyboard for b in row]
        assert all(d is not None and len(d.encode()) <= 64 for d in data)
        acts = {CaseCallback.unpack(d).a for d in data if d}
        assert acts >= ACTIONS  # the action buttons are on every page
        lines = parsed.text.split("\n")
        page_line = next(i for i, line in enumerate(lines) if line.startswith("Page "))
        bodies.append("".join(lines[page_line + 1 :]))
    flat = "".join(bodies).replace("↳ ", "")
    for message in detail.thread:
        assert message.text in flat  # the whole thread is reachable, nothing clipped
    for value in submission.answers.values():
        assert str(value) in flat


def test_the_follow_up_button_jumps_to_the_thread() -> None:
    detail, submission = _long_case(answers=12, messages=2)
    questionnaire = load_questionnaire(DEFAULT_QUESTIONNAIRE)
    first = screens.case_screen(detail, submission, questionnaire, 0)
    assert first.markup is not None
    jump = next(
        CaseCallback.unpack(b.callback_data)
        for row in first.markup.inline_keyboard
        for b in row
        if b.callback_data and "Follow-up" in b.text
    )
    assert jump.a == CaseAct.VIEW and jump.p > 0
    thread_page = screens.case_screen(detail, submission, questionnaire, jump.p)
    assert "<b>Follow-up</b>" in thread_page.text and "消息0" in thread_page.text


def test_a_short_case_is_one_page_without_page_buttons() -> None:
    detail, submission = _long_case(answers=2, messages=1)
    detail = CaseDetail(detail.summary, [ThreadMessage("cadre", DAY, "短消息")])
    submission.answers.update({key: "短" for key in submission.answers})
    screen = screens.case_screen(detail, submission, load_questionnaire(DEFAULT_QUESTIONNAIRE))
    assert screen.markup is not None
    texts = {b.text for row in screen.markup.inline_keyboard for b in row}
    assert "▶" not in texts and "Page" not in screen.text
