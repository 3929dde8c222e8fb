"""Gettext catalogues (Babel) for every user-facing string.

Source strings are English; `zh-CN` is the default locale and has a complete catalogue,
`en` is the second language. Catalogues are compiled from `.po` to `.mo` at install
(`python -m bot i18n compile`) and, as a safety net, on start when a `.mo` is missing or stale.
"""

from __future__ import annotations

from pathlib import Path

from aiogram.utils.i18n import I18n
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LOCALES_DIR = Path(__file__).parent / "locales"
DOMAIN = "messages"
SUPPORTED_LOCALES: tuple[str, ...] = ("zh-CN", "en")
DEFAULT_LOCALE = "zh-CN"
LANGUAGE_NAMES = {"zh-CN": "中文", "en": "English"}


def normalize_locale(code: str | None, default: str = DEFAULT_LOCALE) -> str:
    """Map a Telegram `language_code` (e.g. `zh-hans`, `en-US`) onto a supported locale."""
    if not code:
        return default
    lowered = code.lower()
    if lowered.startswith("en"):
        return "en"
    if lowered.startswith("zh"):
        return "zh-CN"
    return default


def catalogue_path(locale: str, suffix: str = ".po") -> Path:
    return LOCALES_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}{suffix}"


def compile_catalogues(force: bool = False) -> list[Path]:
    """Write `.mo` files next to the `.po` files; returns the files written."""
    written: list[Path] = []
    for locale in SUPPORTED_LOCALES:
        po_path = catalogue_path(locale)
        mo_path = catalogue_path(locale, ".mo")
        if not po_path.exists():
            continue
        if not force and mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        with po_path.open("rb") as po_file:
            catalog = read_po(po_file, locale=locale.replace("-", "_"))
        tmp = mo_path.with_suffix(".mo.tmp")
        with tmp.open("wb") as mo_file:
            write_mo(mo_file, catalog)
        tmp.replace(mo_path)
        written.append(mo_path)
    return written


def make_i18n(default_locale: str = DEFAULT_LOCALE) -> I18n:
    """An aiogram `I18n` over our catalogues, compiling them first if needed."""
    compile_catalogues()
    return I18n(path=LOCALES_DIR, default_locale=default_locale, domain=DOMAIN)
