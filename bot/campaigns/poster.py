"""A campaign's link, its QR code and a printable A4 poster, for admins to post in WeChat
work groups and on notice boards.

Everything here is pure: bytes in memory, no files and no network, so the Telegram command and
the command line share it. The poster is drawn with matplotlib's object-oriented API on an Agg
canvas (no pyplot, no global state) in the project's CJK font; the QR code is drawn as one
vector path, so the PDF prints sharp at any size. Rendering is CPU-bound (a few tenths of a
second): async callers run `poster_files` in a worker thread.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from io import BytesIO
from typing import TYPE_CHECKING
from urllib.parse import quote, urlsplit

import segno

from bot.digest.fonts import cjk_font_properties
from bot.i18n.text import DEFAULT_LOCALE, use_locale
from bot.i18n.text import gettext as _
from storage.repositories.campaigns import Campaign

if TYPE_CHECKING:  # matplotlib is imported when a poster is drawn: it weighs ~50 MB
    from matplotlib.backend_bases import RendererBase
    from matplotlib.figure import Figure
    from matplotlib.path import Path
    from matplotlib.text import Text

#: A4 in inches (210 × 297 mm): PDF pages of 595.3 × 841.9 points.
A4_INCHES = (210 / 25.4, 297 / 25.4)
POSTER_DPI = 150
#: Error correction Q survives a quarter of the symbol smudged, folded or stapled over.
QR_ERROR = "q"
QR_BORDER = 4  # modules of quiet zone, the minimum the standard asks for
QR_MIN_PIXELS = 600

MARGIN_PT = 64.0
QR_SIDE_PT = 360.0
TITLE_SIZES = (34.0, 30.0, 26.0, 22.0, 18.0)
TITLE_MAX_LINES = 3
TITLE_MAX_LINES_SMALLEST = 5
BODY_SIZE = 15.0
LINK_SIZE = 13.0
CLOSING_SIZE = 18.0
FOOTER_SIZE = 10.0
LINE_SPACING = 1.3
INK = "#1a1a1a"
ACCENT = "#2a6f97"
MUTED = "#666666"

# Characters that should not begin a line (Chinese line-breaking rules).
_NO_LINE_START = frozenset("，。、：；！？）》」』】〉,.:;!?)]}%")
# A run of non-CJK, non-space characters is a word; each CJK character stands alone.
_TOKEN = re.compile(r"\s+|[^\s\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef\u3000-\u303f]+|.", re.DOTALL)


@dataclass(frozen=True)
class PosterFiles:
    """What an admin hands out for one campaign: the link, its QR code and the poster."""

    link: str
    qr_png: bytes
    poster_png: bytes
    poster_pdf: bytes


def campaign_link(public_url: str, campaign_id: str) -> str:
    """The public page of one campaign (`public_url` has no trailing slash), e.g. `…/c/2741`:
    ids are short numbers now (8 hex digits before); quoting keeps any id one path segment."""
    return f"{public_url}/c/{quote(campaign_id, safe='')}"


def is_local_url(public_url: str) -> bool:
    """True when the link can only work on this machine (localhost, a loopback or unspecified
    address): the admin should set WEB_PUBLIC_URL before handing it out."""
    host = urlsplit(public_url).hostname or ""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


def qr_code(link: str) -> segno.QRCode:
    """The QR code of `link`: a full QR symbol (never a Micro QR, which phones do not read)
    at error correction Q, not boosted, so the same link always gives the same symbol."""
    return segno.make_qr(link, error=QR_ERROR, boost_error=False)


def qr_png(link: str) -> bytes:
    """PNG of the QR code with its quiet zone, at least `QR_MIN_PIXELS` wide."""
    code = qr_code(link)
    modules, _height = code.symbol_size(scale=1, border=QR_BORDER)
    scale = -(-QR_MIN_PIXELS // modules)
    buffer = BytesIO()
    code.save(buffer, kind="png", scale=scale, border=QR_BORDER)
    return buffer.getvalue()


def _display_width(text: str) -> int:
    """Width in half-em units: a CJK character counts two, anything else one."""
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


def wrap_text(text: str, columns: int) -> list[str]:
    """Greedy line breaking in half-em `columns`: Chinese may break between any two
    characters (never before closing punctuation), Latin words only at spaces unless a word
    alone is too long."""
    lines: list[str] = []
    line = ""
    space = False
    for token in _TOKEN.findall(" ".join(text.split())):
        if token.isspace():
            space = bool(line)
            continue
        piece = (" " if space else "") + token
        space = False
        fits = _display_width(line + piece) <= columns
        if fits or not line or token[0] in _NO_LINE_START:
            line += piece
        else:
            lines.append(line)
            line = token
        alone = line == token  # a word too long for any line is cut; nothing else is
        while alone and _display_width(line) > columns and len(line) > 1:
            cut = len(line)
            while cut > 1 and _display_width(line[:cut]) > columns:
                cut -= 1
            lines.append(line[:cut])
            line = line[cut:]
    if line:
        lines.append(line)
    return lines or [""]


def balanced_wrap(text: str, columns: int) -> list[str]:
    """`wrap_text` at the narrowest width that needs no more lines than `columns` does, so
    a title's last line is not a lonely word or two."""
    lines = wrap_text(text, columns)
    while columns > 4 and len(narrower := wrap_text(text, columns - 1)) == len(lines):
        lines = narrower
        columns -= 1
    return lines


@dataclass(frozen=True)
class _PosterText:
    title: str
    anonymity: str
    link_hint: str
    closing: str | None
    footer: str


def _poster_text(title: str, closes: date | None, locale: str) -> _PosterText:
    with use_locale(locale):
        closing = None
        if closes is not None:
            closing = _("Closing day: {year}-{month}-{day}").format(
                year=closes.year, month=closes.month, day=closes.day
            )
        return _PosterText(
            title=title.strip(),
            anonymity=_(
                "Scan to answer anonymously: no login, no name, no phone number or IP "
                "address recorded"
            ),
            link_hint=_("Or open this link in a browser:"),
            closing=closing,
            footer=_("Qingfeng · anonymous survey on easing the burden at the grassroots"),
        )


class _Flow:
    """Places centred blocks top to bottom on the page, measuring each one as drawn."""

    def __init__(self, figure: Figure, renderer: RendererBase) -> None:
        self.figure = figure
        self.renderer = renderer
        self.width_pt = A4_INCHES[0] * 72
        self.height_pt = A4_INCHES[1] * 72
        self.usable_pt = self.width_pt - 2 * MARGIN_PT

    def text(self, lines: list[str], size: float, colour: str) -> Text:
        return self.figure.text(
            0.5,
            0.5,
            "\n".join(lines),
            ha="center",
            va="top",
            multialignment="center",
            linespacing=LINE_SPACING,
            color=colour,
            fontproperties=cjk_font_properties(size),
        )

    def extent_pt(self, artist: Text) -> tuple[float, float]:
        box = artist.get_window_extent(self.renderer)
        scale = 72 / self.figure.dpi
        return box.width * scale, box.height * scale

    def fitted(self, text: str, sizes: tuple[float, ...], colour: str) -> Text:
        """`text` wrapped at the largest size in `sizes` whose lines fit the width within the
        line limit; the last size truncates with an ellipsis rather than run off the page."""
        for index, size in enumerate(sizes):
            smallest = index == len(sizes) - 1
            columns = max(4, int(self.usable_pt / (size / 2)))
            lines = balanced_wrap(text, columns)
            limit = TITLE_MAX_LINES_SMALLEST if smallest else TITLE_MAX_LINES
            if len(lines) > limit:
                if not smallest:
                    continue
                lines = [*lines[: limit - 1], lines[limit - 1][:-1] + "…"]
            artist = self.text(lines, size, colour)
            if smallest or self.extent_pt(artist)[0] <= self.usable_pt:
                return artist
            artist.remove()
        raise AssertionError("unreachable: the smallest size always returns")

    def one_line(self, text: str, size: float, colour: str) -> Text:
        """`text` on one line, smaller when it would not fit (a long link stays whole)."""
        artist = self.text([text], size, colour)
        width = self.extent_pt(artist)[0]
        if width > self.usable_pt:
            artist.set_fontproperties(cjk_font_properties(size * self.usable_pt / width))
        return artist

    def place(self, artist: Text, top_pt: float) -> float:
        """Put `artist`'s top at `top_pt` from the page's top; return its bottom."""
        artist.set_y(1 - top_pt / self.height_pt)
        return top_pt + self.extent_pt(artist)[1]


def _qr_path(code: segno.QRCode) -> Path:
    """Dark modules as one compound path of horizontal runs (row 0 at the top): one fill,
    so no hairline seams between neighbouring modules in any viewer."""
    from matplotlib.path import Path

    rectangle = [int(code) for code in (Path.MOVETO, *[Path.LINETO] * 3, Path.CLOSEPOLY)]
    vertices: list[tuple[float, float]] = []
    codes: list[int] = []
    for row, modules in enumerate(code.matrix):
        column = 0
        while column < len(modules):
            if not modules[column] & 1:
                column += 1
                continue
            start = column
            while column < len(modules) and modules[column] & 1:
                column += 1
            vertices += [(start, row), (column, row), (column, row + 1), (start, row + 1)]
            vertices.append((start, row))
            codes += rectangle
    return Path(vertices, codes)


def _qr_side_pt(code: segno.QRCode) -> float:
    """About `QR_SIDE_PT`, rounded down to whole pixels per module at `POSTER_DPI`, so
    every module of the PNG poster has the same size."""
    modules = len(code.matrix) + 2 * QR_BORDER
    pixels = int(QR_SIDE_PT * POSTER_DPI / 72) // modules
    return pixels * modules * 72 / POSTER_DPI


def build_poster_figure(
    title: str, link: str, closes: date | None = None, *, locale: str = DEFAULT_LOCALE
) -> Figure:
    """Lay out the A4 poster (separate from encoding so tests can inspect it): the title,
    the line on anonymity, the QR code, the link, the closing day, the footer."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import PathPatch

    words = _poster_text(title, closes, locale)
    figure = Figure(figsize=A4_INCHES, dpi=POSTER_DPI, facecolor="white")
    canvas = FigureCanvasAgg(figure)
    flow = _Flow(figure, canvas.get_renderer())  # type: ignore[no-untyped-call]

    blocks: list[tuple[Text | None, float]] = []  # (text or None for the QR code, gap above)
    title_text = flow.fitted(words.title or "—", TITLE_SIZES, INK)
    title_text.set_gid("title")
    blocks.append((title_text, 0.0))
    anonymity = flow.fitted(words.anonymity, (BODY_SIZE, BODY_SIZE - 2), ACCENT)
    anonymity.set_gid("anonymity")
    blocks += [(anonymity, 22.0), (None, 24.0)]
    hint = flow.one_line(words.link_hint, LINK_SIZE - 2, MUTED)
    hint.set_gid("hint")
    shown_link = flow.one_line(link, LINK_SIZE, INK)
    shown_link.set_gid("link")
    shown_link.set_url(link)
    blocks += [(hint, 14.0), (shown_link, 4.0)]
    if words.closing is not None:
        closing = flow.one_line(words.closing, CLOSING_SIZE, INK)
        closing.set_gid("closing")
        blocks.append((closing, 28.0))

    footer = flow.one_line(words.footer, FOOTER_SIZE, MUTED)
    footer.set_gid("footer")
    footer_height = flow.extent_pt(footer)[1]
    footer_top = flow.height_pt - MARGIN_PT * 0.6 - footer_height
    flow.place(footer, footer_top)

    # The blocks' total height, then centre them in the space above the footer.
    code = qr_code(link)
    total = sum(
        gap + (_qr_side_pt(code) if artist is None else flow.extent_pt(artist)[1])
        for artist, gap in blocks
    )
    top = MARGIN_PT + max(0.0, (footer_top - 2 * MARGIN_PT - total) / 2)
    for artist, gap in blocks:
        top += gap
        if artist is not None:
            top = flow.place(artist, top)
            continue
        side = _qr_side_pt(code)
        left = round((flow.width_pt - side) / 2 * POSTER_DPI / 72) * 72 / POSTER_DPI
        bottom = round((flow.height_pt - top - side) * POSTER_DPI / 72) * 72 / POSTER_DPI
        axes = figure.add_axes(
            (
                left / flow.width_pt,
                bottom / flow.height_pt,
                side / flow.width_pt,
                side / flow.height_pt,
            )
        )
        axes.set_gid("qr")
        axes.set_axis_off()
        size = len(code.matrix)
        axes.set_xlim(-QR_BORDER, size + QR_BORDER)
        axes.set_ylim(size + QR_BORDER, -QR_BORDER)
        patch = PathPatch(_qr_path(code), facecolor="black", edgecolor="none", linewidth=0)
        patch.set_antialiased(False)  # crisp module edges on the PNG
        axes.add_patch(patch)
        top += side
    return figure


def _encode(figure: Figure, kind: str) -> bytes:
    buffer = BytesIO()
    # No software, producer or creation date: the same poster gives the same bytes.
    metadata: dict[str, None] = (
        {"Software": None}
        if kind == "png"
        else {"Creator": None, "Producer": None, "CreationDate": None}
    )
    figure.savefig(buffer, format=kind, dpi=POSTER_DPI, metadata=metadata)
    return buffer.getvalue()


def poster_files(
    campaign: Campaign, public_url: str, *, locale: str = DEFAULT_LOCALE
) -> PosterFiles:
    """The link, QR code and poster (PNG and PDF) of `campaign`, in `locale` (the cadres'
    language, whatever the admin's)."""
    link = campaign_link(public_url, campaign.id)
    figure = build_poster_figure(campaign.title, link, campaign.closes_day, locale=locale)
    return PosterFiles(
        link=link,
        qr_png=qr_png(link),
        poster_png=_encode(figure, "png"),
        poster_pdf=_encode(figure, "pdf"),
    )
