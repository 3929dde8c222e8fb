"""The campaign's link, QR code and A4 poster: the link is the campaign's page, the QR code
(alone and on the poster) reads back module by module as the symbol of that link, and the
poster is an A4 page in PNG and PDF whose blocks stay on the page and apart."""

from __future__ import annotations

import io
import itertools
import re
from collections.abc import Sequence
from datetime import date

import pytest
import segno
from matplotlib.figure import Figure
from matplotlib.text import Text
from PIL import Image

from bot.campaigns.poster import (
    A4_INCHES,
    POSTER_DPI,
    QR_BORDER,
    QR_MIN_PIXELS,
    build_poster_figure,
    campaign_link,
    is_local_url,
    poster_files,
    qr_code,
    qr_png,
    wrap_text,
)
from bot.digest.fonts import ensure_cjk_font
from bot.statuses import CampaignStatus
from storage.repositories.campaigns import Campaign

PUBLIC = "https://qingfeng.example.org"
LINK = f"{PUBLIC}/c/1a2b3c4d"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
A4_POINTS = (595.28, 841.89)


def _campaign(title: str = "第四季度基层减负调研", closes: date = date(2026, 12, 31)) -> Campaign:
    return Campaign(
        "1a2b3c4d", title, "formalism", 1, date(2026, 10, 1), closes, CampaignStatus.OPEN
    )


def _reference_matrix(link: str) -> list[list[bool]]:
    """The symbol of `link` built independently with segno's general entry point."""
    code = segno.make(link, error="q", micro=False, boost_error=False)
    return [[bool(module & 1) for module in row] for row in code.matrix]


def _read_modules(
    image: Image.Image, left: float, top: float, module: float, count: int
) -> list[list[bool]]:
    """Dark (True) or light at the centre of each of `count` × `count` modules."""
    gray = image.convert("L")
    return [
        [
            gray.getpixel((int(left + (x + 0.5) * module), int(top + (y + 0.5) * module))) < 128  # type: ignore[operator]
            for x in range(count)
        ]
        for y in range(count)
    ]


# --- the link -------------------------------------------------------------------------


def test_the_link_is_the_campaign_page_under_the_public_url() -> None:
    assert campaign_link(PUBLIC, "1a2b3c4d") == LINK


def test_an_id_with_unsafe_characters_stays_one_path_segment() -> None:
    assert campaign_link(PUBLIC, "a/b c?d") == f"{PUBLIC}/c/a%2Fb%20c%3Fd"


@pytest.mark.parametrize(
    ("url", "local"),
    [
        ("http://127.0.0.1:8080", True),
        ("http://localhost:8080", True),
        ("http://[::1]:8080", True),
        ("http://0.0.0.0", True),
        ("https://qingfeng.example.org", False),
        ("https://203.0.113.7", False),
    ],
)
def test_a_local_public_url_is_recognised(url: str, local: bool) -> None:
    assert is_local_url(url) is local


# --- the QR code ----------------------------------------------------------------------


def test_the_qr_code_is_the_full_symbol_of_the_link_at_level_q() -> None:
    code = qr_code(LINK)
    assert not code.is_micro
    assert code.error == "Q"
    assert [[bool(m & 1) for m in row] for row in code.matrix] == _reference_matrix(LINK)
    assert _reference_matrix(LINK) != _reference_matrix(LINK + "x")


def test_the_qr_png_reads_back_as_the_symbol_with_its_quiet_zone() -> None:
    data = qr_png(LINK)
    assert data.startswith(PNG_SIGNATURE)
    assert len(data) < 50_000
    image = Image.open(io.BytesIO(data))
    width, height = image.size
    assert width == height and QR_MIN_PIXELS <= width <= 2 * QR_MIN_PIXELS
    reference = _reference_matrix(LINK)
    count = len(reference) + 2 * QR_BORDER
    assert width % count == 0  # whole pixels per module
    read = _read_modules(image, 0, 0, width / count, count)
    quiet = [row[:QR_BORDER] + row[-QR_BORDER:] for row in read] + read[:QR_BORDER]
    assert not any(any(row) for row in quiet + read[-QR_BORDER:])
    assert [row[QR_BORDER:-QR_BORDER] for row in read[QR_BORDER:-QR_BORDER]] == reference


# --- the poster -----------------------------------------------------------------------


def _texts(figure: Figure) -> dict[str, Text]:
    return {str(text.get_gid()): text for text in figure.texts if text.get_gid()}


def test_the_poster_says_what_the_cadre_needs_in_chinese() -> None:
    figure = build_poster_figure("第四季度基层减负调研", LINK, date(2026, 12, 31))
    texts = _texts(figure)
    assert texts["title"].get_text() == "第四季度基层减负调研"
    assert texts["anonymity"].get_text() == "扫码匿名填写：不用登录，不留姓名，不记录手机号和IP"
    assert texts["link"].get_text() == LINK and texts["link"].get_url() == LINK
    assert texts["closing"].get_text() == "截止日期：2026年12月31日"
    assert texts["footer"].get_text() == "清风 · 基层减负匿名调研"
    family = ensure_cjk_font()
    assert all(text.get_fontproperties().get_family() == [family] for text in figure.texts)
    assert float(texts["title"].get_fontsize()) > 2 * float(texts["footer"].get_fontsize())


def test_the_closing_day_is_written_the_chinese_way() -> None:
    figure = build_poster_figure("第一轮", LINK, date(2027, 1, 5))
    assert _texts(figure)["closing"].get_text() == "截止日期：2027年1月5日"


def test_without_a_closing_day_the_poster_has_no_closing_line() -> None:
    figure = build_poster_figure("第四季度基层减负调研", LINK, None)
    assert "closing" not in _texts(figure)
    assert not any("截止" in text.get_text() for text in figure.texts)


def test_the_poster_follows_the_locale() -> None:
    figure = build_poster_figure("Spring round", LINK, date(2026, 12, 31), locale="en")
    texts = _texts(figure)
    assert texts["closing"].get_text() == "Closing day: 2026-12-31"
    assert texts["anonymity"].get_text().startswith("Scan to answer anonymously")


def _blocks_top_to_bottom(figure: Figure) -> list[tuple[str, float, float, float, float]]:
    """(name, left, bottom, right, top) in pixels of each block, from the top of the page."""
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()  # type: ignore[attr-defined]
    boxes = [
        (str(text.get_gid() or text.get_text()), text.get_window_extent(renderer))
        for text in figure.texts
    ]
    boxes += [("qr", axes.get_window_extent(renderer)) for axes in figure.axes]
    ordered = sorted(boxes, key=lambda item: -item[1].y1)
    return [(name, box.x0, box.y0, box.x1, box.y1) for name, box in ordered]


@pytest.mark.parametrize(
    ("title", "link"),
    [
        ("第一轮", LINK),
        ("2026年第四季度基层减负专项调研：会议、文件与督查检查情况" * 4, LINK),
        ("关于" + "形式主义官僚主义问题" * 20, LINK),
        (
            "Spring round: how many meetings, documents and inspections did you face "
            "this quarter? " * 3,
            "https://a-rather-long-host-name.survey.example.org/qingfeng/c/1a2b3c4d",
        ),
    ],
    ids=["short", "long-chinese", "longest", "long-english"],
)
def test_every_block_stays_on_the_page_in_order_and_apart(title: str, link: str) -> None:
    figure = build_poster_figure(title[:200], link, date(2026, 12, 31))
    width, height = figure.bbox.width, figure.bbox.height
    margin = 0.04 * width
    blocks = _blocks_top_to_bottom(figure)
    assert [name for name, *_ in blocks] == [
        "title",
        "anonymity",
        "qr",
        "hint",
        "link",
        "closing",
        "footer",
    ]
    for _name, left, bottom, right, top in blocks:
        assert margin <= left < right <= width - margin
        assert 0 < bottom < top <= height - margin
    for upper, lower in itertools.pairwise(blocks):
        assert lower[4] < upper[2], (upper[0], lower[0])  # a block ends above the next one
    qr = next(block for block in blocks if block[0] == "qr")
    assert qr[3] - qr[1] >= 0.55 * width  # the QR code is large: over half the page's width
    assert len(_texts(figure)["title"].get_text().split("\n")) <= 5


def test_the_poster_png_is_a4_and_its_qr_code_reads_back() -> None:
    files = poster_files(_campaign(), PUBLIC)
    assert files.link == LINK
    assert files.poster_png.startswith(PNG_SIGNATURE)
    image = Image.open(io.BytesIO(files.poster_png))
    width, height = image.size
    assert width == round(A4_INCHES[0] * POSTER_DPI)
    assert abs(height / width - 2**0.5) < 0.005
    assert 20_000 < len(files.poster_png) < 2_000_000

    figure = build_poster_figure(_campaign().title, LINK, date(2026, 12, 31))
    figure.canvas.draw()
    box = figure.axes[0].get_window_extent()
    reference = _reference_matrix(LINK)
    count = len(reference) + 2 * QR_BORDER
    module = box.width / count
    assert module >= 8  # at 150 dpi: about 1.4 mm per module on paper
    read = _read_modules(image, box.x0, height - box.y1, module, count)
    assert not any(any(row) for row in read[:QR_BORDER] + read[-QR_BORDER:])
    assert [row[QR_BORDER:-QR_BORDER] for row in read[QR_BORDER:-QR_BORDER]] == reference


def _media_boxes(pdf: bytes) -> Sequence[tuple[float, ...]]:
    found = re.findall(rb"/MediaBox\s*\[\s*([^\]]+)\]", pdf)
    return [tuple(float(value) for value in box.split()) for box in found]


def test_the_poster_pdf_is_one_a4_page_with_the_link_clickable() -> None:
    pdf = poster_files(_campaign(), PUBLIC).poster_pdf
    assert pdf.startswith(b"%PDF-")
    assert pdf.rstrip().endswith(b"%%EOF")
    (box,) = _media_boxes(pdf)
    x0, y0, x1, y1 = box
    assert (x0, y0) == (0, 0)
    assert abs(x1 - A4_POINTS[0]) < 0.5 and abs(y1 - A4_POINTS[1]) < 0.5
    assert len(re.findall(rb"/Type\s*/Page\b", pdf)) == 1
    assert f"/URI ({LINK})".encode() in pdf
    assert 5_000 < len(pdf) < 2_000_000


def test_the_same_campaign_gives_the_same_bytes() -> None:
    first, second = poster_files(_campaign(), PUBLIC), poster_files(_campaign(), PUBLIC)
    assert first == second
    other = poster_files(_campaign(title="第五轮"), PUBLIC)
    assert other.poster_png != first.poster_png and other.qr_png == first.qr_png


# --- line breaking ----------------------------------------------------------------------


def test_chinese_wraps_anywhere_but_never_before_closing_punctuation() -> None:
    lines = wrap_text("一二三四五，六七八九十", 10)
    assert lines == ["一二三四五，", "六七八九十"]
    assert all(
        not line.startswith(("，", "。", "、", "：")) for line in wrap_text("甲乙：丙丁" * 9, 8)
    )


def test_latin_words_break_at_spaces_and_a_lone_long_word_is_cut() -> None:
    assert wrap_text("no login, no name", 9) == ["no login,", "no name"]
    assert wrap_text("abcdefghij", 4) == ["abcd", "efgh", "ij"]
    assert wrap_text("", 10) == [""]
