"""The digest's case section: cases by status, and follow-ups answered in the period.

Counts only. Because digests reach group chats and webhooks, a count below K (0 included,
so that "nothing" and "a few" look alike) is shown as "<K", like every small group in a
digest. `bot.digest.build` appends it to every form of the digest.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from html import escape
from typing import Protocol

from bot.anonymity.crypto import TextCipher
from storage.database import Database
from storage.repositories import CaseRepository
from storage.tables import CASE_STATUSES

STATUS_NAMES = {
    "zh-CN": {
        "new": "新建",
        "verifying": "核实中",
        "verified": "已核实",
        "closed": "已办结",
        "rejected": "不予采纳",
    },
    "en": {
        "new": "new",
        "verifying": "verifying",
        "verified": "verified",
        "closed": "closed",
        "rejected": "not accepted",
    },
}
_WORDS = {
    "zh-CN": ("案件处理情况", "回访答复（本期）", "件"),
    "en": ("Cases", "Follow-up answers this period", ""),
}


class HasDays(Protocol):
    @property
    def first_day(self) -> date: ...

    @property
    def last_day(self) -> date: ...


@dataclass(frozen=True)
class CaseFigures:
    by_status: dict[str, int]  # every case now, by status
    followups_answered: int  # cadre answers written during the period


async def case_counts(db: Database, period: HasDays) -> CaseFigures:
    """The figures of the section (no free text is read: the cipher is never used)."""
    cases = CaseRepository(db, TextCipher(bytes(32)))
    await cases.ensure_cases()
    return CaseFigures(
        by_status=await cases.counts_by_status(),
        followups_answered=await cases.cadre_messages_between(period.first_day, period.last_day),
    )


def _shown(count: int, k: int) -> str:
    # 0 too: "0" next to "<K" would tell whether anything at all happened.
    return f"<{k}" if count < k else str(count)


def _language(locale: str) -> str:
    return "zh-CN" if locale.lower().startswith("zh") else "en"


def render_case_section(figures: CaseFigures, *, k: int, locale: str = "zh-CN") -> list[str]:
    """Plain-text lines of the section."""
    language = _language(locale)
    title, followups, unit = _WORDS[language]
    names = STATUS_NAMES[language]
    separator = "：" if language == "zh-CN" else ": "
    statuses = ("，" if language == "zh-CN" else ", ").join(
        f"{names[s]} {_shown(figures.by_status.get(s, 0), k)}{unit}" for s in CASE_STATUSES
    )
    return [
        f"{title}{separator}{statuses}",
        f"{followups}{separator}{_shown(figures.followups_answered, k)}{unit}",
    ]


def case_section_html(figures: CaseFigures, *, k: int, locale: str = "zh-CN") -> str:
    """The section for a Telegram HTML part."""
    first, second = render_case_section(figures, k=k, locale=locale)
    return f"<b>{escape(first)}</b>\n{escape(second)}"
