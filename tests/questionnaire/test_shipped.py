"""The shipped questionnaire: valid, faithful to the seed report, and keeping the ids the digests
rely on; and the `questionnaire validate` command that admins run on it."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from bot.questionnaire import Questionnaire, load_questionnaire, validate_command
from tests.questionnaire.builders import SHIPPED

PROBLEMS = [f"p{n}" for n in range(1, 10)]
CJK = re.compile(r"[\u4e00-\u9fff]")
SPACED_CJK = re.compile(r"[\u4e00-\u9fff\u3000-\u303f\uff01-\uff1f] +[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def shipped() -> Questionnaire:
    return load_questionnaire(SHIPPED)


def test_the_default_setting_points_at_the_shipped_file() -> None:
    from bot.config import DEFAULT_QUESTIONNAIRE

    assert DEFAULT_QUESTIONNAIRE.resolve() == SHIPPED


def test_ids_the_digests_depend_on(shipped: Questionnaire) -> None:
    expected = ["unit_type", "post_level"]
    for problem in PROBLEMS:
        expected += [f"{problem}_freq", f"{problem}_impact", f"{problem}_example"]
    expected += ["meetings_month", "inspections_month", "deadline_share", "measures", "suggestion"]
    assert [q.id for q in shipped.questions] == expected
    assert shipped.id == "formalism"
    assert shipped.locales == ("zh-CN", "en")
    assert all(len(q.id) <= 24 for q in shipped.questions)


def test_sections_follow_the_four_areas_of_the_seed_report(shipped: Questionnaire) -> None:
    layout = {s.id: [q.id.split("_")[0] for q in s.questions] for s in shipped.sections}
    assert list(layout) == [
        "context",
        "implementation",
        "serving_public",
        "duty",
        "meetings_checks",
        "figures",
        "suggestions",
    ]
    assert sorted(set(layout["implementation"])) == ["p1", "p2", "p3"]
    assert sorted(set(layout["serving_public"])) == ["p4", "p5"]
    assert sorted(set(layout["duty"])) == ["p6", "p7"]
    assert sorted(set(layout["meetings_checks"])) == ["p8", "p9"]
    assert shipped.section_of("p8_freq").title_for("zh-CN") == "学风会风文风及检查调研方面"


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


@pytest.mark.parametrize("problem", PROBLEMS)
def test_each_problem_type_has_frequency_impact_and_example(
    shipped: Questionnaire, problem: str
) -> None:
    freq = shipped.question(f"{problem}_freq")
    impact = shipped.question(f"{problem}_impact")
    example = shipped.question(f"{problem}_example")
    assert (freq.type, freq.required, freq.relevant) == ("single", True, None)
    assert freq.choice_ids == ("never", "sometimes", "often", "very_often")
    assert [freq.choice_label(c, "zh-CN") for c in freq.choice_ids] == [
        "从未遇到",
        "偶尔",
        "经常",
        "非常普遍",
    ]
    assert freq.help_for("zh-CN") and freq.help_for("en")
    assert (impact.type, impact.required, impact.min, impact.max) == ("scale", True, 1, 5)
    assert impact.text("min_label", locale="zh-CN") == "几乎没有影响"
    assert impact.text("max_label", locale="zh-CN") == "严重影响工作"
    assert (example.type, example.required, example.max_length) == ("text", False, 500)
    for follow_up in (impact, example):
        assert follow_up.relevant == f"{problem}_freq != never"
    # the example invites detail but warns against identifying anyone
    assert "人名" in (example.help_for("zh-CN") or "")
    assert "names" in (example.help_for("en") or "")


@pytest.mark.parametrize(
    ("question_id", "phrases"),
    [
        ("p1_freq", ["以会议落实会议、以文件落实文件"]),
        ("p2_freq", ["过度留痕", "拍照、录像、记实", "接龙回复“收到”"]),
        ("p3_freq", ["政绩工程", "形象工程", "旱厕", "冲水厕所"]),
        ("p4_freq", ["新官不理旧事", "整改"]),
        ("p5_freq", ["门好进、脸好看、事难办", "敬老院"]),
        ("p6_freq", ["不担当、不作为", "层层下压", "责任状"]),
        ("p7_freq", ["属地问责", "谁丢分追谁责"]),
        ("p8_freq", ["为开会而开会", "陪会", "凑人数", "视频会议"]),
        ("p9_freq", ["检查考核多、过滥、重复", "今天通知、明天检查"]),
    ],
)
def test_problem_wording_quotes_the_seed(
    shipped: Questionnaire, question_id: str, phrases: list[str]
) -> None:
    question = shipped.question(question_id)
    wording = question.label_for("zh-CN") + (question.help_for("zh-CN") or "")
    for phrase in phrases:
        assert phrase in wording


def test_figures(shipped: Questionnaire) -> None:
    meetings = shipped.question("meetings_month")
    inspections = shipped.question("inspections_month")
    share = shipped.question("deadline_share")
    assert (meetings.type, meetings.min, meetings.max) == ("number", 0, 200)
    assert (inspections.type, inspections.min, inspections.max) == ("number", 0, 100)
    assert share.type == "single"
    assert share.choice_ids[-1] == "unknown"
    assert "当日或三日内" in share.label_for("zh-CN")


def test_suggestions(shipped: Questionnaire) -> None:
    measures = shipped.question("measures")
    assert measures.type == "multi"
    assert measures.max_choices == 3
    assert measures.choice_ids == (
        "fewer_meetings_docs",
        "fewer_inspections",
        "no_trace_judging",
        "grassroots_research",
        "fair_accountability",
        "leaders_example",
        "discipline_naming",
        "other",
    )
    suggestion = shipped.question("suggestion")
    assert (suggestion.type, suggestion.required, suggestion.max_length) == ("text", False, 500)
    assert shipped.text_question_ids == frozenset(
        {f"{p}_example" for p in PROBLEMS} | {"suggestion"}
    )


def test_english_is_translated_and_chinese_is_chinese(shipped: Questionnaire) -> None:
    texts = [shipped.title, shipped.intro, *(s.title for s in shipped.sections)]
    for question in shipped.questions:
        texts += [question.label, *(c.label for c in question.choices)]
        texts += [t for t in (question.help, question.min_label, question.max_label) if t]
    for localized in texts:
        assert CJK.search(localized["zh-CN"]), localized
        assert not CJK.search(localized["en"]), localized
        # YAML folding would put spaces between Chinese sentences
        assert not SPACED_CJK.search(localized["zh-CN"]), localized


def test_localized_lookup_falls_back_to_the_default_locale(shipped: Questionnaire) -> None:
    question = shipped.question("p1_freq")
    assert question.label_for("en-US") == question.label["en"]
    assert question.label_for("zh-hans") == question.label["zh-CN"]
    assert question.label_for("ru") == question.label["zh-CN"]
    assert question.choice_label("never", "de") == "从未遇到"
    assert shipped.title_for("fr") == shipped.title["zh-CN"]
    with pytest.raises(KeyError):
        question.choice_label("always", "en")
    with pytest.raises(KeyError):
        shipped.question("p10_freq")


def test_validate_command_summarises_the_shipped_file() -> None:
    out = io.StringIO()
    assert validate_command(SHIPPED, out) == 0
    assert out.getvalue().splitlines() == [
        "formalism.yaml: OK",
        "questionnaire 'formalism' version 1: 基层形式主义、官僚主义问题匿名调查",
        "locales: zh-CN, en (default zh-CN)",
        "sections: 7 (context, implementation, serving_public, duty, meetings_checks, figures, "
        "suggestions)",
        "questions: 34 (single 12, multi 1, scale 9, text 10, number 2); required 18; "
        "conditional 18",
    ]


def test_a_broken_copy_fails_naming_the_broken_question(tmp_path: Path) -> None:
    text = SHIPPED.read_text(encoding="utf-8")
    broken = text.replace("relevant: p3_freq != never", "relevant: p3_freq != rarely", 1)
    broken = broken.replace("max: 200", "max: -1", 1)
    assert broken != text
    copy = tmp_path / "formalism.yaml"
    copy.write_text(broken, encoding="utf-8")
    out = io.StringIO()
    assert validate_command(copy, out) == 2
    assert out.getvalue().splitlines() == [
        "formalism.yaml: p3_impact: relevant: 'p3_freq' has no choice 'rarely'",
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
