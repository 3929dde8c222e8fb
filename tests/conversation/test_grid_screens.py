"""Grid questions through the core and as screens: the numbered rows in a chat message and
not on a page, a cell per choice or per integer, the fill and Done buttons only when they
mean something, presses answered in place; choices offered by earlier answers; progress by
parts; the welcome's real length; a typed answer shows the next question before the old one
retires."""

from __future__ import annotations

from dataclasses import dataclass, replace

from bot.conversation import screens
from bot.conversation.model import (
    Act,
    AnswerPress,
    Cadre,
    Channel,
    Press,
    Replace,
    Retire,
    Show,
)
from bot.conversation.state import MemoryStates
from bot.i18n.text import use_locale
from bot.questionnaire import parse_questionnaire
from bot.questionnaire.engine import Engine, QuestionStep
from tests.conversation import test_core
from tests.conversation.questionnaires import grid_data, grid_questionnaire
from tests.conversation.test_core import Chat, Services, _consent

services = test_core.services  # the fixture: real services on a migrated SQLite database


@dataclass
class LocaleChat(Chat):
    locale: str = "en"
    channel: Channel = Channel.TELEGRAM

    @property
    def cadre(self) -> Cadre:
        return replace(super().cadre, locale=self.locale, channel=self.channel)


def _chat(services: Services, locale: str = "en", channel: Channel = Channel.TELEGRAM) -> Chat:
    return LocaleChat(
        services.core(), MemoryStates(), services.pseudonymizer, locale=locale, channel=channel
    )


def _freq_step(answers: dict[str, str] | None = None) -> tuple[Engine, QuestionStep]:
    engine = Engine(grid_questionnaire())
    outcome = engine.answer(engine.start().draft, "town")
    for key, value in (answers or {}).items():
        outcome = engine.answer_cell(outcome.draft, key, value, question_id="freq")
        assert outcome.error is None
    assert isinstance(outcome.step, QuestionStep)
    return engine, outcome.step


def test_a_chat_grid_lists_its_rows_by_number_and_a_page_does_not() -> None:
    data = grid_data()
    data["sections"][1]["questions"][0]["rows"][0]["label"] = {"zh-CN": "开会<多>", "en": "A<B"}
    questionnaire = parse_questionnaire(data, "grids.yaml")
    engine = Engine(questionnaire)
    step = engine.answer(engine.start().draft, "town").step
    assert isinstance(step, QuestionStep)
    with use_locale("zh-CN"):
        chat = screens.question_screen(step, questionnaire, "zh-CN")
        page = screens.question_screen(step, questionnaire, "zh-CN", channel=Channel.WEB)
    assert "1. 开会&lt;多&gt;\n2. 层层加码\n3. 重留痕轻实效" in chat.body
    assert (
        "<b>过去一年，下列情况您遇到的频率？</b>" in chat.body
        and "<i>每行选一项。</i>" in chat.body
    )
    assert "层层加码" not in page.body and "1." not in page.body
    assert [row.label for row in page.grid] == ["开会<多>", "层层加码", "重留痕轻实效"]
    assert [row.number for row in page.grid] == [1, 2, 3]
    assert chat.grid == page.grid


def test_a_choice_grid_has_a_cell_per_choice_and_marks_the_chosen_one() -> None:
    engine, step = _freq_step({"freq.p2": "often"})
    with use_locale("en"):
        screen = screens.question_screen(step, engine.questionnaire, "en")
    first, second, _third = screen.grid
    assert [o.label for o in first.options] == ["Never", "Sometimes", "Often", "Almost daily"]
    assert [o.action.question for o in first.options] == ["freq.p1"] * 4
    assert [o.action.value for o in first.options] == ["never", "sometimes", "often", "very_often"]
    assert {o.action.act for o in first.options} == {Act.CELL}
    assert [o.selected for o in second.options] == [False, False, True, False]
    assert (first.answered, second.answered) == (False, True)
    assert first.required and second.required
    # The grid's cells come first among the options, then the navigation.
    assert screen.options[:12] == tuple(o for row in screen.grid for o in row.options)
    acts = [o.action.act for o in screen.options[12:]]
    assert acts == [Act.FILL, Act.BACK, Act.CANCEL]  # required: no Skip; open rows: no Done
    fill = screen.options[12]
    assert fill.label == "The rest: “Never”" and fill.action.question == "freq"
    with use_locale("zh-CN"):
        zh = screens.question_screen(step, engine.questionnaire, "zh-CN")
    assert zh.rows[0][0].label == "其余都选「从未遇到」"


def test_a_grid_row_is_built_once_per_way_it_is_shown_and_never_for_another_version() -> None:
    engine, step = _freq_step({"freq.p2": "often"})
    with use_locale("en"):
        screen = screens.question_screen(step, engine.questionnaire, "en")
        again = screens.question_screen(step, engine.questionnaire, "en")
    assert again == screen
    assert all(row is same for row, same in zip(again.grid, screen.grid, strict=True))
    # The same question ids and rows in another version, worded differently: its own words.
    data = grid_data()
    data["version"] = 2
    data["sections"][1]["questions"][0]["rows"][0]["label"] = {"zh-CN": "新说法", "en": "Reworded"}
    data["sections"][1]["questions"][0]["label"] = {"zh-CN": "新题目", "en": "A new question"}
    newer = Engine(parse_questionnaire(data, "grids.yaml"))
    outcome = newer.answer(newer.start().draft, "town")
    outcome = newer.answer_cell(outcome.draft, "freq.p2", "often", question_id="freq")
    assert isinstance(outcome.step, QuestionStep)
    with use_locale("en"):
        reworded = screens.question_screen(outcome.step, newer.questionnaire, "en")
    assert reworded.grid[0].label == "Reworded" and screen.grid[0].label != "Reworded"
    assert "1. Reworded" in reworded.body and "<b>A new question</b>" in reworded.body
    assert [o.selected for o in reworded.grid[1].options] == [False, False, True, False]
    # A row shown with another answer is another row.
    chosen = newer.answer_cell(outcome.draft, "freq.p2", "never", question_id="freq").step
    assert isinstance(chosen, QuestionStep)
    with use_locale("en"):
        changed = screens.question_screen(chosen, newer.questionnaire, "en")
    assert [o.selected for o in changed.grid[1].options] == [True, False, False, False]


def test_done_comes_once_every_required_row_is_answered_and_fill_goes() -> None:
    engine, step = _freq_step({"freq.p1": "never", "freq.p2": "never", "freq.p3": "often"})
    with use_locale("en"):
        screen = screens.question_screen(step, engine.questionnaire, "en")
    acts = [o.action.act for row in screen.rows for o in row]
    assert acts == [Act.DONE, Act.BACK, Act.CANCEL]
    done = screen.rows[0][0]
    assert done.action.question == "freq"


def test_an_integer_grid_has_a_cell_per_number_and_says_what_the_ends_mean() -> None:
    engine = Engine(grid_questionnaire())
    draft = engine.answer(engine.start().draft, "town").draft
    for key, value in (("freq.p1", "often"), ("freq.p2", "never"), ("freq.p3", "very_often")):
        draft = engine.answer_cell(draft, key, value, question_id="freq").draft
    draft = engine.confirm(draft, question_id="freq").draft
    impact = engine.answer_cell(draft, "impact.p3", "4", question_id="impact").step
    assert isinstance(impact, QuestionStep) and impact.question.id == "impact"
    with use_locale("en"):
        screen = screens.question_screen(impact, engine.questionnaire, "en")
    assert "1 = A little … 5 = A lot" in screen.body
    labels = [row.label for row in screen.grid]
    assert labels == ["Meetings about meetings", "Paper trails over results"]
    assert [o.label for o in screen.grid[1].options] == ["1", "2", "3", "4", "5"]
    assert [o.selected for o in screen.grid[1].options] == [False, False, False, True, False]
    assert [o.action.question for o in screen.grid[1].options] == ["impact.p3"] * 5
    assert not screen.grid[0].required
    acts = [o.action.act for row in screen.rows for o in row]
    assert acts == [Act.DONE, Act.BACK, Act.SKIP, Act.CANCEL]  # optional rows, no fill


def test_progress_reads_by_part_and_the_chat_draws_a_bar() -> None:
    engine, step = _freq_step()
    with use_locale("zh-CN"):
        chat = screens.question_screen(step, engine.questionnaire, "zh-CN")
        page = screens.question_screen(step, engine.questionnaire, "zh-CN", channel=Channel.WEB)
    assert chat.progress is not None and chat.progress.label == "第 2/4 部分"
    assert (chat.progress.position, chat.progress.total) == (2, 4)
    assert chat.progress.fraction == step.fraction and 0 < step.fraction < 1
    assert chat.body.splitlines()[0] == screens.progress_bar(step.fraction)
    assert "▓" not in page.body and "░" not in page.body
    assert page.progress == chat.progress
    assert screens.progress_bar(0.0) == "░" * 10
    assert screens.progress_bar(0.42) == "▓" * 4 + "░" * 6
    assert screens.progress_bar(1.0) == "▓" * 10


async def test_cells_and_fill_answer_in_place_and_done_moves_on(services: Services) -> None:
    chat = _chat(services)
    await _consent(chat)
    await chat.press(Act.ANSWER, "town")
    grid_on = chat.newest_with_options()
    fractions = [chat.screen().progress.fraction]  # type: ignore[union-attr]
    for value in ("often", "sometimes"):
        row = next(r for r in chat.screen().grid if not r.answered)
        cell = next(o for o in row.options if o.action.value == value)
        effects = await chat._run(Press(cell.action, grid_on), grid_on)
        assert [type(e) for e in effects] == [Replace, AnswerPress]
    assert [r.answered for r in chat.screen().grid] == [True, True, False]
    effects = await chat._run(Press(chat.screen().rows[0][0].action, grid_on), grid_on)  # fill
    assert [type(e) for e in effects] == [Replace, AnswerPress]
    grid = chat.screen().grid
    assert [next(o.action.value for o in r.options if o.selected) for r in grid] == [
        "often",
        "sometimes",
        "never",
    ]
    assert Act.FILL not in {o.action.act for o in chat.screen().options}
    await chat.press(Act.DONE)
    assert chat.newest_with_options() == grid_on  # replaced in place, like a multi's Done
    assert chat.question() == "impact"
    assert [r.label for r in chat.screen().grid] == ["Meetings about meetings"]
    fractions.append(chat.screen().progress.fraction)  # type: ignore[union-attr]
    await chat.press(Act.SKIP)
    assert chat.question() == "examples"
    offered = [o.action.value for o in chat.screen().options if o.action.act == Act.TOGGLE]
    assert offered == ["p1"]  # only the problem met often
    fractions.append(chat.screen().progress.fraction)  # type: ignore[union-attr]
    assert fractions == sorted(fractions) and fractions[0] < fractions[-1]


async def test_typing_on_a_grid_asks_for_the_buttons(services: Services) -> None:
    chat = _chat(services)
    await _consent(chat)
    await chat.press(Act.ANSWER, "town")
    effects = await chat.type("经常")
    shown = [e for e in effects if isinstance(e, Show)]
    assert len(shown) == 1 and shown[0].current
    assert shown[0].screen.notices == ("Please answer this question with the buttons.",)
    assert chat.question() == "freq"


async def test_a_typed_answer_shows_the_next_question_before_retiring_the_old(
    services: Services,
) -> None:
    chat = _chat(services)
    await _consent(chat)
    await chat.press(Act.ANSWER, "town")
    await chat.press(Act.FILL)
    await chat.press(Act.DONE)
    assert chat.question() == "meetings_month"
    old = chat.newest_with_options()
    effects = await chat.type("7")
    kinds = [type(e).__name__ for e in effects]
    assert kinds == ["DeleteMessage", "Show", "Show", "Retire"]
    nxt = effects[2]
    assert isinstance(nxt, Show) and nxt.current and "Any suggestion?" in nxt.screen.body
    assert effects[3] == Retire(old)


async def test_the_welcome_gives_the_intro_and_the_real_length(services: Services) -> None:
    minutes = Engine(grid_questionnaire()).estimated_minutes()
    for locale, said in (("zh-CN", f"约 {minutes} 分钟"), ("en", f"About {minutes} min")):
        chat = _chat(services, locale)
        await chat.start()
        body = chat.screen().body
        assert said in body
        assert (
            "匿名填写，几分钟就好。" if locale == "zh-CN" else "Anonymous, a few minutes."
        ) in body
