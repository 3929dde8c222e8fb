"""`python -m bot export`: closed weeks only unless --include-today, free text only with
--with-text (audited), and what was left out is reported.

The command reads the real clock, so the data are seeded relative to the Monday of the
running week, in a time zone chosen so that no week can turn over during the test."""

from __future__ import annotations

import asyncio
import csv
import io
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pyreadstat
import pytest

from bot.app import Services, build_services
from bot.cli import CLI_ACTOR_ID, main
from bot.config import load_settings
from bot.export.generalise import week_of
from storage.repositories import AuditRepository, NewSubmission

#: How far from a Monday 00:00 the test's start must be in the chosen zone.
MARGIN = timedelta(hours=2)


def calm_zone(now: datetime) -> ZoneInfo:
    """A fixed-offset zone in which `now` is at least MARGIN away from any Monday 00:00: the
    week the fixture seeds against is still the week when the command reads the clock.
    (Offsets span 26 hours, so one always qualifies.)"""
    for hours in range(-12, 15):
        zone = ZoneInfo(f"Etc/GMT{-hours:+d}")  # POSIX signs: Etc/GMT-8 is UTC+8
        local = now.astimezone(zone)
        monday = datetime.combine(week_of(local.date()), time(), zone)
        if MARGIN <= local - monday <= timedelta(weeks=1) - MARGIN:
            return zone
    raise AssertionError("no fixed-offset zone is far enough from a Monday midnight")


@dataclass(frozen=True)
class Seeded:
    services: Services
    last_week: date  # the Monday of the week that closed last


@pytest.fixture
async def seeded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Seeded]:
    """Five submissions in the week that closed last and five on the Monday of the running
    week (in TIMEZONE: a closed day unless today is that Monday), in the CLI's DATA_DIR."""
    zone = calm_zone(datetime.now(UTC))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("TIMEZONE", zone.key)
    for name in ("BOT_TOKEN", "TELEGRAM_API_URL", "DATABASE_URL", "DIGEST_WEBHOOKS"):
        monkeypatch.delenv(name, raising=False)
    services = await build_services(load_settings())
    questionnaire = services.questionnaire
    today = datetime.now(zone).date()
    running = week_of(today)
    last_week = running - timedelta(weeks=1)
    for days, text in (
        ([last_week + timedelta(days=n) for n in range(5)], "上周的事"),
        ([running] * 5, "本周的事"),
    ):
        for day in days:
            await services.submissions.store(
                NewSubmission(
                    questionnaire.id,
                    questionnaire.version,
                    {"p1_freq": "often", "p1_example": text},
                    questionnaire.text_question_ids,
                    day,
                    secrets.token_hex(32),
                )
            )
    await services.close()
    yield Seeded(services, last_week)


async def run_cli(*argv: str) -> int:
    return await asyncio.to_thread(main, list(argv))


def body_of(path: Path) -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"))))[1:]


async def audit_actions(services: Services) -> list[tuple[int, str]]:
    again = await build_services(services.settings)
    try:
        entries = await AuditRepository(again.database).recent()
    finally:
        await again.close()
    return [(entry.actor_user_id, entry.action) for entry in entries]


async def test_closed_weeks_only_and_no_text_by_default(
    seeded: Seeded, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "closed.csv"
    assert await run_cli("export", "--format", "csv", "--out", str(out)) == 0
    assert "wrote 5 submission(s)" in capsys.readouterr().out
    text = out.read_text(encoding="utf-8-sig")
    assert "上周的事" not in text and "本周的事" not in text
    body = body_of(out)
    assert len(body) == 5
    assert {row[1] for row in body} == {seeded.last_week.isoformat()}  # its Monday, no day
    assert await audit_actions(seeded.services) == []  # no free text: nothing to audit


async def test_include_today_and_with_text(
    seeded: Seeded, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "all.csv"
    argv = ("export", "--format", "csv", "--out", str(out), "--include-today", "--with-text")
    assert await run_cli(*argv) == 0
    assert "wrote 10 submission(s)" in capsys.readouterr().out
    text = out.read_text(encoding="utf-8-sig")
    assert "上周的事" in text and "本周的事" in text
    assert await audit_actions(seeded.services) == [(CLI_ACTOR_ID, "export.text")]


async def test_a_date_range_and_an_spss_file(
    seeded: Seeded, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    running = seeded.last_week + timedelta(weeks=1)
    out = tmp_path / "range.csv"
    argv = ("export", "--format", "csv", "--out", str(out), "--include-today")
    assert await run_cli(*argv, "--from", str(running + timedelta(days=3))) == 0
    assert {row[1] for row in body_of(out)} == {running.isoformat()}  # its whole week
    assert len(body_of(out)) == 5
    assert await run_cli(*argv, "--to", str(seeded.last_week + timedelta(days=6))) == 0
    assert {row[1] for row in body_of(out)} == {seeded.last_week.isoformat()}
    early = str(seeded.last_week - timedelta(days=1))
    assert await run_cli(*argv, "--from", early, "--to", early) == 0
    assert body_of(out) == []
    # Without --include-today, a range that reaches the running week still stops before it.
    assert await run_cli("export", "--format", "csv", "--out", str(out), "--from", early) == 0
    assert {row[1] for row in body_of(out)} == {seeded.last_week.isoformat()}
    capsys.readouterr()

    sav = tmp_path / "answers.sav"
    assert await run_cli("export", "--format", "sav", "--out", str(sav)) == 0
    printed = capsys.readouterr().out
    assert "wrote 5 submission(s)" in printed
    assert f"wrote the codebook to {tmp_path / 'answers.codebook.csv'}" in printed
    frame, meta = await asyncio.to_thread(pyreadstat.read_sav, str(sav))
    assert len(frame) == 5 and meta.column_names[:3] == ["row", "week", "unit_type"]
    assert meta.variable_value_labels["freq.p1"][1.0] == "从未遇到"
