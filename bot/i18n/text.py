"""Locales and a gettext that needs no chat framework.

The conversation core translates with `gettext` below; it reads the locale from one context
variable. `use_locale` sets it (the core does so for each event with the cadre's locale), and
the aiogram `I18n` made by `bot.i18n.make_i18n` reads and writes the same variable, so strings
translated here and by aiogram's gettext always agree. Without a locale set, the default
(`zh-CN`) applies.
"""

from __future__ import annotations

import gettext as stdlib_gettext
from contextvars import ContextVar, Token
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LOCALES_DIR = Path(__file__).parent / "locales"
DOMAIN = "messages"
SUPPORTED_LOCALES: tuple[str, ...] = ("zh-CN", "en")
DEFAULT_LOCALE = "zh-CN"
LANGUAGE_NAMES = {"zh-CN": "中文", "en": "English"}

_LOCALE: ContextVar[str | None] = ContextVar("qingfeng_locale", default=None)
_TRANSLATIONS: dict[str, stdlib_gettext.NullTranslations] = {}


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
    if written:
        _TRANSLATIONS.clear()
    return written


def current_locale(default: str = DEFAULT_LOCALE) -> str:
    return _LOCALE.get() or default


def use_locale(locale: str) -> LocaleBlock:
    """`with use_locale("en"):` translates the block in English."""
    return LocaleBlock(locale)


class LocaleBlock:
    """A block in one locale (a class, not a generator: the core enters one per event, and
    a generator-based context manager costs several times as much)."""

    __slots__ = ("_locale", "_token")

    def __init__(self, locale: str) -> None:
        self._locale = locale

    def __enter__(self) -> None:
        self._token = _LOCALE.set(self._locale)

    def __exit__(self, *exc_info: object) -> None:
        _LOCALE.reset(self._token)


def _translations(locale: str) -> stdlib_gettext.NullTranslations:
    found = _TRANSLATIONS.get(locale)
    if found is None:
        compile_catalogues()
        path = catalogue_path(locale, ".mo")
        if path.exists():
            with path.open("rb") as handle:
                found = stdlib_gettext.GNUTranslations(handle)
        else:
            found = stdlib_gettext.NullTranslations()
        _TRANSLATIONS[locale] = found
    return found


def gettext(message: str) -> str:
    """`message` in the current locale (the message itself when it has no translation)."""
    return _translations(current_locale()).gettext(message)


class SharedLocale:
    """The locale variable above in the shape aiogram's `I18n.ctx_locale` expects, with the
    `I18n`'s own default, so aiogram's middleware sets the locale this module reads."""

    def __init__(self, default: str) -> None:
        self._default = default

    def get(self) -> str:
        return _LOCALE.get() or self._default

    def set(self, locale: str) -> Token[str | None]:
        return _LOCALE.set(locale)

    def reset(self, token: Token[str | None]) -> None:
        _LOCALE.reset(token)
