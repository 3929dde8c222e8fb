"""Keep the `.po` catalogues in step with the source (Babel's extractor, our own policy).

English is the source language, so the `en` catalogue's translations are the msgids
themselves; `zh-CN` must translate every string — `missing_translations` lists the gaps and
a test fails on any.
"""

from __future__ import annotations

from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

from bot.i18n import SUPPORTED_LOCALES, catalogue_path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SOURCE_DIRS = ("bot", "handlers")
KEYWORDS = {"_": None, "gettext": None, "lazy_gettext": None, "__": None}


def extract_source_messages() -> set[str]:
    """Every msgid used in the source code."""
    found: set[str] = set()
    for directory in SOURCE_DIRS:
        root = PROJECT_ROOT / directory
        for _filename, _lineno, message, _comments, _context in extract_from_dir(
            str(root),
            method_map=[("**.py", "python")],
            keywords=KEYWORDS,
        ):
            if isinstance(message, str) and message:
                found.add(message)
    return found


def _read(locale: str) -> Catalog:
    path = catalogue_path(locale)
    if not path.exists():
        return Catalog(locale=locale.replace("-", "_"), domain="messages")
    with path.open("rb") as handle:
        return read_po(handle, locale=locale.replace("-", "_"))


def missing_translations(locale: str, messages: set[str] | None = None) -> list[str]:
    """Source strings that the locale's catalogue lacks or leaves untranslated."""
    wanted = messages if messages is not None else extract_source_messages()
    catalog = _read(locale)
    missing = []
    for msgid in sorted(wanted):
        entry = catalog.get(msgid)
        if entry is None or not entry.string:
            missing.append(msgid)
    return missing


def update_catalogues() -> str:
    """Add new strings, drop obsolete ones; English gets msgid as its translation."""
    messages = extract_source_messages()
    lines = []
    for locale in SUPPORTED_LOCALES:
        old = _read(locale)
        new = Catalog(locale=locale.replace("-", "_"), domain="messages", project="qingfeng")
        for msgid in sorted(messages):
            entry = old.get(msgid)
            string = entry.string if entry is not None and entry.string else ""
            if locale == "en" and not string:
                string = msgid
            new.add(msgid, string)
        path = catalogue_path(locale)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as handle:
            write_po(handle, new, width=100, omit_header=False, sort_output=True)
        lines.append(
            f"{locale}: {len(messages)} strings, "
            f"{len(missing_translations(locale, messages))} untranslated"
        )
    return "\n".join(lines)
