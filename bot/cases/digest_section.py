"""The digest's case section: the period's own cases by status, and follow-ups answered in it.

Counts only, over the digest's own scope: cases of the submissions the digest counts (the
period's days, its questionnaire, its campaign), and cadre answers to follow-ups written
during the period. The section obeys the digest's K rule: a digest that hides everything
(fewer than K submissions) hides these counts too, with the same fixed line whatever
happened; otherwise a count below K (0 included, so that "nothing" and "a few" look alike)
is written as "fewer than K", never as a number. A running period's digest is released in
steps (`bot.digest.snapshots`), so these counts change only with the step.

Statuses are set by investigators, who see every case in `/cases` anyway; their counts are
therefore not complemented like answer cells. What they must not do is show the number of
submissions more finely than the digest does, and they cannot: their sum is the number of
submissions the digest shows. `bot.digest.build` appends the section to every form.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from html import escape
from typing import Protocol

from sqlalchemy import and_, func, select

from bot.anonymity.crypto import TextCipher
from bot.statuses import CASE_STATUS_NAMES, CaseStatus, FollowupOrigin
from storage.database import Database
from storage.repositories import CaseRepository
from storage.tables import cases, followup_messages, submissions

_WORDS = {
    "zh-CN": ("本期反映办理情况", "回访答复（本期）", " 件"),
    "en": ("This period's reports", "Follow-up answers this period", ""),
}
_CAMPAIGN_WORDS = {
    "zh-CN": ("本轮反映办理情况", "回访答复（本轮）", " 件"),
    "en": ("This campaign's reports", "Follow-up answers this campaign", ""),
}
_FEWER = {"zh-CN": "少于 {k}", "en": "fewer than {k}"}
_HIDDEN = {
    "zh-CN": "本期反馈少于 {k} 份，为保护匿名不显示。",
    "en": "fewer than {k} responses this period: not shown, to protect anonymity.",
}
_CAMPAIGN_HIDDEN = {
    "zh-CN": "本轮反馈少于 {k} 份，为保护匿名不显示。",
    "en": "fewer than {k} responses this campaign: not shown, to protect anonymity.",
}


class HasDays(Protocol):
    @property
    def first_day(self) -> date: ...

    @property
    def last_day(self) -> date: ...


@dataclass(frozen=True)
class CaseFigures:
    by_status: dict[str, int]  # the period's cases (by submission day), by status now
    followups_answered: int  # cadre answers written during the period


async def case_counts(
    db: Database,
    period: HasDays,
    *,
    questionnaire_id: str | None = None,
    campaign_id: str | None = None,
) -> CaseFigures:
    """The figures of the section (no free text is read: the cipher is never used)."""
    await CaseRepository(db, TextCipher(bytes(32))).ensure_cases()
    scope = [submissions.c.day >= period.first_day, submissions.c.day <= period.last_day]
    owner = []
    if questionnaire_id is not None:
        owner.append(submissions.c.questionnaire_id == questionnaire_id)
    if campaign_id is not None:
        owner.append(submissions.c.campaign_id == campaign_id)
    by_status = (
        select(cases.c.status, func.count())
        .select_from(cases.join(submissions, submissions.c.id == cases.c.submission_id))
        .where(and_(*scope, *owner))
        .group_by(cases.c.status)
    )
    answered = (
        select(func.count())
        .select_from(
            followup_messages.join(
                submissions, submissions.c.id == followup_messages.c.submission_id
            )
        )
        .where(
            followup_messages.c.origin == FollowupOrigin.CADRE,
            followup_messages.c.day >= period.first_day,
            followup_messages.c.day <= period.last_day,
            *owner,
        )
    )
    async with db.engine.connect() as connection:
        found = {str(s): int(n) for s, n in (await connection.execute(by_status)).all()}
        followups = int(await connection.scalar(answered) or 0)
    return CaseFigures(
        by_status={status.value: found.get(status, 0) for status in CaseStatus},
        followups_answered=followups,
    )


def _shown(count: int, k: int, language: str) -> str:
    # 0 too: "0" next to "fewer than K" would tell whether anything at all happened.
    return _FEWER[language].format(k=k) if count < k else str(count)


def _language(locale: str) -> str:
    return "zh-CN" if locale.lower().startswith("zh") else "en"


def render_case_section(
    figures: CaseFigures | None, *, k: int, locale: str = "zh-CN", campaign: bool = False
) -> list[str]:
    """Plain-text lines of the section; `figures` None: the digest hides everything, and so
    does the section (one fixed line). `campaign`: the digest covers a whole campaign (本轮)."""
    language = _language(locale)
    title, followups, unit = (_CAMPAIGN_WORDS if campaign else _WORDS)[language]
    separator = "：" if language == "zh-CN" else ": "
    if figures is None:
        hidden = (_CAMPAIGN_HIDDEN if campaign else _HIDDEN)[language]
        return [f"{title}{separator}{hidden.format(k=k)}"]
    names = CASE_STATUS_NAMES[language]
    statuses = ("，" if language == "zh-CN" else ", ").join(
        f"{names[s]} {_shown(figures.by_status.get(s, 0), k, language)}{unit}" for s in CaseStatus
    )
    return [
        f"{title}{separator}{statuses}",
        f"{followups}{separator}{_shown(figures.followups_answered, k, language)}{unit}",
    ]


def case_section_html(
    figures: CaseFigures | None, *, k: int, locale: str = "zh-CN", campaign: bool = False
) -> str:
    """The section for a Telegram HTML part."""
    first, *rest = render_case_section(figures, k=k, locale=locale, campaign=campaign)
    return "\n".join([f"<b>{escape(first)}</b>", *(escape(line) for line in rest)])
