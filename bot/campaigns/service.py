"""Survey rounds: which campaign is open today, and the admins' changes to campaigns and
questionnaire versions, each committed together with its audit entry.

With no campaign defined at all the configured questionnaire is always open and submissions
carry no campaign; as soon as one exists, cadres can start only while a campaign is `open`
and today is within its days.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Literal

from bot.questionnaire import Questionnaire
from bot.staff.admin_input import compact, leading_fields, parse_day, split_fields
from bot.staff.audited import AuditedActions
from storage.repositories.campaigns import Campaign, CampaignRepository
from storage.repositories.questionnaire_versions import AddResult, QuestionnaireVersionRepository


@dataclass(frozen=True)
class Availability:
    """May a respondent start now, and in which campaign (None when none is defined)."""

    open: bool
    campaign_id: str | None


@dataclass(frozen=True)
class NewCampaign:
    """The arguments of `/campaign new TITLE | OPENS | CLOSES [| QID vN]`."""

    title: str
    opens_day: date
    closes_day: date
    version: tuple[str, int] | None


def parse_version_key(text: str) -> tuple[str, int]:
    """`QID vN` (or `QID N`) → (QID, N); ValueError otherwise."""
    questionnaire_id, version = text.split()  # ValueError unless exactly two words
    number = int(compact(version).removeprefix("v"))
    if number < 1:
        raise ValueError(text)
    return questionnaire_id, number


def parse_new_campaign(rest: str, *, today: date) -> NewCampaign:
    """ValueError unless `rest` is `TITLE | OPENS | CLOSES [| QID vN]` with the opening day
    not after the closing day.

    Fields and days are read by `bot.staff.admin_input` (｜ or commas between the fields,
    2026年12月1日 and other forms of a day). The fields are taken from the end, so a title
    may itself hold the separator: `减负，第一轮，12月1日，12月31日` is titled `减负，第一轮`."""
    fields = split_fields(rest)
    version = None
    if len(fields) >= 4:
        try:
            version = parse_version_key(fields[-1])
        except ValueError:
            version = None
        else:
            fields = fields[:-1]
    if len(fields) < 3:
        raise ValueError(rest)
    opens_day = parse_day(fields[-2], today=today)
    closes_day = parse_day(fields[-1], today=today, not_before=opens_day)
    title = leading_fields(rest, len(fields) - 2)
    if not title or opens_day > closes_day:
        raise ValueError(rest)
    return NewCampaign(title, opens_day, closes_day, version)


class CampaignService:
    """Campaign reads for respondents (cached by the repository) and audited admin changes."""

    def __init__(
        self,
        repository: CampaignRepository,
        versions: QuestionnaireVersionRepository,
        audited: AuditedActions,
        today: Callable[[], date],
    ) -> None:
        self.repository = repository
        self._versions = versions
        self._audited = audited
        self._today = today

    # --- reads ------------------------------------------------------------------------

    async def list(self) -> list[Campaign]:
        return await self.repository.list()

    async def get(self, campaign_id: str) -> Campaign | None:
        """The campaign whose id is `campaign_id` as an admin typed it: any case, spaces and
        full-width digits allowed (`bot.staff.admin_input.compact`)."""
        return await self.repository.get(compact(campaign_id))

    async def previous(self, campaign: Campaign) -> Campaign | None:
        """The campaign before `campaign` (same questionnaire), for its trends."""
        return await self.repository.previous(campaign)

    async def current(self, day: date | None = None) -> Campaign | None:
        """The open campaign that accepts answers on `day` (default today), if any."""
        return await self.repository.current(day or self._today())

    async def availability(self) -> Availability:
        if not await self.repository.any_defined():
            return Availability(True, None)
        current = await self.current()
        return Availability(current is not None, None if current is None else current.id)

    async def any_defined(self) -> bool:
        return await self.repository.any_defined()

    # --- admin changes, each with its audit entry in one transaction -------------------

    async def create(
        self,
        actor_user_id: int,
        new: NewCampaign,
        questionnaire: Questionnaire,
    ) -> Campaign:
        async with self._audited.transaction() as tx:
            campaign = await self.repository.create(
                new.title,
                questionnaire.id,
                questionnaire.version,
                new.opens_day,
                new.closes_day,
                connection=tx.connection,
            )
            await tx.record(actor_user_id, "campaign.create", campaign.id)
            tx.after_commit(self.repository.forget)
        return campaign

    async def open(self, actor_user_id: int, campaign_id: str) -> bool:
        """Open it (any other open one is closed); False when there is no such campaign.
        `campaign_id` as typed, like `get`."""
        return await self._change(actor_user_id, "open", campaign_id)

    async def close(self, actor_user_id: int, campaign_id: str) -> bool:
        return await self._change(actor_user_id, "close", campaign_id)

    async def _change(
        self, actor_user_id: int, verb: Literal["open", "close"], campaign_id: str
    ) -> bool:
        change = self.repository.open if verb == "open" else self.repository.close
        campaign_id = compact(campaign_id)
        async with self._audited.transaction() as tx:
            done = await change(campaign_id, connection=tx.connection)
            if done:
                await tx.record(actor_user_id, f"campaign.{verb}", campaign_id)
            tx.after_commit(self.repository.forget)
        return done

    async def record_announcement(self, actor_user_id: int, verb: str, campaign_id: str) -> None:
        """An announcement or reminder drafted for the admin (`verb`: announce, remind)."""
        await self._audited.record(actor_user_id, f"campaign.{verb}", campaign_id)

    async def store_version(
        self, actor_user_id: int, questionnaire: Questionnaire, text: str
    ) -> AddResult:
        """Store an uploaded (already validated) questionnaire version; a new or replaced one
        is audited in the same transaction."""
        async with self._audited.transaction() as tx:
            result = await self._versions.add(
                questionnaire.id,
                questionnaire.version,
                text,
                self._today(),
                connection=tx.connection,
            )
            if result in (AddResult.ADDED, AddResult.REPLACED):
                subject = f"{questionnaire.id}:{questionnaire.version}"[:64]
                await tx.record(actor_user_id, "questionnaire.add", subject)
        return result
