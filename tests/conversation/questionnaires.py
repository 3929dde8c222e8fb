"""A small questionnaire of the second kind for the conversation tests: a choice grid with
a fill choice, an integer grid whose rows open by the first grid's answers, a multi whose
choices do too, written examples behind it, a number and a suggestion, in four sections.

Built here so that the core's tests do not move when the shipped questionnaire does."""

from __future__ import annotations

from typing import Any

from bot.questionnaire import Questionnaire, parse_questionnaire
from tests.questionnaire.builders import text

PROBLEMS = {
    "p1": text("以会议落实会议", "Meetings about meetings"),
    "p2": text("层层加码", "Piling on targets"),
    "p3": text("重留痕轻实效", "Paper trails over results"),
}
NO_NAMES_HELP = text("写事情就好，请不要写人名、电话。", "Describe what happened; no names.")


def _example(pid: str) -> dict[str, Any]:
    return {
        "id": f"{pid}_example",
        "type": "text",
        "relevant": f"examples has {pid}",
        "max_length": 500,
        "label": text(f"举个例子：{PROBLEMS[pid]['zh-CN']}", f"An example: {PROBLEMS[pid]['en']}"),
        "help": NO_NAMES_HELP,
    }


def grid_data() -> dict[str, Any]:
    often = "in [often, very_often]"
    return {
        "id": "grids",
        "version": 1,
        "locales": ["zh-CN", "en"],
        "title": text("基层减负小调查", "A small survey"),
        "intro": text("匿名填写，几分钟就好。", "Anonymous, a few minutes."),
        "sections": [
            {
                "id": "context",
                "title": text("基本情况", "About you"),
                "questions": [
                    {
                        "id": "unit_type",
                        "type": "single",
                        "required": True,
                        "label": text("您在哪一级单位？", "Where do you work?"),
                        "choices": [
                            {"id": "town", "label": text("乡镇（街道）", "Town")},
                            {"id": "village", "label": text("村（社区）", "Village")},
                        ],
                    }
                ],
            },
            {
                "id": "problems",
                "title": text("遇到的问题", "Problems"),
                "questions": [
                    {
                        "id": "freq",
                        "type": "grid",
                        "required": True,
                        "label": text("过去一年，下列情况您遇到的频率？", "How often, last year?"),
                        "help": text("每行选一项。", "One per row."),
                        "choices": [
                            {"id": "never", "label": text("从未遇到", "Never")},
                            {"id": "sometimes", "label": text("偶尔", "Sometimes")},
                            {"id": "often", "label": text("经常", "Often")},
                            {"id": "very_often", "label": text("几乎每天", "Almost daily")},
                        ],
                        "fill": "never",
                        "rows": [{"id": pid, "label": label} for pid, label in PROBLEMS.items()],
                    },
                    {
                        "id": "impact",
                        "type": "grid",
                        "label": text("影响有多大？", "How much does it weigh?"),
                        "min": 1,
                        "max": 5,
                        "min_label": text("很小", "A little"),
                        "max_label": text("很大", "A lot"),
                        "rows": [
                            {"id": pid, "label": label, "relevant": f"freq.{pid} {often}"}
                            for pid, label in PROBLEMS.items()
                        ],
                    },
                    {
                        "id": "examples",
                        "type": "multi",
                        "label": text(
                            "哪些您愿意举个例子？", "Which would you give an example of?"
                        ),
                        "choices": [
                            {"id": pid, "label": label, "relevant": f"freq.{pid} {often}"}
                            for pid, label in PROBLEMS.items()
                        ],
                    },
                    *(_example(pid) for pid in PROBLEMS),
                ],
            },
            {
                "id": "figures",
                "title": text("数字", "Figures"),
                "questions": [
                    {
                        "id": "meetings_month",
                        "type": "number",
                        "min": 0,
                        "max": 200,
                        "label": text("上个月开了几次会？", "Meetings last month?"),
                    }
                ],
            },
            {
                "id": "suggestions",
                "title": text("建议", "Suggestions"),
                "questions": [
                    {
                        "id": "suggestion",
                        "type": "text",
                        "max_length": 500,
                        "label": text("还有什么建议？", "Any suggestion?"),
                    }
                ],
            },
        ],
    }


def grid_questionnaire() -> Questionnaire:
    return parse_questionnaire(grid_data(), "grids.yaml")
