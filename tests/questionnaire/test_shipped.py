"""The shipped questionnaire (version 2): valid, faithful to the seed report, keeping the ids
its header documents for the digests; version 1 kept verbatim beside it; and the
`questionnaire validate` command that admins run on it."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from bot.conversation.screens import question_screen
from bot.i18n.text import use_locale
from bot.questionnaire import Questionnaire, load_questionnaire, validate_command
from bot.questionnaire.engine import QuestionStep
from tests.questionnaire.builders import SHIPPED

EARLIER = SHIPPED.parent / "earlier"
V1 = EARLIER / "formalism-v1.yaml"
ROWS = ["p1", "p2", "p3", "p4", "p5", "p6", "p10", "p7", "p8", "p9"]
HIGH = "in [often, very_often]"
CJK = re.compile(r"[\u4e00-\u9fff]")
SPACED_CJK = re.compile(r"[\u4e00-\u9fff\u3000-\u303f\uff01-\uff1f] +[\u4e00-\u9fff]")
RANGE = re.compile(r"^([a-z_.]*?)p1([a-z_.]*) … ([a-z_.]*?)p(\d+)([a-z_.]*)$")


@pytest.fixture(scope="module")
def shipped() -> Questionnaire:
    return load_questionnaire(SHIPPED)


def test_the_default_setting_points_at_the_shipped_file() -> None:
    from bot.config import DEFAULT_QUESTIONNAIRE

    assert DEFAULT_QUESTIONNAIRE.resolve() == SHIPPED


def test_version_1_is_kept_verbatim_beside_it(shipped: Questionnaire) -> None:
    earlier = load_questionnaire(V1)
    assert (shipped.id, shipped.version) == ("formalism", 2)
    assert (earlier.id, earlier.version) == ("formalism", 1)
    assert [p.name for p in EARLIER.glob("*.yaml")] == ["formalism-v1.yaml"]
    text = V1.read_text(encoding="utf-8")
    assert "version: 1\n" in text and "p9_freq" in text and "grid" not in text


def _documented_keys() -> list[str]:
    """The answer keys the header comment lists, with "p1_x … p10_x" ranges expanded."""
    lines = SHIPPED.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if "depend on these ids" in line)
    keys: list[str] = []
    for line in lines[start + 1 :]:
        if not line.startswith("#   "):
            break
        names = line[4:].split(":", 1)[0]
        for name in (part.strip() for part in names.split(",")):
            ranged = RANGE.match(name)
            if ranged is None:
                keys.append(name)
                continue
            before, after, before_again, last, after_again = ranged.groups()
            assert (before, after) == (before_again, after_again), name
            keys += [f"{before}{row}{after}" for row in ROWS if int(row[1:]) <= int(last)]
    return keys


def test_ids_documented_in_the_header_exist(shipped: Questionnaire) -> None:
    documented = _documented_keys()
    assert len(documented) == 2 + 10 + 10 + 10 + 2 + 5
    for key in documented:
        assert shipped.has_answer_field(key), key
    assert shipped.id == "formalism"
    assert shipped.locales == ("zh-CN", "en")
    assert all(len(q.id) <= 24 for q in shipped.questions)


def test_sections_and_questions_as_the_contract_names_them(shipped: Questionnaire) -> None:
    layout = {s.id: [q.id for q in s.questions] for s in shipped.sections}
    assert layout == {
        "context": ["unit_type", "post_level"],
        "problems": ["freq", "impact", "examples", *(f"{row}_example" for row in ROWS)],
        "burden": ["burden_source", "change_since"],
        "figures": ["meetings_month", "inspections_month", "deadline_share"],
        "suggestions": ["measures", "measures_other", "suggestion"],
    }
    assert shipped.text_question_ids == frozenset(
        {f"{row}_example" for row in ROWS} | {"measures_other", "suggestion"}
    )


def test_context_questions_are_optional(shipped: Questionnaire) -> None:
    unit = shipped.question("unit_type")
    post = shipped.question("post_level")
    assert not unit.required and not post.required
    assert [unit.choice_label(c, "zh-CN") for c in unit.choice_ids] == [
        "区直部门",
        "镇（街道）",
        "村（社区）",
        "其他",
    ]
    assert [post.choice_label(c, "zh-CN") for c in post.choice_ids] == [
        "领导班子成员",
        "中层干部",
        "一般干部",
        "其他",
    ]


def test_the_frequency_grid(shipped: Questionnaire) -> None:
    freq = shipped.question("freq")
    assert (freq.type, freq.required, freq.relevant, freq.fill) == ("grid", True, None, "never")
    assert freq.cells_are_choices
    assert freq.choice_ids == ("never", "sometimes", "often", "very_often")
    assert [freq.choice_label(c, "zh-CN") for c in freq.choice_ids] == [
        "从未遇到",
        "偶尔",
        "经常",
        "几乎每天",
    ]
    assert [freq.choice_label(c, "en") for c in freq.choice_ids] == [
        "Never",
        "Sometimes",
        "Often",
        "Almost daily",
    ]
    assert [row.id for row in freq.rows] == ROWS
    assert all(freq.row_required(row) and row.relevant is None for row in freq.rows)
    # the seed's sixth problem, split in two
    assert freq.row_label("p6", "zh-CN") == "本单位不担当、不作为"
    assert freq.row_label("p10", "zh-CN") == "上级把责任层层下压（责任状、“免责单”）"


def test_impact_is_asked_for_problems_met_often_or_more(shipped: Questionnaire) -> None:
    impact = shipped.question("impact")
    assert (impact.type, impact.required, impact.min, impact.max) == ("grid", False, 1, 5)
    assert not impact.cells_are_choices and impact.fill is None
    assert impact.text("min_label", locale="zh-CN") == "几乎没有影响"
    assert impact.text("max_label", locale="zh-CN") == "严重影响工作"
    assert [row.id for row in impact.rows] == ROWS
    for row in impact.rows:
        assert row.relevant == f"freq.{row.id} {HIGH}"
        assert not impact.row_required(row)
        assert row.label == shipped.question("freq").row(row.id).label


def test_examples_are_picked_then_asked_by_name(shipped: Questionnaire) -> None:
    pick = shipped.question("examples")
    assert (pick.type, pick.required, pick.max_choices) == ("multi", False, None)
    assert pick.choice_ids == tuple(ROWS)
    for choice in pick.choices:
        assert choice.relevant == f"freq.{choice.id} {HIGH}"
        example = shipped.question(f"{choice.id}_example")
        assert (example.type, example.required, example.max_length) == ("text", False, 500)
        assert example.relevant == f"examples has {choice.id}"
        name = choice.label["zh-CN"].strip("“”")
        label = example.label_for("zh-CN")
        assert label.startswith("关于“") and label.endswith("”，能说一个具体的例子吗？")
        assert name in label, (name, label)
        assert example.help_for("zh-CN") and example.help_for("en")
    assert (
        shipped.question("p2_example").label_for("zh-CN")
        == "关于“过度留痕”，能说一个具体的例子吗？"
    )


def test_burden_questions(shipped: Questionnaire) -> None:
    source = shipped.question("burden_source")
    assert (source.type, source.required) == ("multi", False)
    assert [source.choice_label(c, "zh-CN") for c in source.choice_ids] == [
        "市级",
        "区县级",
        "镇街",
        "本单位",
        "条线部门",
    ]
    assert source.choice_ids == ("city", "county", "town", "own_unit", "line_dept")
    # asked of whoever meets any problem at all
    assert source.relevant == " or ".join(f"freq.{row} != never" for row in ROWS)
    change = shipped.question("change_since")
    assert (change.type, change.required, change.relevant) == ("single", False, None)
    assert change.choice_ids == (
        "much_lighter",
        "somewhat_lighter",
        "no_change",
        "changed_form",
        "heavier",
    )
    assert [change.choice_label(c, "zh-CN") for c in change.choice_ids] == [
        "明显减轻",
        "有所减轻",
        "没有变化",
        "换了形式（变异）",
        "加重",
    ]


def _problem_wording(shipped: Questionnaire, row: str) -> str:
    """Everything a cadre may read about one problem: its row, the grid's help, the pick's
    choice and its example question."""
    freq = shipped.question("freq")
    example = shipped.question(f"{row}_example")
    return "".join(
        [
            freq.row_label(row, "zh-CN"),
            freq.help_for("zh-CN") or "",
            shipped.question("examples").choice_label(row, "zh-CN"),
            example.label_for("zh-CN"),
            example.help_for("zh-CN") or "",
        ]
    )


@pytest.mark.parametrize(
    ("row", "phrases"),
    [
        ("p1", ["以会议落实会议、以文件落实文件", "文山会海", "临时性机构发文", "当日或三日内"]),
        ("p2", ["过度留痕", "拍照、录像、记实", "接龙回复“收到”"]),
        ("p3", ["政绩工程", "形象工程", "旱厕", "冲水厕所"]),
        ("p4", ["新官不理旧事", "整改"]),
        ("p5", ["门好进、脸好看、事难办", "敬老院"]),
        ("p6", ["本单位不担当、不作为", "怕担责"]),
        ("p10", ["层层下压", "责任状", "免责单", "层层负不起责"]),
        ("p7", ["属地问责", "谁丢分追谁责", "非访追责"]),
        ("p8", ["为开会而开会", "陪会", "凑人数", "视频会议"]),
        (
            "p9",
            ["检查考核多、过滥、重复", "今天通知、明天检查", "考核标准没有操作性", "逼着应付作假"],
        ),
    ],
)
def test_every_seed_problem_is_worded_from_the_seed(
    shipped: Questionnaire, row: str, phrases: list[str]
) -> None:
    wording = _problem_wording(shipped, row)
    for phrase in phrases:
        assert phrase in wording, phrase


def test_figures(shipped: Questionnaire) -> None:
    meetings = shipped.question("meetings_month")
    inspections = shipped.question("inspections_month")
    share = shipped.question("deadline_share")
    assert (meetings.type, meetings.min, meetings.max) == ("number", 0, 200)
    assert (inspections.type, inspections.min, inspections.max) == ("number", 0, 100)
    assert share.type == "single"
    assert share.choice_ids[-1] == "unknown"
    assert "当日或三日内" in share.label_for("zh-CN")


V1_MEASURES = (
    "fewer_meetings_docs",
    "fewer_inspections",
    "no_trace_judging",
    "grassroots_research",
    "fair_accountability",
    "leaders_example",
    "discipline_naming",
)


@pytest.mark.parametrize(
    "phrases",
    [
        ("作风建设", "党性修养"),
        ("关键少数", "以上率下"),
        ("建章立制", "工作标准"),
        ("执纪问责", "通报曝光"),
    ],
)
def test_suggestions_cover_the_four_groups_of_the_seed(
    shipped: Questionnaire, phrases: tuple[str, ...]
) -> None:
    measures = shipped.question("measures")
    labels = [measures.choice_label(c, "zh-CN") for c in measures.choice_ids]
    assert any(all(phrase in label for phrase in phrases) for label in labels), phrases


def test_suggestions_keep_the_concrete_measures_and_ask_what_other_means(
    shipped: Questionnaire,
) -> None:
    measures = shipped.question("measures")
    assert (measures.type, measures.max_choices) == ("multi", 3)
    assert set(V1_MEASURES) <= set(measures.choice_ids)
    assert measures.choice_ids[-1] == "other"
    assert measures.choice_label("other", "zh-CN") == "其他（请注明）"
    other = shipped.question("measures_other")
    assert (other.type, other.required, other.relevant) == ("text", False, "measures has other")
    suggestion = shipped.question("suggestion")
    assert (suggestion.type, suggestion.required, suggestion.max_length) == ("text", False, 500)


def _texts(shipped: Questionnaire) -> list[dict[str, str]]:
    texts = [shipped.title, shipped.intro, *(s.title for s in shipped.sections)]
    for question in shipped.questions:
        texts += [question.label, *(c.label for c in question.choices)]
        texts += [row.label for row in question.rows]
        texts += [t for t in (question.help, question.min_label, question.max_label) if t]
    return texts


def test_the_questionnaire_itself_never_asks_for_no_names(shipped: Questionnaire) -> None:
    """The screen of every written answer says it, once (below); the questionnaire's own
    texts describe the problems instead, so no screen says it twice."""
    assert not [t for t in _texts(shipped) if "人名" in t["zh-CN"] or "names" in t["en"]]


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_every_written_answer_asks_for_no_names_exactly_once(
    shipped: Questionnaire, locale: str
) -> None:
    reminder = {"zh-CN": "人名", "en": "names"}[locale]
    written = [q for q in shipped.questions if q.type == "text"]
    assert len(written) >= 10
    with use_locale(locale):
        for question in written:
            step = QuestionStep(
                question=question,
                position=1,
                total=1,
                current=None,
                pending=(),
                can_skip=True,
                can_go_back=True,
            )
            screen = question_screen(step, shipped, locale)
            text = "\n".join((screen.body, *screen.notices))
            assert text.count(reminder) == 1, (question.id, text)


def test_the_intro_states_no_length(shipped: Questionnaire) -> None:
    """The core adds 「约 N 分钟」 from the engine's estimate; a length here would disagree."""
    for text in shipped.intro.values():
        assert not re.search(r"\d|分钟|minute", text), text


def test_english_is_translated_and_chinese_is_chinese(shipped: Questionnaire) -> None:
    for localized in _texts(shipped):
        assert set(localized) == {"zh-CN", "en"}, localized
        assert localized["zh-CN"].strip() and localized["en"].strip(), localized
        assert CJK.search(localized["zh-CN"]), localized
        assert not CJK.search(localized["en"]), localized
        # YAML folding would put spaces between Chinese sentences
        assert not SPACED_CJK.search(localized["zh-CN"]), localized


def test_localized_lookup_falls_back_to_the_default_locale(shipped: Questionnaire) -> None:
    question = shipped.question("freq")
    assert question.label_for("en-US") == question.label["en"]
    assert question.label_for("zh-hans") == question.label["zh-CN"]
    assert question.label_for("ru") == question.label["zh-CN"]
    assert question.choice_label("never", "de") == "从未遇到"
    assert question.row_label("p2", "en-GB") == question.row("p2").label["en"]
    assert shipped.title_for("fr") == shipped.title["zh-CN"]
    with pytest.raises(KeyError):
        question.choice_label("always", "en")
    with pytest.raises(KeyError):
        shipped.question("p1_freq")
    with pytest.raises(KeyError):
        shipped.answer_field("freq.p11")


def test_validate_command_summarises_the_shipped_file() -> None:
    out = io.StringIO()
    assert validate_command(SHIPPED, out) == 0
    assert out.getvalue().splitlines() == [
        "formalism.yaml: OK",
        "questionnaire 'formalism' version 2: 基层形式主义、官僚主义问题匿名调查",
        "locales: zh-CN, en (default zh-CN)",
        "sections: 5 (context, problems, burden, figures, suggestions)",
        "questions: 23 (single 4, multi 3, text 12, number 2, grid 2); required 1; conditional 12",
    ]


def test_validate_command_accepts_version_1() -> None:
    out = io.StringIO()
    assert validate_command(V1, out) == 0
    assert out.getvalue().splitlines()[:2] == [
        "formalism-v1.yaml: OK",
        "questionnaire 'formalism' version 1: 基层形式主义、官僚主义问题匿名调查",
    ]


def test_a_broken_copy_fails_naming_the_broken_question(tmp_path: Path) -> None:
    text = SHIPPED.read_text(encoding="utf-8")
    broken = text.replace("relevant: examples has p3\n", "relevant: examples has p33\n", 1)
    broken = broken.replace("max: 200", "max: -1", 1)
    assert broken != text
    copy = tmp_path / "formalism.yaml"
    copy.write_text(broken, encoding="utf-8")
    out = io.StringIO()
    assert validate_command(copy, out) == 2
    assert out.getvalue().splitlines() == [
        "formalism.yaml: p3_example: relevant: 'examples' has no choice 'p33'",
        "formalism.yaml: meetings_month: range min 0 > max -1",
        "formalism.yaml: 2 problems",
    ]


def test_validate_command_reports_a_missing_file(tmp_path: Path) -> None:
    out = io.StringIO()
    assert validate_command(tmp_path / "nope.yaml", out) == 2
    assert out.getvalue().splitlines() == [
        "nope.yaml: cannot read file: No such file or directory",
        "nope.yaml: 1 problem",
    ]
