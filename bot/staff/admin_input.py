"""What admins type after a command, read the way they type it on a Chinese phone keyboard.

A Chinese input method gives full-width punctuation and digits (｜ ， ２ ０ ２ ６), an ideographic
space, and dates written 2026年12月1日; admins should not have to switch keyboards for a
command. Every admin command reads its arguments through this one module, so each form is
accepted everywhere the same way:

* fields: ``|`` or ``｜`` between them; without either, ``,`` or ``，``;
* days: ``2026-12-01``, ``2026/12/1``, ``2026.12.1``, ``2026年12月1日`` (or 号), and ``12月1日``
  for a day of the current year;
* ids (campaign ids, user ids): full-width characters read as ASCII, spaces ignored, any case.

Titles and other free text keep their own characters: only separators and the values
around them are rewritten.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from typing import Final

#: Between the fields of one command, preferred: a title may hold commas, never a bar.
FIELD_BARS: Final = "|｜"
#: Between the fields when no bar is typed.
FIELD_COMMAS: Final = ",，"

_NUMERIC_DAY: Final = re.compile(r"(\d{4})\s*[-/.]\s*(\d{1,2})\s*[-/.]\s*(\d{1,2})")
_CHINESE_DAY: Final = re.compile(r"(?:(\d{4})\s*年\s*)?(\d{1,2})\s*月\s*(\d{1,2})\s*[日号]?")


def _ascii(text: str) -> str:
    """Full-width letters, digits and punctuation as ASCII (NFKC), ideographic spaces too."""
    return unicodedata.normalize("NFKC", text)


def compact(text: str) -> str:
    """An id as typed, in the form it is stored: ASCII, no spaces, lower case.
    ``" ２７ 41 "`` → ``"2741"``, ``"AB12cd34"`` → ``"ab12cd34"``."""
    return "".join(_ascii(text).split()).lower()


def _separators(text: str) -> str:
    """The separators the fields of `text` are split on: bars when it has one, else commas
    when it has one, else none ("")."""
    for separators in (FIELD_BARS, FIELD_COMMAS):
        if any(char in text for char in separators):
            return separators
    return ""


def split_fields(text: str) -> list[str]:
    """The stripped fields of `text` (bars between them, else commas, else one field)."""
    separators = _separators(text)
    if not separators:
        return [text.strip()]
    return [part.strip() for part in re.split(f"[{re.escape(separators)}]", text)]


def leading_fields(text: str, count: int) -> str:
    """The first `count` fields of `text` as typed, their separators kept (a title that
    itself holds a comma stays whole)."""
    separators = _separators(text)
    if not separators or count < 1:
        return text.strip() if count >= 1 else ""
    pieces = re.split(f"([{re.escape(separators)}])", text)
    return "".join(pieces[: 2 * count - 1]).strip()


def parse_day(text: str, *, today: date, not_before: date | None = None) -> date:
    """The calendar day `text` names (the forms in the module docstring); ValueError when it
    names none. A day written without a year is in `today`'s year, or the next year when
    that would fall before `not_before` (a closing 1月31日 after an opening 12月1日)."""
    cleaned = _ascii(text).strip()
    numeric = _NUMERIC_DAY.fullmatch(cleaned)
    if numeric is not None:
        year, month, day = (int(group) for group in numeric.groups())
        return date(year, month, day)
    chinese = _CHINESE_DAY.fullmatch(cleaned)
    if chinese is None:
        raise ValueError(f"not a day: {text!r}")
    written_year, written_month, written_day = chinese.groups()
    month, day = int(written_month), int(written_day)
    if written_year is not None:
        return date(int(written_year), month, day)
    found = date(today.year, month, day)
    if not_before is not None and found < not_before:
        found = date(today.year + 1, month, day)
    return found


def parse_user_id(text: str) -> int:
    """A Telegram user id as typed (full-width digits and spaces allowed); ValueError else."""
    cleaned = compact(text)
    if not cleaned.isdecimal() or not cleaned.isascii():
        raise ValueError(f"not a user id: {text!r}")
    return int(cleaned)
