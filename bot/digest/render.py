"""Turning `DigestData` into words: Telegram HTML, Markdown for group robots, plain text.

The digest is first laid out once as a small document (blocks of lines of styled spans) and
then written out per format, so the three forms always say the same thing. Every text that
comes from data (labels, examples, campaign ids) is escaped for the target format: HTML with
`html.escape`; Markdown by replacing the characters robots treat as markup with their
full-width forms (WeCom and DingTalk have no reliable backslash escapes).

Nothing here computes a figure: what `DigestData` hides stays hidden, and a period below K
renders the same fixed text whatever happened in it.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

from bot.delivery.webhooks import DigestMessage
from bot.digest.aggregate import (
    BURDEN_QUESTION,
    CHANGE_QUESTION,
    DEADLINE_QUESTION,
    HIGH_FREQUENCY,
    MEASURES_QUESTION,
    MERGED,
    NO_ANSWER,
    Cell,
    CrossTab,
    DigestData,
    ProblemFigures,
)
from bot.digest.chart import ChartRow, captions_for
from bot.questionnaire import Questionnaire

TELEGRAM_LIMIT: Final = 4096
"""Telegram's message limit, in UTF-16 code units of the text (measured on the raw HTML,
which is never shorter than the text after entity parsing)."""

Style = Literal["plain", "bold", "italic"]
LineKind = Literal["heading", "text", "item", "quote", "note"]


@dataclass(frozen=True)
class Span:
    text: str
    style: Style = "plain"


@dataclass(frozen=True)
class Line:
    spans: tuple[Span, ...]
    kind: LineKind = "text"


Block = tuple[Line, ...]


def _line(*parts: str | Span, kind: LineKind = "text") -> Line:
    return Line(tuple(p if isinstance(p, Span) else Span(p) for p in parts), kind)


def _bold(text: str) -> Span:
    return Span(text, "bold")


# ---------------------------------------------------------------------------- wording


@dataclass(frozen=True)
class _Words:
    daily_title: str
    weekly_title: str
    campaign_title: str
    campaign_untitled: str
    campaign: str
    below_k: str
    below_k_campaign: str
    fixed_rhythm: str
    fixed_rhythm_campaign: str
    received: str
    received_campaign: str
    any_often: str
    with_text: str
    compared_campaign: str
    compared_campaign_below_k: str
    problems_heading: str
    often: str
    hidden_share: str
    change: str
    unchanged: str
    change_campaign: str
    unchanged_campaign: str
    distribution: str
    hidden_cell: str
    no_answer: str
    impact: str
    answered: str
    answered_at_least: str
    examples: str
    numbers_heading: str
    median: str
    p90: str
    number_hidden: str
    deadline: str
    measures_heading: str
    measure_item: str
    measures_note: str
    measures_none: str
    measures_other: str
    burden_heading: str
    burden_sources: str
    burden_none: str
    change_since: str
    breakdown_heading: str
    group_item: str
    group_share: str
    group_share_hidden: str
    merged: str
    not_filled: str
    crosstab_heading: str
    crosstab_group: str
    footnote: str
    undecryptable: str
    chart_title: str
    chart_footnote: str
    list_sep: str
    colon: str


_ZH = _Words(
    daily_title="清风日报｜{first}",
    weekly_title="清风周报｜{first} 至 {last}",
    campaign_title="清风调研｜{campaign}（{first} 至 {last}）",
    campaign_untitled="清风调研｜{first} 至 {last}",
    campaign="（活动：{campaign}）",
    below_k="本期收到的反馈少于 {k} 份。为保护匿名，本期不显示任何统计、分组和事例。",
    below_k_campaign=(
        "本轮调研至今收到的反馈少于 {k} 份。为保护匿名，本轮不显示任何统计、分组和事例。"
    ),
    fixed_rhythm="摘要按固定时间发送，无论是否收到反馈。",
    fixed_rhythm_campaign="在反馈达到 {k} 份之前，无论是否收到反馈，本轮摘要都是这几句话。",
    received="本期收到反馈 {n} 份。",
    received_campaign="本轮调研至今收到反馈 {n} 份。",
    any_often="至少一类问题{often}遇到的比例：{share}",
    with_text="写下具体事例或建议的占 {share}",
    compared_campaign="各项变化均与上一轮调研「{label}」（{first} 至 {last}）相比。",
    compared_campaign_below_k=(
        "上一轮调研「{label}」收到的反馈少于 {k} 份，为保护匿名，不作比较。"
    ),
    problems_heading="各类问题",
    often="{often}：",
    hidden_share="（人数不足，不显示）",
    change="（较上期 {points:+.0f} 个百分点）",
    unchanged="（与上期持平）",
    change_campaign="（上一轮 {previous}，{points:+.0f} 个百分点）",
    unchanged_campaign="（上一轮 {previous}，持平）",
    distribution="分布：",
    hidden_cell="隐去",
    no_answer="未作答",
    impact="平均影响：{mean:.1f} / {max}",
    answered="（{n} 人作答）",
    answered_at_least="（至少 {k} 人作答）",
    examples="事例：",
    numbers_heading="几个数字",
    median="中位数 {value}",
    p90="90% 分位数 {value}",
    number_hidden="人数不足，不显示",
    deadline="要求当日或三日内办结的文件占比：",
    measures_heading="最希望采取的措施",
    measure_item="{label}：{n} 人（{share}）",
    measures_note="选择人数少于 {k} 的措施不单独列出。",
    measures_none="没有措施的选择人数达到 {k} 人。",
    measures_other="选“其他”的人写了这些（举例）：",
    burden_heading="负担从哪里来",
    burden_sources="主要来自（可多选，少于 {k} 人的不列出）：",
    burden_none="没有哪一级的选择人数达到 {k} 人",
    change_since="集中整治以来负担的变化：",
    breakdown_heading="分组情况",
    group_item="{label}：{n} 人",
    group_share="，至少一类问题经常遇到 {share}",
    group_share_hidden="，比例隐去",
    merged="其余各类（合并）",
    not_filled="未填写",
    crosstab_heading="分组交叉：各类问题{often}遇到的比例",
    crosstab_group="{label} n={n} {share}",
    footnote=(
        "说明：少于 {k} 人的组不单独显示，已合并或隐去；为防止推算，部分数字一并隐去。"
        "事例已去除联系方式和日期，随机选取。"
    ),
    undecryptable="{n} 条内容无法解密，已跳过。",
    chart_title="各类问题{often}遇到的比例｜{period}",
    chart_footnote="少于 {k} 人的组不显示数值",
    list_sep="；",
    colon="：",
)

_EN = _Words(
    daily_title="Qingfeng daily digest | {first}",
    weekly_title="Qingfeng weekly digest | {first} to {last}",
    campaign_title="Qingfeng campaign | {campaign} ({first} to {last})",
    campaign_untitled="Qingfeng campaign | {first} to {last}",
    campaign=" (campaign: {campaign})",
    below_k=(
        "Fewer than {k} responses arrived in this period. To protect anonymity, no figures, "
        "groups or examples are shown."
    ),
    below_k_campaign=(
        "Fewer than {k} responses have arrived in this campaign so far. To protect anonymity, "
        "no figures, groups or examples are shown."
    ),
    fixed_rhythm="Digests are sent on a fixed schedule, whether or not anything arrived.",
    fixed_rhythm_campaign=(
        "Until {k} responses have arrived, this campaign's digest reads the same whether or "
        "not any came in."
    ),
    received="Responses in this period: {n}.",
    received_campaign="Responses in this campaign so far: {n}.",
    any_often="Share meeting at least one problem {often}: {share}",
    with_text="Share who wrote an example or a suggestion: {share}",
    compared_campaign="Changes are against the previous campaign, “{label}” ({first} to {last}).",
    compared_campaign_below_k=(
        "The previous campaign, “{label}”, had fewer than {k} responses: to protect anonymity, "
        "there is no comparison."
    ),
    problems_heading="Problem types",
    often="{often}: ",
    hidden_share="(too few people, not shown)",
    change=" ({points:+.0f} points on the previous period)",
    unchanged=" (unchanged on the previous period)",
    change_campaign=" (previous campaign {previous}, {points:+.0f} points)",
    unchanged_campaign=" (previous campaign {previous}, unchanged)",
    distribution="Answers: ",
    hidden_cell="hidden",
    no_answer="not answered",
    impact="Mean impact: {mean:.1f} / {max}",
    answered=" ({n} answers)",
    answered_at_least=" (at least {k} answers)",
    examples="Examples:",
    numbers_heading="A few numbers",
    median="median {value}",
    p90="90th percentile {value}",
    number_hidden="too few people, not shown",
    deadline="Share of documents due the same day or within three days: ",
    measures_heading="Measures wanted most",
    measure_item="{label}: {n} ({share})",
    measures_note="Measures chosen by fewer than {k} people are not listed.",
    measures_none="No measure was chosen by {k} or more people.",
    measures_other="Some of what those who chose “Other” wrote:",
    burden_heading="Where the burden comes from",
    burden_sources="Mainly from (several allowed; fewer than {k} not listed): ",
    burden_none="no level was chosen by {k} or more people",
    change_since="Change in the burden since the campaign began: ",
    breakdown_heading="Groups",
    group_item="{label}: {n}",
    group_share=", meeting a problem often: {share}",
    group_share_hidden=", share hidden",
    merged="Others (merged)",
    not_filled="not answered",
    crosstab_heading="Problems by group: share meeting each {often}",
    crosstab_group="{label} n={n} {share}",
    footnote=(
        "Note: groups of fewer than {k} are merged or hidden, and further figures are hidden "
        "so that they cannot be worked out. Examples are stripped of contact details and "
        "dates and picked at random."
    ),
    undecryptable="{n} stored text(s) could not be decrypted and were skipped.",
    chart_title="Share meeting each problem {often} | {period}",
    chart_footnote="Groups of fewer than {k} are not shown",
    list_sep="; ",
    colon=": ",
)

_SHORT_FIGURE_NAMES: Final[dict[str, dict[str, str]]] = {
    "meetings_month": {"zh": "上月参加会议次数", "en": "Meetings attended last month"},
    "inspections_month": {"zh": "上月单位迎检次数", "en": "Inspections received last month"},
    "unit_type": {"zh": "按单位类型", "en": "By kind of unit"},
    "post_level": {"zh": "按岗位层级", "en": "By post level"},
}


def _words(locale: str) -> _Words:
    return _EN if locale.lower().startswith("en") else _ZH


_ZH_NUMERALS: Final = "一二三四五六七八九十"


def _heading(number: int, text: str, locale: str) -> str:
    """A numbered section heading: "二、几个数字" in Chinese, the bare text in English."""
    if _language(locale) == "en" or not 1 <= number <= len(_ZH_NUMERALS):
        return text
    return f"{_ZH_NUMERALS[number - 1]}、{text}"


@dataclass(frozen=True)
class _Frequency:
    """The words of "often or more" in the questionnaire's own scale ("经常", "几乎每天")."""

    labels: tuple[str, ...]
    language: str

    @property
    def plain(self) -> str:
        """经常或几乎每天 / often or almost daily"""
        if self.language == "zh":
            return "或".join(self.labels)
        return " or ".join(label[:1].lower() + label[1:] for label in self.labels)

    @property
    def quoted(self) -> str:
        """“经常”或“几乎每天” (English: as `plain`)"""
        if self.language == "zh":
            return "或".join(f"“{label}”" for label in self.labels)
        return self.plain

    @property
    def slashed(self) -> str:
        """“经常/几乎每天” (English: as `plain`)"""
        if self.language == "zh":
            return "“" + "/".join(self.labels) + "”"
        return self.plain

    @property
    def heading(self) -> str:
        """经常或几乎每天 / Often or almost daily"""
        text = self.plain
        return text[:1].upper() + text[1:]


_DEFAULT_HIGH: Final[dict[str, tuple[str, ...]]] = {
    "zh": ("经常", "非常普遍"),
    "en": ("often", "very often"),
}


def frequency_words(
    data: DigestData, questionnaire: Questionnaire | None, locale: str
) -> _Frequency:
    """ "Often or more" in the labels the questionnaire gives the often / very_often choices
    of its frequency scale (the first problem it still has), else in the default words."""
    language = _language(locale)
    if questionnaire is not None:
        for problem in data.problems:
            if not questionnaire.has_answer_field(problem.question_id):
                continue
            answer_field = questionnaire.answer_field(problem.question_id)
            labels = tuple(
                answer_field.choice_label(choice, locale)
                for choice in HIGH_FREQUENCY
                if choice in answer_field.choice_ids
            )
            if labels:
                return _Frequency(labels, language)
    return _Frequency(_DEFAULT_HIGH[language], language)


def _language(locale: str) -> str:
    return "en" if locale.lower().startswith("en") else "zh"


# ---------------------------------------------------------------------------- labels

_QUOTED = re.compile(r"[“\"「]([^”\"」]{2,80})[”\"」]")
_EXAMPLE_CLAUSE = re.compile(r",\s*(?:such as|e\.g\.|for example|like)\b.*?(?=\?*$)")
_CJK = re.compile(r"[\u3400-\u9fff]")
_BRACKETED = re.compile(r"[（(][^（）()]*[）)]")
_PREFIXES: Final = ("您是否遇到过", "您遇到过", "是否遇到过", "Have you met ", "Have you seen ")
_SUFFIXES: Final = ("的情况吗？", "的情况吗?", "吗？", "吗?", "?", "？")
SHORT_NAME_MAX: Final = 40


def short_problem_name(label: str, max_chars: int | None = SHORT_NAME_MAX) -> str:
    """A short name for a problem from its question label, for headings and the chart.

    Brackets are dropped; quoted phrases (“过度留痕”) are the name when there are any;
    otherwise the question's wrapping ("您遇到过…吗？", "Have you met …?") is removed.
    A name longer than `max_chars` is cut (None: never; the chart wraps instead).
    """
    text = _EXAMPLE_CLAUSE.sub("", _BRACKETED.sub("", label)).strip()
    quoted = _QUOTED.findall(text)
    if quoted:
        joiner = "、" if _CJK.search(text) else " / "
        name = joiner.join(part.strip() for part in quoted)
    else:
        name = text
        for prefix in _PREFIXES:
            if name.startswith(prefix):
                name = name[len(prefix) :]
                break
        for suffix in _SUFFIXES:
            if name.endswith(suffix):
                name = name[: -len(suffix)]
                break
    name = name.strip() or label.strip()
    if max_chars is not None and len(name) > max_chars:
        name = name[: max_chars - 1] + "…"
    return name


def _problem_name(
    questionnaire: Questionnaire,
    problem: ProblemFigures,
    locale: str,
    max_chars: int | None = SHORT_NAME_MAX,
) -> str:
    """The short name of a problem: from its question's label, or its grid row's label."""
    if questionnaire.has_answer_field(problem.question_id):
        label = questionnaire.answer_field(problem.question_id).label_for(locale)
        return short_problem_name(label, max_chars)
    return problem.question_id


def _section_title(questionnaire: Questionnaire, section_id: str, locale: str) -> str:
    for section in questionnaire.sections:
        if section.id == section_id:
            return section.title_for(locale)
    return ""


def _choice_label(
    questionnaire: Questionnaire, question_id: str, choice_id: str, locale: str
) -> str:
    words = _words(locale)
    if choice_id == NO_ANSWER:
        return words.no_answer
    if choice_id == MERGED:
        return words.merged
    try:
        return questionnaire.answer_field(question_id).choice_label(choice_id, locale)
    except KeyError:
        return choice_id


def _short_name(questionnaire: Questionnaire, question_id: str, locale: str) -> str:
    names = _SHORT_FIGURE_NAMES.get(question_id)
    if names is not None:
        return names[_language(locale)]
    if questionnaire.has_answer_field(question_id):
        return questionnaire.answer_field(question_id).label_for(locale)
    return question_id


def _percent(share: float) -> str:
    return f"{share:.0%}"


def digest_title(data: DigestData, *, locale: str = "zh-CN") -> str:
    """The title: the period's dates (and the campaign, by its title when known), never a
    count."""
    words = _words(locale)
    period = data.period
    first, last = period.first_day.isoformat(), period.last_day.isoformat()
    campaign = _campaign_name(data)
    if period.kind == "campaign":
        if campaign:
            return words.campaign_title.format(campaign=campaign, first=first, last=last)
        return words.campaign_untitled.format(first=first, last=last)
    template = words.daily_title if period.kind == "daily" else words.weekly_title
    title = template.format(first=first, last=last)
    if campaign:
        title += words.campaign.format(campaign=campaign)
    return title


def _campaign_name(data: DigestData) -> str:
    """The campaign's title when known, else its id ("" for no campaign)."""
    return (data.campaign_title or "").strip() or (data.campaign_id or "")


def _answered(count: int | None, k: int, words: _Words) -> str:
    """How many answers a figure rests on: exact when `count` is given, else "at least K"."""
    return (
        words.answered.format(n=count) if count is not None else words.answered_at_least.format(k=k)
    )


# ---------------------------------------------------------------------------- layout


def layout_digest(
    data: DigestData, questionnaire: Questionnaire, *, locale: str = "zh-CN"
) -> list[Block]:
    """The digest as blocks of lines, independent of the output format."""
    words = _words(locale)
    blocks: list[Block] = [(_line(_bold(digest_title(data, locale=locale)), kind="heading"),)]
    campaign = data.period.kind == "campaign"
    if data.submissions is None:
        below_k = words.below_k_campaign if campaign else words.below_k
        rhythm = words.fixed_rhythm_campaign if campaign else words.fixed_rhythm
        blocks.append(
            (_line(below_k.format(k=data.k)), _line(rhythm.format(k=data.k), kind="note"))
        )
        return blocks

    often = frequency_words(data, questionnaire, locale)
    received = words.received_campaign if campaign else words.received
    summary = [_line(received.format(n=data.submissions))]
    if data.any_often_share is not None:
        summary.append(
            _line(words.any_often.format(often=often.quoted, share=_percent(data.any_often_share)))
        )
    if data.with_text_share is not None:
        summary.append(_line(words.with_text.format(share=_percent(data.with_text_share))))
    compared = _comparison_line(data, words)
    if compared is not None:
        summary.append(compared)
    blocks.append(tuple(summary))

    headings = 0

    def heading(text: str) -> Line:
        nonlocal headings
        headings += 1
        return _line(_bold(_heading(headings, text, locale)), kind="heading")

    blocks.append((heading(words.problems_heading),))
    # One section for every problem (a grid): naming it under each problem says nothing.
    with_section = len({problem.section_id for problem in data.problems}) > 1
    quoted: set[str] = set()  # no quote twice in one digest, whatever the data holds
    for index, problem in enumerate(data.problems, start=1):
        blocks.append(
            _problem_block(
                index,
                problem,
                questionnaire,
                locale,
                often,
                section=with_section,
                k=data.k,
                quoted=quoted,
                against_campaign=_against_campaign(data),
            )
        )

    burden_lines = _burden_lines(data, questionnaire, locale)
    if burden_lines:
        blocks.append((heading(words.burden_heading), *burden_lines))

    number_lines = _number_lines(data, questionnaire, locale)
    if number_lines:
        blocks.append((heading(words.numbers_heading), *number_lines))

    if questionnaire.has_question(MEASURES_QUESTION) or data.measures:
        measure_lines = [
            _line(
                words.measure_item.format(
                    label=_choice_label(questionnaire, MEASURES_QUESTION, item.choice_id, locale),
                    n=item.count,
                    share=_percent(item.share),
                ),
                kind="item",
            )
            for item in data.measures
        ]
        if not measure_lines:
            measure_lines.append(_line(words.measures_none.format(k=data.k)))
        others = _fresh(data.measures_other, quoted)
        if others:
            measure_lines.append(_line(words.measures_other, kind="item"))
            measure_lines.extend(_line(f"「{text}」", kind="quote") for text in others)
        measure_lines.append(_line(words.measures_note.format(k=data.k), kind="note"))
        blocks.append((heading(words.measures_heading), *measure_lines))

    if data.breakdowns:
        lines = [heading(words.breakdown_heading)]
        for breakdown in data.breakdowns:
            lines.append(
                _line(
                    _short_name(questionnaire, breakdown.question_id, locale) + words.colon.rstrip()
                )
            )
            for group in breakdown.groups:
                label = group_label(questionnaire, breakdown.question_id, group.group_id, locale)
                text = words.group_item.format(label=label, n=group.size)
                if group.any_often_share is None:
                    text += words.group_share_hidden
                else:
                    text += words.group_share.format(share=_percent(group.any_often_share))
                lines.append(_line(text, kind="item"))
        blocks.append(tuple(lines))

    blocks.extend(
        _crosstab_blocks(
            data,
            questionnaire,
            locale,
            heading(words.crosstab_heading.format(often=often.slashed)) if data.crosstabs else None,
        )
    )

    notes = [_line(words.footnote.format(k=data.k), kind="note")]
    if data.undecryptable:
        notes.append(_line(words.undecryptable.format(n=data.undecryptable), kind="note"))
    blocks.append(tuple(notes))
    return blocks


def _against_campaign(data: DigestData) -> bool:
    return data.comparison is not None and data.comparison.kind == "campaign"


def _comparison_line(data: DigestData, words: _Words) -> Line | None:
    """Names the previous campaign once, in the summary, when the trends compare with it
    (a period's trend says "on the previous period" on every line already)."""
    comparison = data.comparison
    if comparison is None or comparison.kind != "campaign":
        return None
    if comparison.submissions is None:
        return _line(words.compared_campaign_below_k.format(label=comparison.label, k=data.k))
    return _line(
        words.compared_campaign.format(
            label=comparison.label,
            first=comparison.first_day.isoformat(),
            last=comparison.last_day.isoformat(),
        )
    )


def _change_text(problem: ProblemFigures, words: _Words, *, against_campaign: bool) -> str:
    """The trend beside a shown share: against the previous period, or the previous
    campaign's share and the change."""
    points = problem.change_points
    if points is None:
        return ""
    if against_campaign and problem.previous_share is not None:
        previous = _percent(problem.previous_share)
        if round(points) == 0:
            return words.unchanged_campaign.format(previous=previous)
        return words.change_campaign.format(previous=previous, points=points)
    return words.unchanged if round(points) == 0 else words.change.format(points=points)


def group_label(questionnaire: Questionnaire, question_id: str, group_id: str, locale: str) -> str:
    """A breakdown group's label as digests show it: the choice, "not answered", or the
    merged small groups (never naming their members)."""
    if group_id == NO_ANSWER:
        return _words(locale).not_filled
    return _choice_label(questionnaire, question_id, group_id, locale)


def grouping_name(questionnaire: Questionnaire, question_id: str, locale: str) -> str:
    """A grouping question as breakdowns name it ("按单位类型")."""
    return _short_name(questionnaire, question_id, locale)


def problem_label(
    questionnaire: Questionnaire,
    question_id: str,
    locale: str,
    max_chars: int | None = SHORT_NAME_MAX,
) -> str:
    """A problem's short name by its frequency key ("p2_freq", "freq.p2")."""
    if questionnaire.has_answer_field(question_id):
        label = questionnaire.answer_field(question_id).label_for(locale)
        return short_problem_name(label, max_chars)
    return question_id


def _crosstab_blocks(
    data: DigestData, questionnaire: Questionnaire, locale: str, heading: Line | None
) -> list[Block]:
    """One block per grouping question: a line per problem, each group with its size and
    share ("hidden" when suppressed, never a number). The first block carries `heading`."""
    if heading is None or not data.crosstabs:
        return []
    words = _words(locale)
    by_question: dict[str, list[CrossTab]] = {}
    for table in data.crosstabs:
        by_question.setdefault(table.breakdown_id, []).append(table)
    blocks: list[Block] = []
    for question_id, tables in by_question.items():
        lines: list[Line] = [heading] if not blocks else []
        lines.append(
            _line(grouping_name(questionnaire, question_id, locale) + words.colon.rstrip())
        )
        for table in tables:
            groups = words.list_sep.join(
                words.crosstab_group.format(
                    label=group_label(questionnaire, question_id, group.group_id, locale),
                    n=group.size,
                    share=(
                        words.hidden_cell
                        if group.often_share is None
                        else _percent(group.often_share)
                    ),
                )
                for group in table.groups
            )
            name = problem_label(questionnaire, table.question_id, locale)
            lines.append(_line(name + words.colon + groups, kind="item"))
        blocks.append(tuple(lines))
    return blocks


def _cells_text(
    cells: Sequence[Cell], questionnaire: Questionnaire, question_id: str, locale: str
) -> str:
    words = _words(locale)
    parts = []
    for cell in cells:
        label = _choice_label(questionnaire, question_id, cell.choice_id, locale)
        if cell.count is None or cell.share is None:
            parts.append(f"{label} {words.hidden_cell}")
        else:
            share = _percent(cell.share)
            zh = _language(locale) == "zh"
            parts.append(
                f"{label} {cell.count}（{share}）" if zh else f"{label} {cell.count} ({share})"
            )
    return words.list_sep.join(parts)


def _fresh(texts: Sequence[str], quoted: set[str]) -> list[str]:
    """The texts not yet quoted in this digest (each once), marking them as quoted."""
    fresh: list[str] = []
    for text in texts:
        if text not in quoted:
            quoted.add(text)
            fresh.append(text)
    return fresh


def _problem_block(
    index: int,
    problem: ProblemFigures,
    questionnaire: Questionnaire,
    locale: str,
    frequency: _Frequency,
    *,
    section: bool = True,
    k: int,
    quoted: set[str],
    against_campaign: bool = False,
) -> Block:
    words = _words(locale)
    often = words.often.format(often=frequency.heading)
    name = _problem_name(questionnaire, problem, locale)
    title = _section_title(questionnaire, problem.section_id, locale) if section else ""
    heading = [_bold(f"{index}. {name}")]
    if title:
        heading.append(
            Span(f"（{title}）" if _language(locale) == "zh" else f" ({title})", "italic")
        )
    lines = [Line(tuple(heading), "text")]
    if problem.often_share is None:
        lines.append(_line(often + words.hidden_share, kind="item"))
    else:
        change = _change_text(problem, words, against_campaign=against_campaign)
        lines.append(_line(often, _bold(_percent(problem.often_share)), change, kind="item"))
    if problem.distribution:
        lines.append(
            _line(
                words.distribution
                + _cells_text(problem.distribution, questionnaire, problem.question_id, locale),
                kind="item",
            )
        )
    if problem.mean_impact is not None:
        lines.append(
            _line(
                words.impact.format(mean=problem.mean_impact, max=problem.impact_max or 5)
                + _answered(problem.impact_answers, k, words),
                kind="item",
            )
        )
    examples = _fresh(problem.examples, quoted)
    if examples:
        lines.append(_line(words.examples, kind="item"))
        lines.extend(_line(f"「{example}」", kind="quote") for example in examples)
    return tuple(lines)


def _burden_lines(data: DigestData, questionnaire: Questionnaire, locale: str) -> list[Line]:
    """Where the burden comes from (each level chosen by at least K) and how it changed."""
    words = _words(locale)
    lines: list[Line] = []
    if questionnaire.has_question(BURDEN_QUESTION) or data.burden_sources:
        zh = _language(locale) == "zh"
        listed = [
            (
                f"{_choice_label(questionnaire, BURDEN_QUESTION, item.choice_id, locale)} "
                + (
                    f"{item.count}（{_percent(item.share)}）"
                    if zh
                    else f"{item.count} ({_percent(item.share)})"
                )
            )
            for item in data.burden_sources
        ]
        lines.append(
            _line(
                words.burden_sources.format(k=data.k)
                + (words.list_sep.join(listed) or words.burden_none.format(k=data.k)),
                kind="item",
            )
        )
    if data.change_since:
        lines.append(
            _line(
                words.change_since
                + _cells_text(data.change_since, questionnaire, CHANGE_QUESTION, locale),
                kind="item",
            )
        )
    return lines


def _number_lines(data: DigestData, questionnaire: Questionnaire, locale: str) -> list[Line]:
    words = _words(locale)
    lines: list[Line] = []
    for figures in data.numbers:
        name = _short_name(questionnaire, figures.question_id, locale)
        shown = []
        if figures.median is not None:
            shown.append(words.median.format(value=figures.median))
        if figures.p90 is not None:
            shown.append(words.p90.format(value=figures.p90))
        text = "，".join(shown) if _language(locale) == "zh" else ", ".join(shown)
        if text:
            text += _answered(figures.answers, data.k, words)
        lines.append(_line(name + words.colon + (text or words.number_hidden), kind="item"))
    if data.deadline_share:
        lines.append(
            _line(
                words.deadline
                + _cells_text(data.deadline_share, questionnaire, DEADLINE_QUESTION, locale),
                kind="item",
            )
        )
    return lines


# ---------------------------------------------------------------------------- Telegram HTML


def _html_span(span: Span) -> str:
    text = html.escape(span.text, quote=False)
    if span.style == "bold":
        return f"<b>{text}</b>"
    if span.style == "italic":
        return f"<i>{text}</i>"
    return text


def _html_line(line: Line) -> str:
    body = "".join(_html_span(span) for span in line.spans)
    if line.kind == "item":
        return f"• {body}"
    if line.kind == "quote":
        return f"<blockquote>{body}</blockquote>"
    if line.kind == "note":
        return f"<i>{body}</i>"
    return body


def telegram_length(text: str) -> int:
    """Length as Telegram counts it (UTF-16 code units)."""
    return len(text.encode("utf-16-le")) // 2


def pack_parts(blocks: Sequence[Sequence[str]], limit: int = TELEGRAM_LIMIT) -> list[str]:
    """Pack blocks of rendered lines into messages of at most `limit` (UTF-16) characters.

    Blocks are separated by a blank line and kept whole when they fit; a block too long for
    one message is cut between lines. Every line is a balanced fragment, so no tag is ever
    cut; a single line longer than the limit is a bug in the layout and raises ValueError.
    """
    parts: list[str] = []
    current = ""

    def flush() -> None:
        nonlocal current
        if current:
            parts.append(current)
            current = ""

    def add(piece: str, separator: str) -> None:
        nonlocal current
        candidate = f"{current}{separator}{piece}" if current else piece
        if telegram_length(candidate) <= limit:
            current = candidate
            return
        flush()
        current = piece

    for block in blocks:
        for line in block:
            if telegram_length(line) > limit:
                raise ValueError("a single digest line exceeds the Telegram limit")
        text = "\n".join(block)
        if telegram_length(text) <= limit:
            add(text, "\n\n")
            continue
        for position, line in enumerate(block):
            add(line, "\n\n" if position == 0 else "\n")
    flush()
    return parts


def render_telegram(
    data: DigestData,
    questionnaire: Questionnaire,
    *,
    locale: str = "zh-CN",
    limit: int = TELEGRAM_LIMIT,
) -> list[str]:
    """Telegram HTML messages (parse_mode=HTML), each at most `limit` characters."""
    blocks = layout_digest(data, questionnaire, locale=locale)
    return pack_parts([[_html_line(line) for line in block] for block in blocks], limit)


# ---------------------------------------------------------------------------- Markdown / plain

_MARKDOWN_SPECIAL: Final = str.maketrans(
    {
        "*": "＊",
        "_": "＿",
        "`": "｀",
        "#": "＃",
        "[": "［",
        "]": "］",
        "<": "＜",
        ">": "＞",
        "~": "～",
        "|": "｜",
        "\\": "＼",
    }
)


def markdown_escape(text: str) -> str:
    """Neutralise Markdown/HTML markup in data by swapping in full-width look-alikes."""
    return text.translate(_MARKDOWN_SPECIAL)


def _markdown_line(line: Line) -> str:
    body = ""
    for span in line.spans:
        text = markdown_escape(span.text)
        if span.style == "bold" and line.kind != "heading":
            body += f"**{text}**"
        else:
            body += text
    if line.kind == "heading":
        return f"**{body}**"
    if line.kind == "item":
        return f"- {body}"
    if line.kind == "quote":
        return f"> {body}"
    return body


def _plain_line(line: Line) -> str:
    body = "".join(span.text for span in line.spans)
    if line.kind == "item":
        return f"· {body}"
    if line.kind == "quote":
        return f"    {body}"
    return body


def render_markdown(
    data: DigestData, questionnaire: Questionnaire, *, locale: str = "zh-CN"
) -> str:
    """Markdown body (without the title) for WeCom and DingTalk robots."""
    blocks = layout_digest(data, questionnaire, locale=locale)[1:]
    return "\n\n".join("\n".join(_markdown_line(line) for line in block) for block in blocks)


def render_plain(data: DigestData, questionnaire: Questionnaire, *, locale: str = "zh-CN") -> str:
    """Plain-text body (without the title) for Feishu, generic webhooks and the console."""
    blocks = layout_digest(data, questionnaire, locale=locale)[1:]
    return "\n\n".join("\n".join(_plain_line(line) for line in block) for block in blocks)


# ---------------------------------------------------------------------------- chart


def chart_rows(
    data: DigestData, questionnaire: Questionnaire, *, locale: str = "zh-CN"
) -> list[ChartRow]:
    """One row per problem type, in questionnaire order, under its whole name (the chart
    wraps it); a hidden share is a suppressed row, never a number. A shown share rests on
    every submission of the period, its `n`."""
    rows: list[ChartRow] = []
    for problem in data.problems:
        name = _problem_name(questionnaire, problem, locale, max_chars=None)
        if problem.often_share is None:
            rows.append(ChartRow(name, None, suppressed=True))
        else:
            rows.append(ChartRow(name, problem.often_share, n=data.submissions))
    return rows


def chart_title(
    data: DigestData, *, locale: str = "zh-CN", questionnaire: Questionnaire | None = None
) -> str:
    """The chart's title, naming "often or more" in the questionnaire's words when given."""
    period = data.period
    span = (
        period.first_day.isoformat()
        if period.kind == "daily"
        else f"{period.first_day.isoformat()}–{period.last_day.isoformat()}"
    )
    campaign = _campaign_name(data)
    if period.kind == "campaign" and campaign:
        span = f"{campaign} {span}"
    often = frequency_words(data, questionnaire, locale).slashed
    return _words(locale).chart_title.format(period=span, often=often)


def chart_axis(data: DigestData, questionnaire: Questionnaire, *, locale: str = "zh-CN") -> str:
    """The chart's value axis, in the words of the questionnaire's frequency scale."""
    return captions_for(locale).axis_template.format(
        often=frequency_words(data, questionnaire, locale).plain
    )


def chart_footnote(data: DigestData, *, locale: str = "zh-CN") -> str:
    return _words(locale).chart_footnote.format(k=data.k)


def render_message(
    data: DigestData,
    questionnaire: Questionnaire,
    *,
    locale: str = "zh-CN",
    chart_png: bytes | None = None,
) -> DigestMessage:
    """The digest for webhooks: title, Markdown body, plain body and the chart."""
    return DigestMessage(
        title=digest_title(data, locale=locale),
        markdown=render_markdown(data, questionnaire, locale=locale),
        plain=render_plain(data, questionnaire, locale=locale),
        chart_png=chart_png,
    )
