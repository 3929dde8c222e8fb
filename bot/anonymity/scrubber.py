"""Mask contact and identity numbers in free text before it is stored.

A cadre describing a problem may paste a phone number, an ID-card number or an e-mail address
without thinking; once stored next to an answer it identifies them (or a colleague). `scrub`
replaces each such item with a bracketed Chinese placeholder and reports which kinds it found,
so the user can be told what was masked.

Matching runs on a normalised copy of the text (NFKC, so full-width `１３８` and `＠` count,
plus every Unicode decimal digit and dash folded to ASCII) while the replacement is applied to
the original, so the rest of what the user wrote stays exactly as written. Checksums (GB 11643
for ID cards, Luhn for bank cards) keep ordinary long numbers from being masked; short numbers
(years, counts, percentages, postcodes) never match. The result is a fixpoint: scrubbing
scrubbed text changes nothing.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date

PLACEHOLDERS: dict[str, str] = {
    "phone": "[手机号]",
    "id_card": "[身份证号]",
    "email": "[邮箱]",
    "landline": "[固定电话]",
    "bank_card": "[银行卡号]",
    "im_account": "[社交账号]",
    "license_plate": "[车牌号]",
}
KINDS: tuple[str, ...] = tuple(PLACEHOLDERS)
"""Every kind `scrub` can report, in the order `ScrubResult.masked` uses."""

_MAX_PASSES = 5


@dataclass(frozen=True)
class ScrubResult:
    """The masked text and the kinds that were masked (unique, in `KINDS` order)."""

    text: str
    masked: tuple[str, ...]


def scrub(text: str) -> ScrubResult:
    """Replace phone, ID-card, e-mail, landline, bank-card, chat-account and plate numbers."""
    found: set[str] = set()
    for _ in range(_MAX_PASSES):
        masked_text, kinds = _scrub_once(text)
        if not kinds:
            break
        found.update(kinds)
        text = masked_text
    return ScrubResult(text=text, masked=tuple(kind for kind in KINDS if kind in found))


# --- normalisation ------------------------------------------------------------------------

_DASHES = frozenset("\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d\u30fc")


def _fold(char: str) -> str:
    if char in _DASHES:
        return "-"
    digit = unicodedata.decimal(char, None)
    if digit is not None:
        return str(digit)
    if char != "\n" and char.isspace():
        return " "
    return char


def _normalise(text: str) -> tuple[str, list[int]]:
    """The text to match on, and for each of its characters the index it came from."""
    pieces: list[str] = []
    origin: list[int] = []
    for index, char in enumerate(text):
        if char.isascii():
            piece = char
        else:
            piece = "".join(_fold(c) for c in unicodedata.normalize("NFKC", char))
        pieces.append(piece)
        origin.extend([index] * len(piece))
    return "".join(pieces), origin


# --- detectors ----------------------------------------------------------------------------

_SEP = r"(?:[ \t]{0,3}-[ \t]{0,3}|[ \t]{1,3})"
"""What may split a number for readability: a dash and/or a few spaces."""


def _spaced_digits(count: int) -> str:
    return rf"[0-9](?:{_SEP}?[0-9]){{{count - 1}}}"


_MOBILE = re.compile(
    rf"(?<![0-9])"
    rf"(?:(?:(?:\+|00)[ \t]?86|\((?:\+|00)?86\)|86){_SEP}?|0)?"
    rf"(?P<number>1{_SEP}?[3-9](?:{_SEP}?[0-9]){{9}})"
    rf"(?![0-9])"
)
_AREA = r"0(?:10|2[0-9]|[3-9][0-9]{2})"
_LANDLINE = re.compile(
    rf"(?<![0-9])"
    rf"(?:(?:\+|00)[ \t]?86{_SEP}?\(?0?(?:10|2[0-9]|[3-9][0-9]{{2}})\)?|\(?{_AREA}\)?)"
    rf"{_SEP}?[1-9](?:{_SEP}?[0-9]){{6,7}}(?![0-9])"
    rf"(?:[ \t]*(?:转|分机|ext\.?|x|#|-)[ \t]*[0-9]{{1,6}}(?![0-9]))?",
    re.IGNORECASE,
)
_ID_CARD_18 = re.compile(rf"(?<![0-9])[1-9](?:{_SEP}?[0-9]){{16}}{_SEP}?[0-9Xx](?![0-9])")
_ID_CARD_15 = re.compile(rf"(?<![0-9])[1-9](?:{_SEP}?[0-9]){{14}}(?![0-9])")
_BANK_CARDS = tuple(
    re.compile(rf"(?<![0-9]){_spaced_digits(length)}(?![0-9Xx])") for length in (19, 18, 17, 16)
)
_EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
)
_MENTION = re.compile(r"(?<![A-Za-z0-9._%+-])@[A-Za-z][A-Za-z0-9_]{4,}")
_WECHAT_INTERNAL_ID = re.compile(r"(?<![A-Za-z0-9_])wxid_[A-Za-z0-9_-]{4,}", re.IGNORECASE)
_IM_ACCOUNT = re.compile(
    r"(?:(?<![A-Za-z])(?:qq|vx|wx|weixin|wechat|telegram|tg|signal|whatsapp|dingtalk|lark)"
    r"(?![A-Za-z])|扣扣|企鹅|微信|威信|薇信|v信|钉钉|飞书|电报)"
    r"(?P<suffix>号码|号|账号|帐号|群号|群|[ \t]*id)?"
    r"(?P<sep>[ \t]*(?:[:=]|是|为|is[ \t]+)?[ \t]*)"
    r"(?P<account>[A-Za-z0-9][A-Za-z0-9_-]{4,})(?![A-Za-z0-9_-])",
    re.IGNORECASE,
)
_PLATE = re.compile(
    r"[京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼]"
    r"[A-Z][ \t.·-]?[A-HJ-NP-Z0-9]{5,6}(?![A-Za-z0-9])"
)

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def id_card_check_digit(first17: str) -> str:
    """The GB 11643-1999 check character for the first 17 digits of an ID-card number."""
    total = sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11]


def luhn_valid(digits: str) -> bool:
    """The Luhn (mod 10) check used by bank cards."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _digits(match_text: str) -> str:
    return "".join(c for c in match_text if c.isdigit() or c in "Xx").upper()


def _is_id_card_18(match: re.Match[str]) -> bool:
    digits = _digits(match.group())
    return id_card_check_digit(digits[:17]) == digits[17]


def _is_id_card_15(match: re.Match[str]) -> bool:
    """Old 15-digit IDs have no check digit, so require a real birth date (YYMMDD)."""
    digits = _digits(match.group())
    try:
        date(1900 + int(digits[6:8]), int(digits[8:10]), int(digits[10:12]))
    except ValueError:
        return False
    return True


_GROUP_SPLIT = re.compile(r"[ \t-]+")


def _is_bank_card(match: re.Match[str]) -> bool:
    """Luhn-valid, grouped like a card (groups of ≥ 4 but the last), and not a list of years."""
    groups = _GROUP_SPLIT.split(match.group())
    if any(len(group) < 4 for group in groups[:-1]):
        return False
    if len(groups) > 1 and all(len(g) == 4 and 1900 <= int(g) <= 2099 for g in groups):
        return False
    return luhn_valid("".join(groups))


def _is_mobile(match: re.Match[str]) -> bool:
    """Split digits are a phone only in groups of two or more: "1 3 5 7 9 11 13" is a list."""
    return all(len(group) >= 2 for group in _GROUP_SPLIT.split(match.group("number")))


def _is_im_account(match: re.Match[str]) -> bool:
    """A bare English word after "WeChat" is prose; an id has a digit, `_`, `-` or a marker."""
    account = match.group("account")
    if any(c.isdigit() or c in "_-" for c in account):
        return True
    return bool(match.group("suffix")) or bool(match.group("sep").strip())


def _plate_has_digit(match: re.Match[str]) -> bool:
    return any(c.isdigit() for c in match.group()[2:])


def _always(match: re.Match[str]) -> bool:
    return True


@dataclass(frozen=True)
class _Detector:
    kind: str
    pattern: re.Pattern[str]
    accept: Callable[[re.Match[str]], bool] = _always
    group: str | int = 0


# Earlier detectors win when two candidates of equal length cover the same characters.
_DETECTORS: tuple[_Detector, ...] = (
    _Detector("email", _EMAIL),
    _Detector("id_card", _ID_CARD_18, _is_id_card_18),
    *(_Detector("bank_card", pattern, _is_bank_card) for pattern in _BANK_CARDS),
    _Detector("phone", _MOBILE, _is_mobile),
    _Detector("landline", _LANDLINE),
    _Detector("id_card", _ID_CARD_15, _is_id_card_15),
    _Detector("im_account", _WECHAT_INTERNAL_ID),
    _Detector("im_account", _MENTION),
    _Detector("im_account", _IM_ACCOUNT, _is_im_account, "account"),
    _Detector("license_plate", _PLATE, _plate_has_digit),
)


@dataclass(frozen=True)
class _Candidate:
    start: int
    end: int
    priority: int
    kind: str


def _candidates(normalised: str) -> Iterator[_Candidate]:
    """Every accepted match of every detector, overlapping ones included.

    The search restarts one character after each match's start (not at its end) so that a
    rejected candidate (say, a wrong checksum) cannot hide a valid one that overlaps it.
    """
    for priority, detector in enumerate(_DETECTORS):
        position = 0
        while position <= len(normalised):
            match = detector.pattern.search(normalised, position)
            if match is None:
                break
            if detector.accept(match):
                start, end = match.span(detector.group)
                yield _Candidate(start, end, priority, detector.kind)
            position = match.start() + 1


def _scrub_once(text: str) -> tuple[str, set[str]]:
    normalised, origin = _normalise(text)
    chosen: list[_Candidate] = []
    ordered = sorted(_candidates(normalised), key=lambda c: (c.start - c.end, c.priority, c.start))
    for candidate in ordered:  # longest first: mask as much as any detector claims
        if all(candidate.end <= kept.start or candidate.start >= kept.end for kept in chosen):
            chosen.append(candidate)
    if not chosen:
        return text, set()
    pieces: list[str] = []
    cursor = 0
    for candidate in sorted(chosen, key=lambda c: c.start):
        # Two matches can share an original character only if NFKC expanded it; never unmask.
        start = max(origin[candidate.start], cursor)
        end = max(origin[candidate.end - 1] + 1, start)
        pieces.append(text[cursor:start])
        pieces.append(PLACEHOLDERS[candidate.kind])
        cursor = end
    pieces.append(text[cursor:])
    return "".join(pieces), {candidate.kind for candidate in chosen}
