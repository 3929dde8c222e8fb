"""The review, by section: a heading per section, a grid's label once above its rows (each
named by its own label), every item numbered with its own edit button (a grid's rows edit the
grid), long answers shortened so that the message fits Telegram's 4096 characters and the
keyboard its 100 buttons."""

from __future__ import annotations

from typing import Any

from bot.conversation import screens
from bot.conversation.model import Act, Press
from bot.i18n.text import use_locale
from bot.questionnaire import parse_questionnaire
from bot.questionnaire.engine import Engine, ReviewItem, ReviewStep
from tests.conversation import test_core
from tests.conversation.questionnaires import grid_questionnaire
from tests.conversation.test_core import Services, _chat, _consent
from tests.questionnaire.builders import small_data, text

services = test_core.services  # the fixture: real services on a migrated SQLite database


async def _review(services: Services) -> test_core.Chat:
    chat = _chat(services)
    await _consent(chat)
    await chat.press(Act.ANSWER, "village")
    await chat.press(Act.CELL, "often")
    await chat.press(Act.FILL)
    await chat.press(Act.DONE)
    await chat.press(Act.CELL, "5")
    await chat.press(Act.DONE)
    await chat.press(Act.TOGGLE, "p1")
    await chat.press(Act.DONE)
    await chat.type("开会太多")
    await chat.type("9")
    await chat.press(Act.SKIP)
    assert chat.question() is None
    return chat


async def test_the_review_is_grouped_by_section_and_names_each_row(services: Services) -> None:
    chat = await _review(services)
    body = chat.screen().body
    headings = ["<b>About you</b>", "<b>Problems</b>", "<b>Figures</b>", "<b>Suggestions</b>"]
    assert [body.index(h) for h in headings] == sorted(body.index(h) for h in headings)
    expected = [
        "1. Where do you work?\n   → Village",
        "<i>How often, last year?</i>\n2. Meetings about meetings → Often\n"
        "3. Piling on targets → Never\n4. Paper trails over results → Never",
        "<i>How much does it weigh?</i>\n5. Meetings about meetings → 5 / 5",
        "6. Which would you give an example of?\n   → Meetings about meetings",
        "7. An example: Meetings about meetings\n   → 开会太多",
        "8. Meetings last month?\n   → 9",
        "9. Any suggestion?\n   → (skipped)",
    ]
    for part in expected:
        assert part in body
    assert body.index("<b>Problems</b>") < body.index("<i>How often") < body.index("<b>Figures")


async def test_every_item_has_its_own_edit_and_a_row_edits_its_grid(services: Services) -> None:
    chat = await _review(services)
    review = chat.screen()
    edits = [o for o in review.options if o.action.act == Act.EDIT]
    assert [o.label for o in edits] == [f"✏️{n}" for n in range(1, 10)]
    assert [o.action.question for o in edits[:5]] == [
        "unit_type",
        "freq.p1",
        "freq.p2",
        "freq.p3",
        "impact.p1",
    ]
    ref = chat.newest_with_options()
    await chat._run(Press(edits[2].action, ref), ref)  # "Piling on targets"
    assert chat.question() == "freq"
    grid_on = chat.newest_with_options()
    cell = next(o for o in chat.screen().grid[1].options if o.action.value == "sometimes")
    await chat._run(Press(cell.action, grid_on), grid_on)
    row = chat.screen().grid[1]
    assert next(o.action.value for o in row.options if o.selected) == "sometimes"
    await chat.press(Act.DONE)
    assert chat.question() is None
    assert "3. Piling on targets → Sometimes" in chat.screen().body


def _ten_examples() -> tuple[Engine, ReviewStep]:
    data: dict[str, Any] = small_data()
    data["sections"] = [
        {
            "id": "examples",
            "title": text("例子", "Examples"),
            "questions": [
                {
                    "id": f"example_{n}",
                    "type": "text",
                    "max_length": 500,
                    "label": text(f"例子 {n}", f"Example {n}"),
                }
                for n in range(1, 11)
            ],
        }
    ]
    engine = Engine(parse_questionnaire(data, "ten.yaml"))
    outcome = engine.start()
    for n in range(1, 11):
        outcome = engine.answer(outcome.draft, f"{n}" + "长" * (500 - len(str(n))))
        assert outcome.error is None
    assert isinstance(outcome.step, ReviewStep)
    return engine, outcome.step


def test_ten_long_examples_are_shortened_to_fit_one_message() -> None:
    _engine, step = _ten_examples()
    for locale in ("zh-CN", "en"):
        with use_locale(locale):
            screen = screens.review_screen(step, locale, notice="⚠️ notice")
        whole = "\n\n".join([*screen.notices, screen.body])
        assert len(whole) <= screens.MESSAGE_LIMIT
        for n in range(1, 11):
            line = next(ln for ln in screen.body.splitlines() if ln.startswith(f"   → {n}长"))
            assert line.endswith("…") and len(line) < 200
        assert len(screen.options) <= screens.BUTTON_LIMIT
        edits = [o.action.question for o in screen.options if o.action.act == Act.EDIT]
        assert edits == [f"example_{n}" for n in range(1, 11)]


def _many(count: int) -> ReviewStep:
    questionnaire = grid_questionnaire()
    freq = questionnaire.question("freq")
    section = questionnaire.section_of("freq")
    items = tuple(
        ReviewItem(section, freq, freq.rows[n % 3], f"freq.p{n % 3 + 1}", "often")
        for n in range(count)
    )
    return ReviewStep(items)


def test_a_very_long_review_leaves_out_whole_lines_and_buttons_fit() -> None:
    step = _many(400)
    with use_locale("en"):
        screen = screens.review_screen(step, "en")
    assert len(screen.body) <= screens.REVIEW_BUDGET
    assert screen.body.endswith("\n…")
    assert screen.body.count("<i>") == screen.body.count("</i>")  # no tag cut in half
    assert screen.body.count("<b>") == screen.body.count("</b>")
    assert len(screen.options) <= screens.BUTTON_LIMIT
    assert all(len(o.label) <= 64 for o in screen.options)
    acts = [o.action.act for o in screen.options]
    assert acts[-2:] == [Act.SUBMIT, Act.CANCEL]


def test_up_to_a_keyboard_full_every_item_keeps_its_own_edit() -> None:
    with use_locale("en"):
        screen = screens.review_screen(_many(98), "en")
    edits = [o for o in screen.options if o.action.act == Act.EDIT]
    assert len(edits) == 98 and len(screen.options) == 100
    with use_locale("en"):
        crowded = screens.review_screen(_many(99), "en")
    edits = [o for o in crowded.options if o.action.act == Act.EDIT]
    assert [o.action.question for o in edits] == ["freq"]  # one per question
    assert len(crowded.options) <= screens.BUTTON_LIMIT
