"""The CJK font for charts, found the same way on every machine.

A fresh server usually has no Chinese font, and matplotlib then draws empty boxes with only a
warning. The `mplfonts` package (a declared dependency) ships Noto Sans CJK SC, so the chart
uses that file directly. We register it with matplotlib's font manager ourselves instead of
calling mplfonts' installers, which rewrite matplotlib's global configuration.
"""

from __future__ import annotations

import threading
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # matplotlib is imported where a chart is drawn: it weighs ~50 MB
    from matplotlib.font_manager import FontProperties

CJK_FONT_PACKAGE = "mplfonts"
CJK_FONT_FILE = "NotoSansCJKsc-Regular.otf"

_register_lock = threading.Lock()


class CjkFontMissingError(RuntimeError):
    """The packaged CJK font is not where it should be (a broken or partial install)."""


def cjk_font_path() -> Path:
    """Path of the Noto Sans CJK SC file inside the installed `mplfonts` package."""
    try:
        package_root = resources.files(CJK_FONT_PACKAGE)
    except ModuleNotFoundError as exc:
        raise CjkFontMissingError(
            f"the {CJK_FONT_PACKAGE!r} package is not installed; reinstall the project"
        ) from exc
    path = Path(str(package_root / "fonts" / CJK_FONT_FILE))
    if not path.is_file():
        raise CjkFontMissingError(f"{CJK_FONT_FILE} is missing from the {CJK_FONT_PACKAGE} package")
    return path


@cache
def _registered_family() -> str:
    from matplotlib import font_manager

    path = cjk_font_path()
    font_manager.fontManager.addfont(str(path))
    return str(font_manager.FontProperties(fname=str(path)).get_name())


def ensure_cjk_font() -> str:
    """Register the CJK font with matplotlib once per process and return its family name.

    Registration parses a 16 MB file, so it happens once; the lock keeps two threads that
    render at the same time from registering it twice.
    """
    with _register_lock:
        return _registered_family()


@cache
def cjk_font_properties(size: float) -> FontProperties:
    """FontProperties for the CJK family at `size` points, cached per size.

    Sharing is safe: matplotlib copies FontProperties into each Text it creates. Do not mutate
    the returned object.
    """
    from matplotlib.font_manager import FontProperties

    return FontProperties(family=ensure_cjk_font(), size=size)
