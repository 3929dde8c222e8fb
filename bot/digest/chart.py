"""The digest chart: how often respondents meet each of the problem types.

Drawn with matplotlib's object-oriented API on an Agg canvas: no pyplot, no display and no
global state, so several renders can run side by side in a server. Rendering is CPU-bound
(about a tenth of a second); async callers should run it in a worker thread
(`await asyncio.to_thread(render_problem_chart, ...)`).

Rows whose group is below the k-anonymity threshold carry no value at all (see `ChartRow`):
the chart draws them as a hatched grey bar labelled "样本不足", never as a number. Rows with
a value come first, highest share on top, each labelled with its share and the number of
answers it rests on; when no row has a value (a period below K) the chart is an empty frame
saying "本期暂无数据", never bars that look full.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from io import BytesIO
from typing import TYPE_CHECKING

from bot.digest.fonts import cjk_font_properties

if TYPE_CHECKING:  # matplotlib is imported when a chart is drawn: it weighs ~50 MB
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

DPI = 150
WIDTH_INCHES = 9.0
ROW_HEIGHT_INCHES = 0.55
FRAME_HEIGHT_INCHES = 1.6
LABEL_WRAP_CHARS = 16
BAR_COLOUR = "#2a6f97"
SUPPRESSED_FACE = "#eeeeee"
SUPPRESSED_EDGE = "#9e9e9e"
SUPPRESSED_HATCH = "///"
# A value label past this share goes inside the bar, in white, so it never leaves the axes.
INSIDE_LABEL_FROM = 0.88


@dataclass(frozen=True)
class ChartRow:
    """One problem type: its label and the share (0–1) of respondents meeting it often.

    A suppressed row (group below K) must not carry a share: keeping the number out of the
    chart's input makes it impossible to leak by accident.
    """

    label: str
    share: float | None
    suppressed: bool = False
    n: int | None = None
    """How many answers the share rests on (printed next to it)."""

    def __post_init__(self) -> None:
        if not self.label.strip():
            raise ValueError("a chart row needs a label")
        if self.n is not None and self.n < 1:
            raise ValueError(f"n must be positive, got {self.n!r}")
        if self.suppressed:
            if self.share is not None or self.n is not None:
                raise ValueError("a suppressed row must not carry a share or a count")
            return
        if self.share is None or not math.isfinite(self.share) or not 0 <= self.share <= 1:
            raise ValueError(f"share must be between 0 and 1, got {self.share!r}")


@dataclass(frozen=True)
class _Captions:
    suppressed: str
    empty: str
    """The whole chart when no row has a value."""
    count: str
    """The number of answers next to a share ({n})."""
    axis: str
    """The value axis when the caller does not name the scale's words."""
    axis_template: str
    """The value axis around "often or more" in the questionnaire's own words ({often})."""


_CAPTIONS = {
    "zh-CN": _Captions(
        suppressed="样本不足",
        empty="本期暂无数据",
        count="（{n} 人）",
        axis="经常或非常经常遇到的受访者比例",
        axis_template="{often}遇到的受访者比例",
    ),
    "en": _Captions(
        suppressed="too few responses",
        empty="No data for this period",
        count=" (n={n})",
        axis="Share of respondents meeting it often or very often",
        axis_template="Share of respondents meeting it {often}",
    ),
}


def captions_for(locale: str) -> _Captions:
    """Chart captions for `locale`; anything that is not English gets zh-CN, the default."""
    return _CAPTIONS["en"] if locale.lower().startswith("en") else _CAPTIONS["zh-CN"]


def wrap_label(label: str, width: int = LABEL_WRAP_CHARS) -> str:
    """Wrap a long category label onto several lines so the bars keep most of the width.

    Chinese has no spaces, so a label without spaces is cut every `width` characters,
    preferring to break just after a list comma when one falls in the second half of a line.
    """
    if " " in label:
        return "\n".join(textwrap.wrap(label, width * 2)) or label
    lines: list[str] = []
    rest = label
    while len(rest) > width:
        cut = width
        for index in range(width - 1, width // 2 - 1, -1):
            if rest[index] in "、，,；;":
                cut = index + 1
                break
        lines.append(rest[:cut])
        rest = rest[cut:]
    lines.append(rest)
    return "\n".join(line for line in lines if line)


TITLE_MAX_EMS = 34.0
"""About how wide (in ems of the title font) a one-line title may be and still fit."""


def _ems(text: str) -> float:
    """Rough width in ems: a CJK character is one, anything narrower about half."""
    return sum(1.0 if ord(char) >= 0x2E80 else 0.55 for char in text)


def fit_title(title: str) -> str:
    """A title too wide for one line is broken after its separator (｜ or |) and, if still
    too wide, between words, so that it is never cut at the figure's edge."""
    if _ems(title) <= TITLE_MAX_EMS:
        return title
    for separator in ("｜", " | "):
        head, found, tail = title.rpartition(separator)
        if found:
            return "\n".join((fit_title(head.rstrip()), tail.strip()))
    if " " in title:
        return "\n".join(textwrap.wrap(title, int(TITLE_MAX_EMS / 0.55)))
    return title


def chart_order(rows: Sequence[ChartRow]) -> list[ChartRow]:
    """Rows with a value first, highest share first (ties keep their order), then the
    suppressed rows in their order."""
    shown = [row for row in rows if not row.suppressed]
    shown.sort(key=lambda row: -(row.share or 0.0))
    return shown + [row for row in rows if row.suppressed]


def _empty_axes(axes: Axes, text: str) -> None:
    """An empty frame with `text` in the middle: nothing that reads as a bar."""
    axes.set_xlim(0.0, 1.0)
    axes.set_ylim(0.0, 1.0)
    axes.set_xticks([])
    axes.set_yticks([])
    axes.text(
        0.5,
        0.5,
        text,
        ha="center",
        va="center",
        color="#555555",
        fontproperties=cjk_font_properties(16.0),
        gid="empty",
    )


def build_problem_figure(
    rows: Sequence[ChartRow],
    *,
    title: str,
    locale: str = "zh-CN",
    footnote: str | None = None,
    axis: str | None = None,
) -> Figure:
    """Lay out the chart as a Figure (separate from PNG encoding so tests can inspect it).
    `axis` labels the value axis (the digest passes the questionnaire's own scale words)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import PercentFormatter

    captions = captions_for(locale)
    label_font = cjk_font_properties(10.5)
    value_font = cjk_font_properties(10.0)
    empty = all(row.suppressed for row in rows)
    rows = chart_order(rows)
    labels = [wrap_label(row.label) for row in rows]
    lines = sum(label.count("\n") + 1 for label in labels)
    height = (
        FRAME_HEIGHT_INCHES
        + ROW_HEIGHT_INCHES * (3 if empty else max(len(rows), lines * 0.6))
        + (0.3 if footnote else 0.0)
    )
    figure = Figure(figsize=(WIDTH_INCHES, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.set_title(fit_title(title), fontproperties=cjk_font_properties(14.0), loc="left")
    if footnote:
        figure.supxlabel(footnote, fontproperties=cjk_font_properties(9.0), color="#666666")
    if empty:
        _empty_axes(axes, captions.empty)
        for side in ("top", "right"):
            axes.spines[side].set_visible(False)
        return figure

    positions = list(range(len(rows)))
    for position, row in zip(positions, rows, strict=True):
        if row.suppressed:
            axes.barh(
                position,
                1.0,
                color=SUPPRESSED_FACE,
                edgecolor=SUPPRESSED_EDGE,
                hatch=SUPPRESSED_HATCH,
                linewidth=0.6,
                gid="suppressed",
            )
            axes.text(
                0.5,
                position,
                captions.suppressed,
                ha="center",
                va="center",
                color="#555555",
                fontproperties=value_font,
                bbox={"facecolor": "white", "edgecolor": "none", "pad": 1.5},
            )
            continue
        share = row.share if row.share is not None else 0.0
        axes.barh(position, share, color=BAR_COLOUR, gid="value")
        inside = share >= INSIDE_LABEL_FROM
        count = captions.count.format(n=row.n) if row.n is not None else ""
        axes.text(
            share - 0.01 if inside else share + 0.01,
            position,
            f"{share:.0%}{count}",
            ha="right" if inside else "left",
            va="center",
            color="white" if inside else "#222222",
            fontproperties=value_font,
        )

    axes.set_yticks(positions, labels=labels)
    for tick_label in axes.get_yticklabels():
        tick_label.set_fontproperties(label_font)
    axes.invert_yaxis()  # first row (the highest share) on top
    axes.set_xlim(0.0, 1.0)
    axes.xaxis.set_major_formatter(PercentFormatter(xmax=1.0, decimals=0))
    for tick_label in axes.get_xticklabels():
        tick_label.set_fontproperties(value_font)
    axes.set_xlabel(axis if axis is not None else captions.axis, fontproperties=label_font)
    axes.xaxis.grid(True, color="#dddddd", linewidth=0.8)
    axes.set_axisbelow(True)
    axes.tick_params(axis="y", length=0)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    return figure


def render_problem_chart(
    rows: Sequence[ChartRow],
    *,
    title: str,
    locale: str = "zh-CN",
    footnote: str | None = None,
    axis: str | None = None,
) -> bytes:
    """PNG bytes of the problem chart (typically 60–120 KB, far below WeCom's 2 MB)."""
    figure = build_problem_figure(rows, title=title, locale=locale, footnote=footnote, axis=axis)
    buffer = BytesIO()
    # No "Software" entry: the PNG then does not depend on the matplotlib version.
    figure.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return buffer.getvalue()
