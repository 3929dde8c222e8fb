"""Digest periods: which days a digest covers and when it becomes due.

A digest covers whole calendar days in TIMEZONE (submissions store only a day, never a time).
`DIGEST_SCHEDULE` is either ``daily HH:MM`` or ``weekly <weekday> HH:MM``:

* **daily** — one period per day; the digest for a day is due at HH:MM on the next day.
* **weekly** — seven-day periods that *start* on the named weekday, so the digest for a week is
  due at HH:MM on the first day of the following week (``weekly mon 09:00``: Monday–Sunday
  weeks, sent on Monday at 09:00).

A period is due once its last day is over *and* the send time of the following day has
passed; waiting for the send time (rather than midnight) gives late submissions of the last
day time to arrive and keeps the rhythm fixed, which hides when reports come in.

Period keys (``daily:2026-11-28``, ``weekly:2026-11-23``: kind and first day) are stable, sort
chronologically within a kind, and name a stored digest.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Final, Literal, TypeAlias
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from bot.config import Settings

PeriodKind: TypeAlias = Literal["daily", "weekly", "campaign"]

WEEKDAYS: Final[tuple[str, ...]] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_CATCH_UP: Final = 31
"""How many missed periods `due_periods` returns at most (the most recent ones)."""

_SCHEDULE = re.compile(
    r"^\s*(?:(?P<daily>daily)|weekly\s+(?P<weekday>mon|tue|wed|thu|fri|sat|sun))"
    r"\s+(?P<hour>[01]\d|2[0-3]):(?P<minute>[0-5]\d)\s*$"
)
_KEY = re.compile(r"^(?P<kind>daily|weekly):(?P<day>\d{4}-\d{2}-\d{2})$")
_CAMPAIGN_KEY = re.compile(
    r"^campaign:(?P<first>\d{4}-\d{2}-\d{2})\.\.(?P<last>\d{4}-\d{2}-\d{2})$"
)
_LENGTH: Final[dict[str, int]] = {"daily": 1, "weekly": 7}


@dataclass(frozen=True, order=True)
class Period:
    """The calendar days `first_day`…`last_day` (inclusive) covered by one digest.

    A ``campaign`` period is a campaign's whole span, from the day it opens to the day it
    closes, whatever its length; its digest covers the campaign so far.
    """

    kind: PeriodKind
    first_day: date
    last_day: date

    def __post_init__(self) -> None:
        if self.kind == "campaign":
            if self.last_day < self.first_day:
                raise ValueError("a campaign period cannot end before it begins")
            return
        if self.kind not in _LENGTH:
            raise ValueError(f"unknown period kind {self.kind!r}")
        if (self.last_day - self.first_day).days + 1 != _LENGTH[self.kind]:
            raise ValueError(f"a {self.kind} period spans {_LENGTH[self.kind]} day(s)")

    @classmethod
    def campaign(cls, opens_day: date, closes_day: date) -> Period:
        """A campaign's whole span (its key stays the same while the campaign runs)."""
        return cls("campaign", opens_day, closes_day)

    @property
    def key(self) -> str:
        """Stable name of the period, e.g. ``weekly:2026-11-23`` or
        ``campaign:2026-11-01..2026-11-30``."""
        if self.kind == "campaign":
            return f"campaign:{self.first_day.isoformat()}..{self.last_day.isoformat()}"
        return f"{self.kind}:{self.first_day.isoformat()}"

    @property
    def days(self) -> int:
        return (self.last_day - self.first_day).days + 1

    def previous(self) -> Period:
        """The period of the same kind just before this one (for period-on-period changes)."""
        step = timedelta(days=self.days)
        return Period(self.kind, self.first_day - step, self.last_day - step)

    def next(self) -> Period:
        step = timedelta(days=self.days)
        return Period(self.kind, self.first_day + step, self.last_day + step)

    def contains(self, day: date) -> bool:
        return self.first_day <= day <= self.last_day

    @classmethod
    def from_key(cls, key: str) -> Period:
        """Parse a key made by `key`; ValueError if it is not one."""
        span = _CAMPAIGN_KEY.match(key.strip())
        if span:
            return cls.campaign(date.fromisoformat(span["first"]), date.fromisoformat(span["last"]))
        match = _KEY.match(key.strip())
        if not match:
            raise ValueError(f"not a period key: {key!r} (expected e.g. daily:2026-11-28)")
        kind: PeriodKind = "daily" if match["kind"] == "daily" else "weekly"
        first = date.fromisoformat(match["day"])
        return cls(kind, first, first + timedelta(days=_LENGTH[kind] - 1))


@dataclass(frozen=True)
class DigestSchedule:
    """DIGEST_SCHEDULE and TIMEZONE together: turns days and instants into periods."""

    kind: PeriodKind
    send_time: time
    zone: ZoneInfo
    week_start: int = 0
    """Weekly only: the weekday (Monday = 0) each period starts on and the digest is sent on."""

    @classmethod
    def parse(cls, schedule: str, timezone: str) -> DigestSchedule:
        """Read ``daily HH:MM`` / ``weekly mon HH:MM``; ValueError on anything else."""
        match = _SCHEDULE.match(schedule)
        if not match:
            raise ValueError(
                f"bad digest schedule {schedule!r}: use 'daily HH:MM' or 'weekly mon HH:MM'"
            )
        send_time = time(int(match["hour"]), int(match["minute"]))
        zone = ZoneInfo(timezone)
        if match["daily"]:
            return cls("daily", send_time, zone)
        return cls("weekly", send_time, zone, WEEKDAYS.index(match["weekday"]))

    @classmethod
    def from_settings(cls, settings: Settings) -> DigestSchedule:
        """DIGEST_SCHEDULE in TIMEZONE, as configured."""
        return cls.parse(settings.digest_schedule, settings.timezone)

    def period_containing(self, day: date) -> Period:
        """The period of this schedule that covers `day`."""
        if isinstance(day, datetime):
            raise TypeError("pass a calendar day (date), not a datetime")
        if self.kind == "daily":
            return Period("daily", day, day)
        first = day - timedelta(days=(day.weekday() - self.week_start) % 7)
        return Period("weekly", first, first + timedelta(days=6))

    def due_at(self, period: Period) -> datetime:
        """When the digest for `period` becomes due: the send time on the day after it, in
        TIMEZONE (a send time that falls in a DST gap is read with the offset before it)."""
        return datetime.combine(period.last_day + timedelta(days=1), self.send_time, self.zone)

    def is_due(self, period: Period, now: datetime) -> bool:
        return self.due_at(period) <= _aware(now)

    def today(self, now: datetime) -> date:
        """The calendar day `now` falls on in TIMEZONE."""
        return _aware(now).astimezone(self.zone).date()

    def latest_complete(self, now: datetime) -> Period:
        """The most recent period whose digest is due at `now`."""
        current = self.period_containing(self.today(now))
        candidate = current.previous()
        if not self.is_due(candidate, now):
            candidate = candidate.previous()
        return candidate

    def due_periods(
        self, now: datetime, last_done_key: str | None, *, limit: int = MAX_CATCH_UP
    ) -> list[Period]:
        """Periods due at `now` that come after the one last built, oldest first.

        With no digest built yet only the latest complete period is due (a new installation
        does not send a backlog). After downtime the missed periods are all due, each with its
        own digest, but at most `limit` of them (the most recent). If the schedule changed
        kind, periods that overlap the last one built are skipped.
        """
        if limit < 1:
            raise ValueError("limit must be at least 1")
        latest = self.latest_complete(now)
        if last_done_key is None:
            return [latest]
        done = Period.from_key(last_done_key)
        if done.last_day >= latest.last_day:
            return []
        first = self.period_containing(done.last_day + timedelta(days=1))
        if first.first_day <= done.last_day:
            first = first.next()
        count = (latest.first_day - first.first_day).days // first.days + 1
        if count <= 0:
            return []
        skip = max(0, count - limit)
        start = first
        if skip:
            start = self.period_containing(first.first_day + timedelta(days=skip * first.days))
        periods: list[Period] = []
        period = start
        while period.first_day <= latest.first_day:
            periods.append(period)
            period = period.next()
        return periods

    def parse_period_argument(self, text: str) -> Period:
        """``--period``: a day ``YYYY-MM-DD`` (the period containing it) or a period key."""
        value = text.strip()
        if _KEY.match(value):
            return Period.from_key(value)
        try:
            day = date.fromisoformat(value)
        except ValueError:
            raise ValueError(
                f"bad period {text!r}: use YYYY-MM-DD or a key such as daily:2026-11-28"
            ) from None
        return self.period_containing(day)


def _aware(now: datetime) -> datetime:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("pass a timezone-aware datetime (e.g. datetime.now(UTC))")
    return now
