"""Digest periods: keys, weeks, time zones and when a digest is due."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.config import load_settings
from bot.digest.period import DigestSchedule, Period

SHANGHAI = "Asia/Shanghai"


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def test_keys_are_kind_and_first_day_and_parse_back() -> None:
    week = Period("weekly", date(2026, 11, 23), date(2026, 11, 29))
    day = Period("daily", date(2026, 11, 28), date(2026, 11, 28))

    assert (week.key, day.key) == ("weekly:2026-11-23", "daily:2026-11-28")
    assert Period.from_key(week.key) == week
    assert Period.from_key(day.key) == day
    assert week.previous() == Period("weekly", date(2026, 11, 16), date(2026, 11, 22))
    assert day.previous().next() == day
    assert week.contains(date(2026, 11, 29)) and not week.contains(date(2026, 11, 30))


@pytest.mark.parametrize("bad", ["weekly:2026-11-23x", "monthly:2026-11-01", "2026-11-23", ""])
def test_bad_keys_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        Period.from_key(bad)


def test_a_period_must_have_its_kinds_length() -> None:
    with pytest.raises(ValueError):
        Period("weekly", date(2026, 11, 23), date(2026, 11, 28))


@pytest.mark.parametrize("bad", ["hourly 09:00", "daily 24:00", "weekly 09:00", "weekly xyz 09:00"])
def test_bad_schedules_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        DigestSchedule.parse(bad, SHANGHAI)


@pytest.mark.parametrize(
    ("schedule", "day", "key"),
    [
        ("daily 09:00", date(2026, 11, 28), "daily:2026-11-28"),
        ("weekly mon 09:00", date(2026, 11, 28), "weekly:2026-11-23"),  # Saturday → Monday 23rd
        ("weekly mon 09:00", date(2026, 11, 23), "weekly:2026-11-23"),  # the Monday itself
        ("weekly mon 09:00", date(2026, 11, 22), "weekly:2026-11-16"),  # Sunday: week before
        ("weekly fri 18:00", date(2026, 11, 28), "weekly:2026-11-27"),  # Friday–Thursday weeks
        ("weekly fri 18:00", date(2026, 11, 26), "weekly:2026-11-20"),
    ],
)
def test_period_containing_a_day(schedule: str, day: date, key: str) -> None:
    assert DigestSchedule.parse(schedule, SHANGHAI).period_containing(day).key == key


def test_daily_digest_is_due_at_the_send_time_of_the_next_day_in_the_time_zone() -> None:
    schedule = DigestSchedule.parse("daily 09:00", SHANGHAI)
    # 09:00 in Shanghai (UTC+8) is 01:00 UTC.
    assert schedule.latest_complete(utc(2026, 11, 29, 0, 59)).key == "daily:2026-11-27"
    assert schedule.latest_complete(utc(2026, 11, 29, 1, 0)).key == "daily:2026-11-28"


def test_the_day_is_the_time_zones_day_not_utcs() -> None:
    schedule = DigestSchedule.parse("daily 00:15", SHANGHAI)
    # 16:30 UTC on the 28th is already 00:30 on the 29th in Shanghai: the 28th is complete
    # and its send time (00:15 on the 29th, local) has passed.
    now = utc(2026, 11, 28, 16, 30)
    assert schedule.today(now) == date(2026, 11, 29)
    assert schedule.latest_complete(now).key == "daily:2026-11-28"
    assert schedule.latest_complete(utc(2026, 11, 28, 16, 14)).key == "daily:2026-11-27"


def test_weekly_digest_is_due_on_the_first_day_of_the_next_week() -> None:
    schedule = DigestSchedule.parse("weekly mon 09:00", SHANGHAI)
    monday_0859 = datetime(2026, 11, 30, 8, 59, tzinfo=ZoneInfo(SHANGHAI))
    assert schedule.latest_complete(monday_0859).key == "weekly:2026-11-16"
    assert schedule.latest_complete(monday_0859 + timedelta(minutes=1)).key == "weekly:2026-11-23"
    week = Period.from_key("weekly:2026-11-23")
    assert schedule.due_at(week) == datetime(2026, 11, 30, 9, 0, tzinfo=ZoneInfo(SHANGHAI))
    assert not schedule.is_due(week, monday_0859)


def test_a_send_time_inside_a_dst_gap_uses_the_offset_before_the_gap() -> None:
    # Berlin skips 02:00–03:00 on 2026-03-29; 02:30 is read as UTC+1, i.e. 01:30 UTC.
    schedule = DigestSchedule.parse("daily 02:30", "Europe/Berlin")
    day = schedule.period_containing(date(2026, 3, 28))
    assert not schedule.is_due(day, utc(2026, 3, 29, 1, 29))
    assert schedule.is_due(day, utc(2026, 3, 29, 1, 30))


def test_due_periods_after_the_last_one_built() -> None:
    schedule = DigestSchedule.parse("daily 09:00", SHANGHAI)
    now = utc(2026, 11, 29, 2, 0)  # latest complete: the 28th

    assert [p.key for p in schedule.due_periods(now, None)] == ["daily:2026-11-28"]
    assert schedule.due_periods(now, "daily:2026-11-28") == []
    assert [p.key for p in schedule.due_periods(now, "daily:2026-11-25")] == [
        "daily:2026-11-26",
        "daily:2026-11-27",
        "daily:2026-11-28",
    ]
    # After long downtime only the most recent `limit` periods are built.
    assert [p.key for p in schedule.due_periods(now, "daily:2026-10-01", limit=2)] == [
        "daily:2026-11-27",
        "daily:2026-11-28",
    ]
    # A key from the future (clock moved back) makes nothing due.
    assert schedule.due_periods(now, "daily:2026-12-05") == []


def test_due_periods_after_a_change_of_schedule_skip_overlapping_periods() -> None:
    weekly = DigestSchedule.parse("weekly mon 09:00", SHANGHAI)
    daily = DigestSchedule.parse("daily 09:00", SHANGHAI)
    now = utc(2026, 12, 2, 2, 0)  # Wednesday 10:00 in Shanghai

    # Daily after a weekly digest of 23–29 Nov: from the 30th on.
    assert [p.key for p in daily.due_periods(now, "weekly:2026-11-23")] == [
        "daily:2026-11-30",
        "daily:2026-12-01",
    ]
    # Weekly after a daily digest of Wed 25 Nov: the week 23–29 overlaps it, so nothing
    # is due before the week of 30 Nov, which is not complete yet.
    assert weekly.due_periods(now, "daily:2026-11-25") == []


def test_period_argument_is_a_day_or_a_key() -> None:
    schedule = DigestSchedule.parse("weekly mon 09:00", SHANGHAI)

    assert schedule.parse_period_argument("2026-11-28").key == "weekly:2026-11-23"
    assert schedule.parse_period_argument("daily:2026-11-28").key == "daily:2026-11-28"
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        schedule.parse_period_argument("28.11.2026")


def test_naive_datetimes_are_refused() -> None:
    schedule = DigestSchedule.parse("daily 09:00", SHANGHAI)
    with pytest.raises(ValueError, match="timezone-aware"):
        schedule.latest_complete(datetime(2026, 11, 29, 9, 0))


def test_schedule_from_settings() -> None:
    settings = load_settings(digest_schedule="weekly fri 18:30", timezone="Asia/Urumqi")
    schedule = DigestSchedule.from_settings(settings)

    assert (schedule.kind, schedule.week_start, schedule.send_time.isoformat()) == (
        "weekly",
        4,
        "18:30:00",
    )
    assert schedule.zone == ZoneInfo("Asia/Urumqi")


def test_a_campaign_period_is_its_whole_span_and_its_key_parses_back() -> None:
    span = Period.campaign(date(2026, 11, 1), date(2026, 11, 30))
    assert span.key == "campaign:2026-11-01..2026-11-30"
    assert Period.from_key(span.key) == span
    assert span.days == 30
    assert span.contains(date(2026, 11, 30)) and not span.contains(date(2026, 12, 1))
    assert Period.campaign(date(2026, 11, 1), date(2026, 11, 1)).days == 1
    with pytest.raises(ValueError):
        Period.campaign(date(2026, 11, 2), date(2026, 11, 1))
    with pytest.raises(ValueError):
        Period.from_key("campaign:2026-11-01")
