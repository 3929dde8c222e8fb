"""Gettext catalogues (Babel) for every user-facing string.

Source strings are English; `zh-CN` is the default locale and has a complete catalogue,
`en` is the second language. Catalogues are compiled from `.po` to `.mo` at install
(`python -m bot i18n compile`) and, as a safety net, on start when a `.mo` is missing or stale.
The framework-free part (locales, `gettext`, `use_locale`) is `bot.i18n.text`; this module
adds aiogram's `I18n` over the same catalogues and the same current locale.
"""

from __future__ import annotations

from typing import Any, cast

from aiogram.utils.i18n import I18n

from bot.i18n.text import (
    DEFAULT_LOCALE,
    DOMAIN,
    LANGUAGE_NAMES,
    LOCALES_DIR,
    SUPPORTED_LOCALES,
    SharedLocale,
    catalogue_path,
    compile_catalogues,
    normalize_locale,
)


def make_i18n(default_locale: str = DEFAULT_LOCALE) -> I18n:
    """An aiogram `I18n` over our catalogues, compiling them first if needed; its current
    locale is the one `bot.i18n.text.gettext` reads."""
    compile_catalogues()
    i18n = I18n(path=LOCALES_DIR, default_locale=default_locale, domain=DOMAIN)
    i18n.ctx_locale = cast(Any, SharedLocale(default_locale))
    return i18n


__all__ = [
    "DEFAULT_LOCALE",
    "DOMAIN",
    "LANGUAGE_NAMES",
    "LOCALES_DIR",
    "SUPPORTED_LOCALES",
    "catalogue_path",
    "compile_catalogues",
    "make_i18n",
    "normalize_locale",
]
