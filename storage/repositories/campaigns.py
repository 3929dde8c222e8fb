"""Campaigns: a questionnaire version open between two days.

With no campaign defined at all, the deployment behaves as before campaigns existed: the
configured questionnaire is always open and submissions carry no campaign. As soon as one
campaign exists, cadres can start the questionnaire only while a campaign is `open` and today
is within its days.
"""

from __future__ import annotations

import builtins
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Final

from sqlalchemy import false, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.clock import Monotonic
from bot.statuses import CampaignStatus
from storage.database import Database
from storage.tables import campaigns

#: A new campaign's id is a number of this many digits, easy to type and to say aloud
#: ("二七四一"); ids made before (8 hex digits) keep working.
CAMPAIGN_ID_DIGITS: Final = 4
#: How long a cached read (is any campaign defined, which one is open) is trusted: another
#: instance's change is seen within this many seconds.
CACHE_SECONDS: Final = 5.0
#: Taken ids drawn in a row before the next id gets one digit more.
_DRAWS_PER_LENGTH: Final = 20

RandomBelow = Callable[[int], int]


def draw_campaign_id(digits: int, random_below: RandomBelow = secrets.randbelow) -> str:
    """A random number of exactly `digits` digits (never a leading zero, which people drop)."""
    low = 10 ** (digits - 1)
    return str(low + random_below(9 * low))


@dataclass(frozen=True)
class Campaign:
    id: str
    title: str
    questionnaire_id: str
    questionnaire_version: int
    opens_day: date
    closes_day: date
    status: CampaignStatus

    def accepts_on(self, day: date) -> bool:
        return self.status == CampaignStatus.OPEN and self.opens_day <= day <= self.closes_day


class CampaignRepository:
    """Campaign rows. Reads made for every respondent (`any_defined`, `current`) are cached in
    memory, dropped by this repository's own writes and after `cache_seconds` anyway, so an
    admin's change made on another instance (or the daily closing) is seen here soon."""

    def __init__(
        self,
        db: Database,
        *,
        random_below: RandomBelow = secrets.randbelow,
        cache_seconds: float = CACHE_SECONDS,
        monotonic: Monotonic = time.monotonic,
    ) -> None:
        self._db = db
        self._random_below = random_below
        self._cache_seconds = cache_seconds
        self._monotonic = monotonic
        self._cached_at = monotonic()
        self._defined: bool | None = None
        self._current: dict[date, Campaign | None] = {}

    def _forget(self) -> None:
        self._defined = None
        self._current.clear()

    def _expire(self) -> None:
        now = self._monotonic()
        if now - self._cached_at >= self._cache_seconds:
            self._forget()
            self._cached_at = now

    def forget(self) -> None:
        """Drop the cached reads: a caller whose transaction wrote campaigns calls this once
        it has committed (a read between the write and the commit may have cached the old
        state)."""
        self._forget()

    async def create(
        self,
        title: str,
        questionnaire_id: str,
        questionnaire_version: int,
        opens_day: date,
        closes_day: date,
        *,
        connection: AsyncConnection | None = None,
    ) -> Campaign:
        """A planned campaign with a fresh short id (`draw_campaign_id`, unique among all
        campaigns); in the caller's `connection` (transaction) when given."""
        if opens_day > closes_day:
            raise ValueError("the opening day is after the closing day")
        self._forget()
        async with self._db.transaction(connection) as connection:
            campaign = Campaign(
                await self._free_id(connection),
                title[:200],
                questionnaire_id,
                questionnaire_version,
                opens_day,
                closes_day,
                CampaignStatus.PLANNED,
            )
            await connection.execute(
                insert(campaigns).values(
                    id=campaign.id,
                    title=campaign.title,
                    questionnaire_id=questionnaire_id,
                    questionnaire_version=questionnaire_version,
                    opens_day=opens_day,
                    closes_day=closes_day,
                    status=CampaignStatus.PLANNED,
                )
            )
        self._forget()
        return campaign

    async def _free_id(self, connection: AsyncConnection) -> str:
        """An id no campaign has; one digit longer after `_DRAWS_PER_LENGTH` taken draws."""
        digits = CAMPAIGN_ID_DIGITS
        while True:
            for _ in range(_DRAWS_PER_LENGTH):
                candidate = draw_campaign_id(digits, self._random_below)
                taken = await connection.scalar(
                    select(func.count()).select_from(campaigns).where(campaigns.c.id == candidate)
                )
                if not taken:
                    return candidate
            digits += 1

    async def get(self, campaign_id: str) -> Campaign | None:
        async with self._db.engine.connect() as connection:
            row = (
                await connection.execute(select(campaigns).where(campaigns.c.id == campaign_id))
            ).first()
        return None if row is None else _campaign(row)

    async def previous(self, campaign: Campaign) -> Campaign | None:
        """The campaign of the same questionnaire that closed last before `campaign` opened
        (planned campaigns never count): what its trends compare with."""
        async with self._db.engine.connect() as connection:
            row = (
                await connection.execute(
                    select(campaigns)
                    .where(
                        campaigns.c.questionnaire_id == campaign.questionnaire_id,
                        campaigns.c.id != campaign.id,
                        campaigns.c.closes_day < campaign.opens_day,
                        campaigns.c.status != CampaignStatus.PLANNED,
                    )
                    .order_by(campaigns.c.closes_day.desc(), campaigns.c.opens_day.desc())
                    .limit(1)
                )
            ).first()
        return None if row is None else _campaign(row)

    async def list(self) -> list[Campaign]:
        async with self._db.engine.connect() as connection:
            rows = (
                await connection.execute(
                    select(campaigns).order_by(campaigns.c.opens_day.desc(), campaigns.c.id)
                )
            ).all()
        return [_campaign(row) for row in rows]

    async def any_defined(self) -> bool:
        self._expire()
        if self._defined is None:
            async with self._db.engine.connect() as connection:
                count = await connection.scalar(select(func.count()).select_from(campaigns))
            self._defined = bool(count)
        return self._defined

    async def open(self, campaign_id: str, *, connection: AsyncConnection | None = None) -> bool:
        """Open a campaign; any other open campaign is closed (one at a time)."""
        self._forget()
        async with self._db.transaction(connection) as connection:
            exists = await connection.scalar(
                select(func.count()).select_from(campaigns).where(campaigns.c.id == campaign_id)
            )
            if not exists:
                return False
            await connection.execute(
                update(campaigns)
                .where(campaigns.c.status == CampaignStatus.OPEN, campaigns.c.id != campaign_id)
                .values(status=CampaignStatus.CLOSED)
            )
            await connection.execute(
                update(campaigns)
                .where(campaigns.c.id == campaign_id)
                .values(status=CampaignStatus.OPEN)
            )
        self._forget()
        return True

    async def close(self, campaign_id: str, *, connection: AsyncConnection | None = None) -> bool:
        self._forget()
        async with self._db.transaction(connection) as connection:
            result = await connection.execute(
                update(campaigns)
                .where(campaigns.c.id == campaign_id)
                .values(status=CampaignStatus.CLOSED)
            )
        self._forget()
        return bool(result.rowcount)

    async def ended_open(self, today: date) -> builtins.list[str]:
        """Ids of the campaigns still `open` whose last day is before `today`."""
        async with self._db.engine.connect() as connection:
            rows = await connection.scalars(
                select(campaigns.c.id)
                .where(campaigns.c.status == CampaignStatus.OPEN, campaigns.c.closes_day < today)
                .order_by(campaigns.c.id)
            )
            return list(rows)

    async def close_ended(
        self, today: date, *, connection: AsyncConnection | None = None
    ) -> builtins.list[str]:
        """Close every `open` campaign whose last day is before `today` (they accept no
        answers already: `current` checks the days); returns their ids."""
        self._forget()
        async with self._db.transaction(connection) as connection:
            ended = list(
                await connection.scalars(
                    select(campaigns.c.id).where(
                        campaigns.c.status == CampaignStatus.OPEN, campaigns.c.closes_day < today
                    )
                )
            )
            if ended:
                await connection.execute(
                    update(campaigns)
                    .where(campaigns.c.id.in_(ended), campaigns.c.status == CampaignStatus.OPEN)
                    .values(status=CampaignStatus.CLOSED)
                )
        self._forget()
        return sorted(ended)

    async def closed_not_reordered(self, today: date) -> builtins.list[str]:
        """Ids of the campaigns that have closed (by an admin, or their last day has passed)
        and whose storage the daily maintenance has not reordered yet."""
        async with self._db.engine.connect() as connection:
            rows = await connection.scalars(
                select(campaigns.c.id)
                .where(
                    or_(
                        campaigns.c.status == CampaignStatus.CLOSED, campaigns.c.closes_day < today
                    ),
                    campaigns.c.reordered.is_(false()),
                )
                .order_by(campaigns.c.id)
            )
            return list(rows)

    async def mark_reordered(self, campaign_ids: builtins.list[str]) -> None:
        if not campaign_ids:
            return
        async with self._db.transaction() as connection:
            await connection.execute(
                update(campaigns).where(campaigns.c.id.in_(campaign_ids)).values(reordered=True)
            )

    async def current(self, day: date) -> Campaign | None:
        """The open campaign that accepts answers on `day`, if any."""
        self._expire()
        if day in self._current:
            return self._current[day]
        async with self._db.engine.connect() as connection:
            row = (
                await connection.execute(
                    select(campaigns)
                    .where(
                        campaigns.c.status == CampaignStatus.OPEN,
                        campaigns.c.opens_day <= day,
                        campaigns.c.closes_day >= day,
                    )
                    .order_by(campaigns.c.id)
                    .limit(1)
                )
            ).first()
        found = None if row is None else _campaign(row)
        self._current = {day: found}
        return found


def _campaign(row: object) -> Campaign:
    return Campaign(
        id=row.id,  # type: ignore[attr-defined]
        title=row.title,  # type: ignore[attr-defined]
        questionnaire_id=row.questionnaire_id,  # type: ignore[attr-defined]
        questionnaire_version=int(row.questionnaire_version),  # type: ignore[attr-defined]
        opens_day=row.opens_day,  # type: ignore[attr-defined]
        closes_day=row.closes_day,  # type: ignore[attr-defined]
        status=CampaignStatus(row.status),  # type: ignore[attr-defined]
    )
