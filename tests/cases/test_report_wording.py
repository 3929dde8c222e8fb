"""The words staff and cadres read: a report is 「反映」, never 「案件」 (to discipline-inspection
staff a 案件 is a formally opened case), and a status reads 待处理 / 核实中 / 已核实 / 已办结 /
不予采纳 (New / Checking / Verified / Closed / Not taken up) in every place it is shown."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from bot.cases.digest_section import CaseFigures, render_case_section
from bot.cases.screens import status_name
from bot.i18n import make_i18n
from bot.statuses import CASE_STATUS_NAMES, CaseStatus

LOCALES = Path(__file__).parents[2] / "bot" / "i18n" / "locales"
SHOWN = {
    "zh-CN": ["待处理", "核实中", "已核实", "已办结", "不予采纳"],
    "en": ["New", "Checking", "Verified", "Closed", "Not taken up"],
}


def _catalogue(locale: str) -> list[tuple[str, str]]:
    with (LOCALES / locale / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        catalogue = read_po(handle, locale=locale.replace("-", "_"))
    return [(str(m.id), str(m.string)) for m in catalogue if m.id]


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_each_status_reads_the_same_on_the_screens_and_in_the_digest(locale: str) -> None:
    i18n = make_i18n()
    with i18n.context(), i18n.use_locale(locale):
        on_screens = [status_name(status) for status in CaseStatus]
    assert on_screens == SHOWN[locale]
    in_digest = [CASE_STATUS_NAMES[locale][status] for status in CaseStatus]
    assert [name.lower() for name in in_digest] == [name.lower() for name in SHOWN[locale]]
    lines = render_case_section(CaseFigures({"new": 9}, 0), k=5, locale=locale)
    assert all(name in lines[0] for name in in_digest)


def test_no_chinese_text_calls_a_report_a_case() -> None:
    offending = [(msgid, text) for msgid, text in _catalogue("zh-CN") if "案件" in text]
    assert offending == []
    section = " ".join(
        render_case_section(CaseFigures({}, 0), k=5) + render_case_section(None, k=5)
    )
    assert "反映" in section and "案件" not in section


def test_no_english_text_calls_a_report_a_case() -> None:
    case = re.compile(r"\bcases?\b", re.IGNORECASE)
    assert [msgid for msgid, _ in _catalogue("en") if case.search(msgid)] == []
    section = render_case_section(CaseFigures({}, 0), k=5, locale="en")
    assert section[0].startswith("This period's reports")
