"""The digest chart: real Chinese glyphs, suppressed groups without numbers, a usable PNG."""

from __future__ import annotations

import io
import time
import warnings

import pytest
from matplotlib.ft2font import FT2Font
from matplotlib.patches import Rectangle
from PIL import Image

from bot.digest.chart import (
    ChartRow,
    build_problem_figure,
    captions_for,
    render_problem_chart,
    wrap_label,
)
from bot.digest.fonts import cjk_font_path, ensure_cjk_font

PROBLEM_LABELS = [
    "以会议落实会议、以文件落实文件",
    "填表报数多、重复报送",
    "督查检查考核过多过频",
    "过度留痕、重痕不重绩",
    "“指尖上的形式主义”：工作群、政务App打卡",
    "调研走过场、作秀式调研",
    "层层加码、上下一般粗",
    "新官不理旧账、决策拍脑袋",
    "责任甩锅、属地管理泛化",
]
SHARES = [0.62, 0.91, 0.35, None, 0.77, 0.12, 0.0, 1.0, 0.5]
TITLE = "本周基层形式主义问题概览（n=128）"


def nine_rows() -> list[ChartRow]:
    return [
        ChartRow(label, share) if share is not None else ChartRow(label, None, suppressed=True)
        for label, share in zip(PROBLEM_LABELS, SHARES, strict=True)
    ]


def test_font_is_the_packaged_noto_cjk_and_has_every_needed_glyph() -> None:
    path = cjk_font_path()
    assert path.name == "NotoSansCJKsc-Regular.otf"
    assert ensure_cjk_font() == "Noto Sans CJK SC"
    font = FT2Font(str(path))
    texts = [*PROBLEM_LABELS, TITLE, "0123456789%", *vars(captions_for("zh-CN")).values()]
    missing = sorted(
        {char for text in texts for char in text if font.get_char_index(ord(char)) == 0}
    )
    assert missing == []


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_rendering_chinese_labels_draws_no_missing_glyph_boxes(locale: str) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        png = render_problem_chart(
            nine_rows(), title=TITLE, locale=locale, footnote="少于 5 人的组不显示"
        )

    glyph_warnings = [str(w.message) for w in caught if "missing from font" in str(w.message)]
    assert glyph_warnings == []
    assert png.startswith(b"\x89PNG\r\n\x1a\n")


def test_png_decodes_with_a_sensible_size_well_under_the_robot_limits() -> None:
    png = render_problem_chart(nine_rows(), title=TITLE)

    image = Image.open(io.BytesIO(png))
    image.load()
    width, height = image.size
    assert image.format == "PNG"
    assert 1000 <= width <= 2000
    assert 600 <= height <= 2000
    assert width + height <= 10_000  # Telegram photo limit
    assert len(png) < 512 * 1024  # far below WeCom's 2 MB and Telegram's 10 MB


def by_share() -> list[tuple[str, float | None]]:
    """The labels and shares of `nine_rows` as the chart orders them: highest share first
    (ties keep their order), the suppressed row last."""
    pairs = list(zip(PROBLEM_LABELS, SHARES, strict=True))
    shown = sorted((pair for pair in pairs if pair[1] is not None), key=lambda p: -(p[1] or 0))
    return shown + [pair for pair in pairs if pair[1] is None]


def test_values_are_shown_as_percentages_and_suppressed_rows_show_no_number() -> None:
    figure = build_problem_figure(nine_rows(), title=TITLE)
    (axes,) = figure.axes

    shown = [text.get_text() for text in axes.texts]
    assert shown == ["100%", "91%", "77%", "62%", "50%", "35%", "12%", "0%", "样本不足"]
    bars = [patch for patch in axes.patches if isinstance(patch, Rectangle)]
    suppressed = [bar for bar in bars if bar.get_gid() == "suppressed"]
    assert len(suppressed) == 1
    assert suppressed[0].get_hatch()
    assert suppressed[0].get_width() == 1.0  # a full-width band, not a value
    values = [round(bar.get_width(), 2) for bar in bars if bar.get_gid() == "value"]
    assert values == [share for _, share in by_share() if share is not None]
    tick_labels = [label.get_text().replace("\n", "") for label in axes.get_yticklabels()]
    assert tick_labels == [label for label, _ in by_share()]  # highest share on top
    assert axes.yaxis_inverted()


def test_each_bar_is_labelled_with_the_number_of_answers_it_rests_on() -> None:
    rows = [
        ChartRow("过度留痕", 0.25, n=12),
        ChartRow("为开会而开会", 0.5, n=12),
        ChartRow("新官不理旧事", None, suppressed=True),
    ]

    zh = [text.get_text() for text in build_problem_figure(rows, title=TITLE).axes[0].texts]
    en = [
        text.get_text()
        for text in build_problem_figure(rows, title=TITLE, locale="en").axes[0].texts
    ]

    assert zh == ["50%（12 人）", "25%（12 人）", "样本不足"]
    assert en == ["50% (n=12)", "25% (n=12)", "too few responses"]


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_a_chart_without_any_value_is_an_empty_frame_saying_so(locale: str) -> None:
    all_suppressed = [ChartRow(label, None, suppressed=True) for label in PROBLEM_LABELS]

    for rows in (all_suppressed, []):
        figure = build_problem_figure(rows, title=TITLE, locale=locale, footnote="少于 5 人")
        (axes,) = figure.axes
        assert [text.get_text() for text in axes.texts] == [captions_for(locale).empty]
        assert not axes.patches  # no bar, hatched or not
        assert not [label.get_text() for label in axes.get_yticklabels()]
        assert axes.get_title(loc="left") == TITLE
    assert captions_for("zh-CN").empty == "本期暂无数据"
    assert render_problem_chart(all_suppressed, title=TITLE).startswith(b"\x89PNG")


def test_english_locale_uses_english_captions() -> None:
    figure = build_problem_figure(nine_rows(), title="Weekly overview", locale="en")
    (axes,) = figure.axes
    assert "too few responses" in [text.get_text() for text in axes.texts]
    assert axes.get_xlabel().startswith("Share of respondents")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"label": "x", "share": 1.2},
        {"label": "x", "share": -0.1},
        {"label": "x", "share": float("nan")},
        {"label": "x", "share": None},
        {"label": "x", "share": 0.4, "suppressed": True},
        {"label": "x", "share": None, "suppressed": True, "n": 12},
        {"label": "x", "share": 0.4, "n": 0},
        {"label": " ", "share": 0.4},
    ],
)
def test_chart_rows_reject_impossible_or_leaking_values(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        ChartRow(**kwargs)  # type: ignore[arg-type]


def test_long_labels_wrap_preferring_a_list_comma() -> None:
    assert (
        wrap_label("“指尖上的形式主义”：工作群、政务App打卡")
        == "“指尖上的形式主义”：工作群、\n政务App打卡"
    )
    assert wrap_label("以会议落实会议、以文件落实文件") == "以会议落实会议、以文件落实文件"
    long_english = "Meetings to implement meetings and documents to implement documents"
    assert all(len(line) <= 32 for line in wrap_label(long_english).split("\n"))


@pytest.mark.load
def test_render_time_stays_reasonable_once_the_font_is_loaded() -> None:
    render_problem_chart(nine_rows(), title=TITLE)  # warm: font registration and glyph cache
    started = time.perf_counter()
    render_problem_chart(nine_rows(), title=TITLE)
    assert time.perf_counter() - started < 2.0
