"""The campaign report as a channel-neutral document, built from released digest data.

`build_report` turns a campaign's `DigestData` (already cut down to what k-anonymity allows,
and released in steps of K) plus the quotes staff marked into a flat list of elements:
headings, paragraphs, tables and charts. The Word and Markdown writers only lay these out,
so both say the same thing. Nothing here computes a figure: a hidden share stays "—", a
campaign below K gives a short report with no figure and no quote at all, and the quotes
carry only their text (no unit, post, day or order of arrival).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Final, Literal

from bot.digest.aggregate import (
    BURDEN_QUESTION,
    CHANGE_QUESTION,
    MEASURES_OTHER_QUESTION,
    MEASURES_QUESTION,
    Cell,
    CrossTab,
    DigestData,
    ProblemFigures,
    RankedChoice,
    shorten_example,
)
from bot.digest.chart import ChartRow, render_problem_chart
from bot.digest.render import (
    chart_axis,
    chart_footnote,
    chart_rows,
    chart_title,
    frequency_words,
    group_label,
    grouping_name,
    problem_label,
)
from bot.questionnaire import Questionnaire
from storage.repositories.campaigns import Campaign
from storage.repositories.submissions import QuotableText

QUOTE_MAX_CHARS: Final = 300
SUGGESTION_QUESTION: Final = "suggestion"
PROBLEM_AREAS: Final[tuple[tuple[int, ...], ...]] = ((1, 2, 3), (4, 5), (6, 10, 7), (8, 9))
"""Problem numbers under the seed report's four areas, in the order they are discussed (the
same for version 1, which has p1–p9 with p6 in the third area)."""
HIDDEN: Final = "—"

# ---------------------------------------------------------------------------- the model

Level = Literal[1, 2, 3]
ParagraphKind = Literal["text", "item", "quote", "note"]


@dataclass(frozen=True)
class Heading:
    text: str
    level: Level


@dataclass(frozen=True)
class Paragraph:
    text: str
    kind: ParagraphKind = "text"


@dataclass(frozen=True)
class Table:
    """A real table: `header` is its first row; every row has as many cells."""

    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    caption: str = ""

    def __post_init__(self) -> None:
        if any(len(row) != len(self.header) for row in self.rows):
            raise ValueError("every row of a table needs one cell per header")


@dataclass(frozen=True)
class Chart:
    """The problem chart, drawn only when a writer needs its PNG."""

    rows: tuple[ChartRow, ...]
    title: str
    axis: str
    footnote: str
    locale: str

    def png(self) -> bytes:
        return render_problem_chart(
            self.rows, title=self.title, locale=self.locale, footnote=self.footnote, axis=self.axis
        )


Element = Heading | Paragraph | Table | Chart


@dataclass(frozen=True)
class Report:
    title: str
    elements: tuple[Element, ...]
    locale: str

    @property
    def charts(self) -> tuple[Chart, ...]:
        return tuple(element for element in self.elements if isinstance(element, Chart))


# ---------------------------------------------------------------------------- wording


@dataclass(frozen=True)
class _Words:
    title: str
    basics: str
    problems: str
    suggestions: str
    method: str
    areas: tuple[str, str, str, str]
    other_area: str
    burden: str
    campaign: str
    as_of: str
    received: str
    with_text: str
    any_often: str
    compared: str
    compared_below_k: str
    below_k: str
    below_k_note: str
    chart_intro: str
    often: str
    often_hidden: str
    previous: str
    unchanged: str
    impact: str
    answered: str
    answered_at_least: str
    group: str
    size: str
    share: str
    any_often_column: str
    breakdowns: str
    quotes: str
    burden_sources: str
    burden_none: str
    change_since: str
    change_hidden: str
    measure: str
    rank: str
    chosen: str
    percent: str
    measures_note: str
    measures_none: str
    suggestion_quotes: str
    other_quotes: str
    no_quotes: str
    method_lines: tuple[str, ...]
    quoted: str
    colon: str
    list_sep: str


_ZH_NUMERALS: Final = "一二三四五六七八九十"

_ZH = _Words(
    title="关于{campaign}形式主义、官僚主义问题匿名调研情况的报告（初稿）",
    basics="一、调研基本情况",
    problems="二、形式主义、官僚主义的具体表现",
    suggestions="三、意见建议",
    method="附：方法与匿名保护说明",
    areas=(
        "在贯彻落实党的路线方针政策、中央重大决策部署方面",
        "在联系群众服务群众方面",
        "在履职尽责、服务经济社会发展方面",
        "在学风会风文风及检查调研方面",
    ),
    other_area="其他",
    burden="负担从哪里来，集中整治以来有何变化",
    campaign="本次调研为“{title}”（编号 {id}），开展时间为 {first} 至 {last}，数据截至 {as_of}。",
    as_of=(
        "调研进行期间，统计数字只在新增至少 {k} 份反馈后才更新，最近不足 {k} 份的反馈可能尚未计入。"
    ),
    received="共收到匿名反馈 {n} 份。",
    with_text="其中写下具体事例或建议的占 {share}。",
    any_often="至少一类问题{often}遇到的占 {share}。",
    compared="对比的上一轮调研为“{label}”（{first} 至 {last}），收到反馈 {n} 份。",
    compared_below_k="上一轮调研“{label}”收到的反馈少于 {k} 份，不作对比。",
    below_k="本次调研收到的反馈少于 {k} 份。为保护匿名，本报告不显示任何统计数字、分组和引文。",
    below_k_note="反馈达到 {k} 份后，可重新生成本报告。",
    chart_intro="各类问题{often}遇到的比例见下图。",
    often="{often}遇到的比例：{share}",
    often_hidden="{often}遇到的比例：人数不足，不显示",
    previous="上一轮“{label}”为 {previous}，变化 {points:+.0f} 个百分点。",
    unchanged="上一轮“{label}”为 {previous}，基本持平。",
    impact="平均影响程度：{mean:.1f} / {max}",
    answered="（{n} 份作答）",
    answered_at_least="（至少 {k} 份作答）",
    group="分组",
    size="份数",
    share="{often}遇到的比例",
    any_often_column="至少一类问题{often}遇到的比例",
    breakdowns="反馈按单位类型、岗位层级分布如下（少于 {k} 份的组已合并）。",
    quotes="调研对象反映（摘录）：",
    burden_sources="负担主要来自（可多选，少于 {k} 人选择的不列出）：",
    burden_none="没有哪一级的选择人数达到 {k} 人。",
    change_since="集中整治以来负担的变化：",
    change_hidden="隐去",
    measure="措施",
    rank="序号",
    chosen="选择人数",
    percent="占全部反馈",
    measures_note="选择人数少于 {k} 的措施不单独列出。",
    measures_none="没有哪项措施的选择人数达到 {k} 人。",
    suggestion_quotes="调研对象的意见建议（摘录）：",
    other_quotes="选“其他”措施的调研对象写道（摘录）：",
    no_quotes="暂无标记为可引用的内容。",
    method_lines=(
        "本次调研为匿名调研：保存的答案不带账号、姓名等身份信息，只记录提交的日期。",
        "本报告中每个数字都对应 0 人或至少 {k} 人（K = {k}）。少于 {k} 份的分组不单独显示，"
        "与其他小组合并为“其余各类（合并）”；合并后仍不足 {k} 份时，再把最小的组也并进来。",
        "为防止通过加减推算出被隐去的数字，另有一些数字一并隐去（互补隐匿），表中以“—”表示。"
        "平均影响程度在作答份数可能暴露小群体时只写“至少 {k} 份”。",
        "措施和负担来源只列出至少 {k} 人选择的选项。",
        "引文仅为调研人员逐条标记为可引用的内容；保存前和写入本报告前都去除了电话、证件号、"
        "链接等信息，文中的日期也已隐去。引文不附单位、岗位、日期等任何信息，顺序随机。",
        "调研进行期间，数字只在新增至少 {k} 份反馈后才更新：两次生成的报告，数字要么相同，"
        "要么相差至少 {k} 份，无法据此找出某一份反馈。",
        "某组的比例为 0% 或 100% 时，说明该组每个人在这一题上的回答相同，引用时请留意。",
    ),
    quoted="“{text}”",
    colon="：",
    list_sep="；",
)

_EN = _Words(
    title="Report on the anonymous survey of formalism and bureaucratism: {campaign} (draft)",
    basics="1. The survey",
    problems="2. What formalism and bureaucratism look like",
    suggestions="3. Suggestions",
    method="Annex: method and protection of anonymity",
    areas=(
        "Carrying out the Party's line and policies and the central decisions",
        "Keeping in touch with and serving the people",
        "Doing one's duty and serving economic and social development",
        "Study, meetings, documents, inspections and research",
    ),
    other_area="Other",
    burden="Where the burden comes from, and how it changed",
    campaign=(
        "This is the survey “{title}” (id {id}), run from {first} to {last}; figures as of {as_of}."
    ),
    as_of=(
        "While the survey runs, the figures move only once at least {k} new reports have "
        "arrived, so the latest few (fewer than {k}) may not be counted yet."
    ),
    received="Anonymous reports received: {n}.",
    with_text="Reports with a written example or suggestion: {share}.",
    any_often="Share meeting at least one problem {often}: {share}.",
    compared=(
        "The comparison is the previous survey “{label}” ({first} to {last}), with {n} reports."
    ),
    compared_below_k=(
        "The previous survey “{label}” received fewer than {k} reports and is not compared."
    ),
    below_k=(
        "Fewer than {k} reports arrived in this survey. To protect anonymity, this report "
        "shows no figures, groups or quotes."
    ),
    below_k_note="Once {k} reports have arrived, the report can be made again.",
    chart_intro="The chart shows the share meeting each problem {often}.",
    often="Share meeting it {often}: {share}",
    often_hidden="Share meeting it {often}: too few people, not shown",
    previous="In the previous survey “{label}”: {previous}, a change of {points:+.0f} points.",
    unchanged="In the previous survey “{label}”: {previous}, about the same.",
    impact="Mean impact: {mean:.1f} / {max}",
    answered=" ({n} answers)",
    answered_at_least=" (at least {k} answers)",
    group="Group",
    size="Reports",
    share="Share meeting it {often}",
    any_often_column="Share meeting a problem {often}",
    breakdowns=("Reports by kind of unit and post level (groups of fewer than {k} are merged)."),
    quotes="What respondents wrote (excerpts):",
    burden_sources="The burden comes mainly from (several allowed; fewer than {k} not listed): ",
    burden_none="No level was chosen by {k} or more people.",
    change_since="Change in the burden since the campaign began: ",
    change_hidden="hidden",
    measure="Measure",
    rank="No.",
    chosen="Chosen by",
    percent="Share of reports",
    measures_note="Measures chosen by fewer than {k} people are not listed.",
    measures_none="No measure was chosen by {k} or more people.",
    suggestion_quotes="Suggestions respondents wrote (excerpts):",
    other_quotes="What those who chose the measure “Other” wrote (excerpts):",
    no_quotes="Nothing has been marked as quotable yet.",
    method_lines=(
        "The survey is anonymous: answers are stored without an account, a name or any other "
        "detail of who gave them; only the day of submission is kept.",
        "Every figure in this report stands for 0 or at least {k} people (K = {k}). Groups of "
        "fewer than {k} reports are not shown on their own: they are merged into “Others "
        "(merged)”, and when that is still below {k}, the smallest group joins it.",
        "So that no hidden figure can be worked out by adding or subtracting, some further "
        "figures are hidden too (complementary suppression); tables show them as “—”. A mean "
        "impact says “at least {k} answers” when the exact count could reveal a small group.",
        "Measures and sources of the burden are listed only when at least {k} people chose them.",
        "Quotes are only texts that investigators marked as quotable one by one. Phone "
        "numbers, ID numbers, links and the like were removed before they were stored and "
        "again for this report, and dates in them are masked. They carry no unit, post or day, "
        "and their order is random.",
        "While the survey runs, the figures move only once at least {k} new reports have "
        "arrived: the figures of two reports are either the same or at least {k} reports "
        "apart, so comparing them cannot single out one report.",
        "A share of 0% or 100% in a group means everyone in it answered the same: take care "
        "when quoting it.",
    ),
    quoted="“{text}”",
    colon=": ",
    list_sep="; ",
)


def _words(locale: str) -> _Words:
    return _EN if _language(locale) == "en" else _ZH


def _language(locale: str) -> str:
    return "en" if locale.lower().startswith("en") else "zh"


def _percent(share: float) -> str:
    return f"{share:.0%}"


def _sub_heading(number: int, text: str, locale: str) -> str:
    """A numbered sub-heading, "（一）…", in Chinese; the bare text in English."""
    if _language(locale) == "en" or not 1 <= number <= len(_ZH_NUMERALS):
        return text
    return f"（{_ZH_NUMERALS[number - 1]}）{text}"


# ---------------------------------------------------------------------------- building


def report_title(campaign_title: str, *, locale: str = "zh-CN") -> str:
    return _words(locale).title.format(campaign=campaign_title.strip())


def build_report(
    data: DigestData,
    questionnaire: Questionnaire,
    campaign: Campaign,
    *,
    as_of: date,
    quotes: Sequence[QuotableText] = (),
    locale: str = "zh-CN",
) -> Report:
    """The whole report of one campaign. `data` is the campaign's released digest data,
    `quotes` the texts staff marked (ignored below K), `as_of` the day it is made."""
    words = _words(locale)
    k = data.k
    title = report_title(campaign.title or campaign.id, locale=locale)
    elements: list[Element] = [Heading(words.basics, 1)]
    shown_as_of = min(as_of, campaign.closes_day)
    elements.append(
        Paragraph(
            words.campaign.format(
                title=campaign.title or campaign.id,
                id=campaign.id,
                first=campaign.opens_day.isoformat(),
                last=campaign.closes_day.isoformat(),
                as_of=shown_as_of.isoformat(),
            )
        )
    )
    if not data.enough:
        # The same text for 0 and for K − 1 reports: nothing here may depend on the data.
        elements.append(Paragraph(words.below_k.format(k=k)))
        elements.append(Paragraph(words.below_k_note.format(k=k), "note"))
        elements.append(Heading(words.method, 1))
        elements.extend(Paragraph(line.format(k=k), "item") for line in words.method_lines)
        return Report(title, tuple(elements), locale)

    often = frequency_words(data, questionnaire, locale)
    elements.extend(_basics(data, questionnaire, locale, often.plain))
    elements.append(Heading(words.problems, 1))
    elements.extend(
        _problems(data, questionnaire, locale, often.plain, _quotes_by_question(quotes))
    )
    elements.append(Heading(words.suggestions, 1))
    elements.extend(_suggestions(data, questionnaire, locale, _quotes_by_question(quotes)))
    elements.append(Heading(words.method, 1))
    elements.extend(Paragraph(line.format(k=k), "item") for line in words.method_lines)
    return Report(title, tuple(elements), locale)


def _quotes_by_question(quotes: Sequence[QuotableText]) -> dict[str, tuple[str, ...]]:
    """Shortened quotes per question, each text once in the whole report."""
    seen: set[str] = set()
    found: dict[str, list[str]] = {}
    for quote in quotes:
        text = shorten_example(quote.text, QUOTE_MAX_CHARS)
        if text and text not in seen:
            seen.add(text)
            found.setdefault(quote.question_id, []).append(text)
    return {question_id: tuple(texts) for question_id, texts in found.items()}


def _basics(
    data: DigestData, questionnaire: Questionnaire, locale: str, often: str
) -> list[Element]:
    words = _words(locale)
    k = data.k
    sentences = [words.received.format(n=data.submissions)]
    if data.with_text_share is not None:
        sentences.append(words.with_text.format(share=_percent(data.with_text_share)))
    if data.any_often_share is not None:
        sentences.append(words.any_often.format(often=often, share=_percent(data.any_often_share)))
    summary = ("" if _language(locale) == "zh" else " ").join(sentences)
    elements: list[Element] = [Paragraph(summary), Paragraph(words.as_of.format(k=k), "note")]
    comparison = data.comparison
    if comparison is not None and comparison.kind == "campaign":
        if comparison.submissions is None:
            text = words.compared_below_k.format(label=comparison.label, k=k)
        else:
            text = words.compared.format(
                label=comparison.label,
                first=comparison.first_day.isoformat(),
                last=comparison.last_day.isoformat(),
                n=comparison.submissions,
            )
        elements.append(Paragraph(text))
    if data.breakdowns:
        elements.append(Paragraph(words.breakdowns.format(k=k)))
    header = (words.group, words.size, words.any_often_column.format(often=often))
    for breakdown in data.breakdowns:
        shares = [(g.group_id, g.size, g.any_often_share) for g in breakdown.groups]
        elements.append(_group_table(questionnaire, breakdown.question_id, shares, header, locale))
    return elements


def _group_table(
    questionnaire: Questionnaire,
    question_id: str,
    groups: Sequence[tuple[str, int, float | None]],
    header: tuple[str, ...],
    locale: str,
) -> Table:
    """A table of groups (label, n, share or "—"), captioned with the grouping's name."""
    rows = tuple(
        (
            group_label(questionnaire, question_id, group_id, locale),
            str(size),
            HIDDEN if share is None else _percent(share),
        )
        for group_id, size, share in groups
    )
    return Table(header, rows, caption=grouping_name(questionnaire, question_id, locale))


def _ordered_problems(
    problems: Sequence[ProblemFigures],
) -> list[tuple[str | None, list[ProblemFigures]]]:
    """The problems under the four areas (index as a string), then those in none (None)."""
    by_number = {problem.number: problem for problem in problems}
    placed: set[int] = set()
    groups: list[tuple[str | None, list[ProblemFigures]]] = []
    for index, numbers in enumerate(PROBLEM_AREAS):
        members = [by_number[number] for number in numbers if number in by_number]
        placed.update(problem.number for problem in members)
        groups.append((str(index), members))
    rest = [problem for problem in problems if problem.number not in placed]
    if rest:
        groups.append((None, rest))
    return groups


def _problems(
    data: DigestData,
    questionnaire: Questionnaire,
    locale: str,
    often: str,
    quotes: dict[str, tuple[str, ...]],
) -> list[Element]:
    words = _words(locale)
    elements: list[Element] = [
        Paragraph(words.chart_intro.format(often=often)),
        Chart(
            tuple(chart_rows(data, questionnaire, locale=locale)),
            chart_title(data, locale=locale, questionnaire=questionnaire),
            chart_axis(data, questionnaire, locale=locale),
            chart_footnote(data, locale=locale),
            locale,
        ),
    ]
    position = 0
    subsection = 0
    for area, members in _ordered_problems(data.problems):
        subsection += 1
        name = words.other_area if area is None else words.areas[int(area)]
        elements.append(Heading(_sub_heading(subsection, name, locale), 2))
        for problem in members:
            position += 1
            elements.extend(_problem(position, problem, data, questionnaire, locale, often, quotes))
    burden = _burden(data, questionnaire, locale)
    if burden:
        subsection += 1
        elements.append(Heading(_sub_heading(subsection, words.burden, locale), 2))
        elements.extend(burden)
    return elements


def _problem(
    position: int,
    problem: ProblemFigures,
    data: DigestData,
    questionnaire: Questionnaire,
    locale: str,
    often: str,
    quotes: dict[str, tuple[str, ...]],
) -> list[Element]:
    words = _words(locale)
    k = data.k
    name = problem_label(questionnaire, problem.question_id, locale, max_chars=None)
    elements: list[Element] = [Heading(f"{position}. {name}", 3)]
    if problem.often_share is None:
        elements.append(Paragraph(words.often_hidden.format(often=often), "item"))
    else:
        elements.append(
            Paragraph(words.often.format(often=often, share=_percent(problem.often_share)), "item")
        )
    comparison = data.comparison
    if (
        problem.previous_share is not None
        and problem.change_points is not None
        and comparison is not None
    ):
        template = words.unchanged if round(problem.change_points) == 0 else words.previous
        elements.append(
            Paragraph(
                template.format(
                    label=comparison.label,
                    previous=_percent(problem.previous_share),
                    points=problem.change_points,
                ),
                "item",
            )
        )
    if problem.mean_impact is not None:
        answered = (
            words.answered.format(n=problem.impact_answers)
            if problem.impact_answers is not None
            else words.answered_at_least.format(k=k)
        )
        elements.append(
            Paragraph(
                words.impact.format(mean=problem.mean_impact, max=problem.impact_max or 5)
                + answered,
                "item",
            )
        )
    header = (words.group, words.size, words.share.format(often=often))
    for table in _crosstabs_of(problem, data):
        shares = [(g.group_id, g.size, g.often_share) for g in table.groups]
        elements.append(_group_table(questionnaire, table.breakdown_id, shares, header, locale))
    texts = quotes.get(f"p{problem.number}_example", ())
    if texts:
        elements.append(Paragraph(words.quotes, "item"))
        elements.extend(Paragraph(words.quoted.format(text=text), "quote") for text in texts)
    return elements


def _crosstabs_of(problem: ProblemFigures, data: DigestData) -> list[CrossTab]:
    return [table for table in data.crosstabs if table.question_id == problem.question_id]


def _ranked_text(
    items: Sequence[RankedChoice], questionnaire: Questionnaire, question_id: str, locale: str
) -> str:
    zh = _language(locale) == "zh"
    parts = []
    for item in items:
        label = group_label(questionnaire, question_id, item.choice_id, locale)
        share = _percent(item.share)
        parts.append(
            f"{label} {item.count}（{share}）" if zh else f"{label} {item.count} ({share})"
        )
    return _words(locale).list_sep.join(parts)


def _cells_text(
    cells: Sequence[Cell], questionnaire: Questionnaire, question_id: str, locale: str
) -> str:
    words = _words(locale)
    zh = _language(locale) == "zh"
    parts = []
    for cell in cells:
        label = group_label(questionnaire, question_id, cell.choice_id, locale)
        if cell.count is None or cell.share is None:
            parts.append(f"{label} {words.change_hidden}")
        else:
            share = _percent(cell.share)
            parts.append(
                f"{label} {cell.count}（{share}）" if zh else f"{label} {cell.count} ({share})"
            )
    return words.list_sep.join(parts)


def _burden(data: DigestData, questionnaire: Questionnaire, locale: str) -> list[Element]:
    words = _words(locale)
    elements: list[Element] = []
    if questionnaire.has_question(BURDEN_QUESTION) or data.burden_sources:
        listed = _ranked_text(data.burden_sources, questionnaire, BURDEN_QUESTION, locale)
        elements.append(
            Paragraph(
                words.burden_sources.format(k=data.k)
                + (listed or words.burden_none.format(k=data.k)),
                "item",
            )
        )
    if data.change_since:
        elements.append(
            Paragraph(
                words.change_since
                + _cells_text(data.change_since, questionnaire, CHANGE_QUESTION, locale),
                "item",
            )
        )
    return elements


def _suggestions(
    data: DigestData,
    questionnaire: Questionnaire,
    locale: str,
    quotes: dict[str, tuple[str, ...]],
) -> list[Element]:
    words = _words(locale)
    k = data.k
    elements: list[Element] = []
    if data.measures:
        rows = tuple(
            (
                str(rank),
                group_label(questionnaire, MEASURES_QUESTION, item.choice_id, locale),
                str(item.count),
                _percent(item.share),
            )
            for rank, item in enumerate(data.measures, start=1)
        )
        header = (words.rank, words.measure, words.chosen, words.percent)
        elements.append(Table(header, rows))
        elements.append(Paragraph(words.measures_note.format(k=k), "note"))
    elif questionnaire.has_question(MEASURES_QUESTION):
        elements.append(Paragraph(words.measures_none.format(k=k)))
    for question_id, intro in (
        (MEASURES_OTHER_QUESTION, words.other_quotes),
        (SUGGESTION_QUESTION, words.suggestion_quotes),
    ):
        texts = quotes.get(question_id, ())
        if texts:
            elements.append(Paragraph(intro))
            elements.extend(Paragraph(words.quoted.format(text=text), "quote") for text in texts)
    if not quotes.get(SUGGESTION_QUESTION) and not quotes.get(MEASURES_OTHER_QUESTION):
        elements.append(Paragraph(words.no_quotes, "note"))
    return elements
