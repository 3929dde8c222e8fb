"""The daily maintenance deletes every kind of row whose purpose has passed — and nothing
else; `--dry-run` counts the same rows and changes nothing; finished broadcasts keep their
totals, so the admin's progress screen shows the same figures after their recipients went."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from bot.app import Services, build_services
from bot.broadcast.runtime import progress_text
from bot.broadcast.sender import Progress
from bot.cli import main
from bot.config import load_settings
from bot.i18n import make_i18n
from bot.maintenance import (
    DailyMaintenanceJob,
    MaintenanceReport,
    MaintenanceService,
    MaintenanceStep,
    PeriodicJob,
)
from bot.statuses import BroadcastStatus, OutboxChannel
from storage.repositories import (
    BroadcastContent,
    BroadcastRepository,
    InviteRepository,
    NewSubmission,
    OutboxEntry,
    OutboxRepository,
    Outcome,
    RateLimitRepository,
)
from storage.repositories.digests import DigestRepository
from storage.tables import (
    audit_log,
    broadcast_recipients,
    broadcasts,
    campaigns,
    digest_outbox,
    digests,
    fsm_entries,
    metadata,
    rate_counters,
    staff_invites,
    submissions,
    subscribers,
)

NOW = datetime(2026, 6, 15, 4, 0, tzinfo=UTC)  # 12:00 in Asia/Shanghai
TODAY = date(2026, 6, 15)
KINDS = (
    "reports",
    "rate_counters",
    "fsm_entries",
    "invites",
    "broadcast_recipients",
    "digest_outbox",
    "digests",
    "inactive_subscribers",
    "ended_campaigns",
    "reorder",
)


def _naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


def _submission(day: date) -> NewSubmission:
    return NewSubmission(
        questionnaire_id="q",
        questionnaire_version=1,
        answers={"p1_freq": "often"},
        text_question_ids=frozenset(),
        day=day,
        receipt_hash=secrets.token_hex(32),
    )


@contextlib.asynccontextmanager
async def _services(url: str, data_dir: Path) -> AsyncIterator[Services]:
    settings = load_settings(
        data_dir=data_dir, database_url=url, retention_days=365, timezone="Asia/Shanghai"
    )
    built = await build_services(settings, now=lambda: NOW)
    try:
        yield built
    finally:
        await built.close()


@pytest.fixture
async def services(db_url: str, tmp_path: Path) -> AsyncIterator[Services]:
    async with _services(db_url, tmp_path / "data") as built:
        yield built


def _size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


async def _rows(services: Services) -> dict[str, int]:
    async with services.database.engine.connect() as connection:
        return {
            name: int(await connection.scalar(select(func.count()).select_from(table)) or 0)
            for name, table in metadata.tables.items()
        }


async def _seed_broadcasts(services: Services) -> dict[str, str]:
    """A done broadcast, a cancelled one with a row left `sending`, and a running one."""
    for chat_id in range(7_000_001, 7_000_006):
        await services.subscribers.subscribe(chat_id, "zh-CN")
    repository = BroadcastRepository(services.database, services.cipher)
    content = BroadcastContent("<b>通知</b>")
    jobs = {name: await repository.create(content) for name in ("done", "cancelled", "running")}
    claimed = await repository.claim(jobs["done"], 10, now=NOW)
    assert len(claimed) == 5
    outcomes = [Outcome(c.chat_hash, "sent") for c in claimed[:3]]
    outcomes.append(Outcome(claimed[3].chat_hash, "blocked", "Forbidden: bot was blocked"))
    outcomes.append(Outcome(claimed[4].chat_hash, "failed", "Bad Request: chat not found"))
    await repository.record(jobs["done"], outcomes)
    assert await repository.set_status(jobs[BroadcastStatus.DONE], BroadcastStatus.DONE)
    second = await repository.claim(jobs["cancelled"], 2, now=NOW)
    await repository.record(jobs["cancelled"], [Outcome(second[0].chat_hash, "sent")])
    assert await repository.set_status(
        jobs[BroadcastStatus.CANCELLED], BroadcastStatus.CANCELLED
    )  # one still `sending`
    return jobs


def _campaign_row(campaign_id: str, closes_day: date, status: str) -> dict[str, object]:
    return {
        "id": campaign_id,
        "title": campaign_id,
        "questionnaire_id": "q",
        "questionnaire_version": 1,
        "opens_day": date(2026, 6, 1),
        "closes_day": closes_day,
        "status": status,
    }


async def _seed_everything(services: Services) -> dict[str, str]:
    db = services.database
    await services.submissions.store(_submission(date(2025, 1, 1)))  # past retention
    kept_report = await services.submissions.store(_submission(TODAY - timedelta(days=3)))
    limits = RateLimitRepository(db)
    for key in ("a", "b"):
        assert await limits.try_consume(key * 64, TODAY - timedelta(days=1), 5)
    assert await limits.try_consume("c" * 64, TODAY, 5)
    async with db.engine.begin() as connection:
        await connection.execute(
            fsm_entries.insert(),
            [
                {
                    "key": "d" * 64,
                    "state": "Survey:q",
                    "expires_at": _naive(NOW - timedelta(days=2)),
                },
                {"key": "e" * 64, "state": "FollowUp:reading", "expires_at": _naive(NOW)},
                {
                    "key": "f" * 64,
                    "state": "Survey:q",
                    "expires_at": _naive(NOW + timedelta(hours=1)),
                },
            ],
        )
    invites = InviteRepository(db)
    earlier = NOW - timedelta(days=1)
    await invites.add("1" * 64, expires_at=NOW - timedelta(hours=1), now=earlier)
    await invites.add("2" * 64, expires_at=NOW + timedelta(hours=20), now=earlier)
    jobs = await _seed_broadcasts(services)
    async with db.engine.begin() as connection:
        await connection.execute(
            campaigns.insert(),
            [
                _campaign_row("closedbyadmin", TODAY + timedelta(days=5), "closed"),
                _campaign_row("lastdaypassed", TODAY - timedelta(days=1), "open"),
                _campaign_row("stillrunning", TODAY, "open"),
            ],
        )
    stored = DigestRepository(db, services.cipher)
    for key in ("daily:2025-01-01", "daily:2025-01-02", "daily:2026-06-14"):
        assert await stored.store_if_absent(key, "{}")
    outbox = OutboxRepository(db)
    old, recent = NOW - timedelta(days=10), NOW - timedelta(days=1)
    entries = [OutboxEntry(letter * 64, OutboxChannel.TELEGRAM) for letter in "abcd"]
    await outbox.enqueue("daily:2026-06-14", entries, now=old)
    await outbox.enqueue(
        "daily:2026-06-14", [OutboxEntry("e" * 64, OutboxChannel.WEBHOOK)], now=recent
    )
    async with db.engine.begin() as connection:
        for letter, status in (("a", "sent"), ("b", "failed"), ("c", "cancelled"), ("e", "sent")):
            await connection.execute(
                update(digest_outbox)
                .where(digest_outbox.c.destination == letter * 64)
                .values(status=status)
            )
    return {"kept_report": kept_report, **jobs}


async def test_every_kind_is_purged_and_the_dry_run_only_counts(services: Services) -> None:
    seeded = await _seed_everything(services)
    maintenance = MaintenanceService.around(services.cases.retention)
    before = await _rows(services)

    dry = await maintenance.run(dry_run=True)

    assert [item.kind for item in dry.counts] == list(KINDS) and not dry.failed
    expected = {
        "reports": 1,
        "rate_counters": 2,
        "fsm_entries": 2,  # the one expired two days ago and the one expiring right now
        "invites": 1,
        "broadcast_recipients": 10,  # 5 of the done broadcast, 5 of the cancelled one
        "digest_outbox": 3,  # sent, failed and cancelled ten days ago
        "digests": 2,  # the latest is always kept
        "inactive_subscribers": 1,  # the one who blocked the bot
        "ended_campaigns": 1,  # open, its last day yesterday; not the one running today
        "reorder": 2,  # closed by an admin, and past its last day; not the running one
    }
    assert {kind: dry.count(kind) for kind in KINDS} == expected
    assert await _rows(services) == before
    assert dry.lines()[0].startswith("would delete 1 report(s) with no activity since before")

    done = await maintenance.run()

    assert {kind: done.count(kind) for kind in KINDS} == expected and not done.failed
    assert done.lines()[1] == "deleted 2 rate counter(s) of days before 2026-06-15"
    async with services.database.engine.connect() as connection:
        assert list(await connection.scalars(select(submissions.c.id))) == [seeded["kept_report"]]
        assert list(await connection.scalars(select(rate_counters.c.key))) == ["c" * 64]
        assert list(await connection.scalars(select(fsm_entries.c.key))) == ["f" * 64]
        assert list(await connection.scalars(select(staff_invites.c.code_hash))) == ["2" * 64]
        assert set(await connection.scalars(select(broadcast_recipients.c.broadcast_id))) == {
            seeded["running"]
        }
        assert list(await connection.scalars(select(digests.c.period_key))) == ["daily:2026-06-14"]
        left = (await connection.execute(select(digest_outbox.c.destination))).scalars()
        assert sorted(left) == ["d" * 64, "e" * 64]  # still pending; sent a day ago
        assert await connection.scalar(select(func.count()).select_from(subscribers)) == 4
        reordered = await connection.execute(select(campaigns.c.id, campaigns.c.reordered))
        assert {row.id: row.reordered for row in reordered} == {
            "closedbyadmin": True,
            "lastdaypassed": True,
            "stillrunning": False,
        }
        states = await connection.execute(select(campaigns.c.id, campaigns.c.status))
        assert {row.id: row.status for row in states} == {
            "closedbyadmin": "closed",
            "lastdaypassed": "closed",  # closed by the bot, in the audit log as actor 0
            "stillrunning": "open",
        }
        closing = await connection.execute(
            select(audit_log.c.actor_user_id, audit_log.c.action, audit_log.c.subject)
        )
        assert [tuple(row) for row in closing] == [(0, "campaign.close", "lastdaypassed")]
    again = await maintenance.run()
    assert all(item.count == 0 for item in again.counts)


async def test_a_finished_broadcast_keeps_its_totals(services: Services) -> None:
    jobs = await _seed_broadcasts(services)
    repository = BroadcastRepository(services.database, services.cipher)
    before = {name: await repository.counts(job) for name, job in jobs.items()}
    i18n = make_i18n("en")

    def screen(job: str, counts: dict[str, int]) -> str:
        with i18n.context(), i18n.use_locale("en"):
            return progress_text(job, BroadcastStatus.DONE, Progress(counts, 5, 0.0, 0.0))

    shown = screen(jobs["done"], before["done"])
    maintenance = MaintenanceService.around(services.cases.retention)

    report = await maintenance.run()

    assert report.count("broadcast_recipients") == 10
    assert "of 2 finished broadcast(s) (their totals are kept)" in report.lines()[4]
    after = {name: await repository.counts(job) for name, job in jobs.items()}
    assert after["done"] == before["done"]
    assert before["done"]["sent"] == 3 and before["done"]["blocked"] == 1
    assert screen(jobs["done"], after["done"]) == shown
    # The row left `sending` of the cancelled job is counted as unknown: it is never resent.
    assert before["cancelled"]["sending"] == 1
    assert after["cancelled"] == {
        **before["cancelled"],
        "sending": 0,
        "unknown": before["cancelled"]["unknown"] + 1,
    }
    assert after["running"] == before["running"]
    async with services.database.engine.connect() as connection:
        kept = (
            await connection.execute(
                select(broadcasts.c.sent_count, broadcasts.c.skipped_count).where(
                    broadcasts.c.id == jobs["running"]
                )
            )
        ).one()
    assert tuple(kept) == (None, None)  # a running job keeps its rows, not totals


async def test_used_invite_codes_are_deleted_when_used(services: Services) -> None:
    invites = InviteRepository(services.database)
    await invites.add("9" * 64, expires_at=NOW + timedelta(hours=24), now=NOW)
    assert (await _rows(services))["staff_invites"] == 1
    assert await invites.consume("9" * 64, now=NOW)
    assert (await _rows(services))["staff_invites"] == 0  # nothing left for a purge
    assert not await invites.consume("9" * 64, now=NOW)


async def test_the_sqlite_wal_is_truncated_after_a_purge(
    migrated_sqlite_url: str, tmp_path: Path
) -> None:
    async with _services(migrated_sqlite_url, tmp_path / "data") as services:
        await _seed_everything(services)
        wal = Path(str(services.database.engine.url.database) + "-wal")
        assert _size(wal) > 0
        await MaintenanceService.around(services.cases.retention).run()
        assert _size(wal) == 0


async def test_a_failing_step_does_not_stop_the_others(services: Services) -> None:
    async def broken(now: datetime, dry_run: bool) -> tuple[int, str]:
        raise RuntimeError("boom")

    async def counted(now: datetime, dry_run: bool) -> tuple[int, str]:
        return 3, "thing(s)"

    maintenance = MaintenanceService(
        services.database,
        [MaintenanceStep("broken", broken), MaintenanceStep("counted", counted)],
        clock=lambda: NOW,
    )
    report = await maintenance.run()
    assert report.failed == ("broken",)
    assert report.lines() == ["deleted 3 thing(s)", "failed: broken (see the log)"]


async def test_the_job_runs_at_start_then_every_interval_even_after_a_failure() -> None:
    calls: list[int] = []

    async def work() -> None:
        calls.append(len(calls))
        if len(calls) == 2:
            raise RuntimeError("a bad day")

    job = PeriodicJob("test", work, interval=0.01)
    job.start()
    await asyncio.wait_for(job.wait_for_runs(1), timeout=30)
    assert calls  # at start-up, without waiting for the interval
    await asyncio.wait_for(job.wait_for_runs(4), timeout=30)
    assert job.running and len(calls) >= 4
    await job.stop()
    assert not job.running


async def test_the_daily_job_keeps_its_last_report(services: Services) -> None:
    await _seed_everything(services)
    job = DailyMaintenanceJob(MaintenanceService.around(services.cases.retention))
    job.start()
    try:
        await asyncio.wait_for(job.wait_for_runs(1), timeout=60)
    finally:
        await job.stop()
    assert isinstance(job.last_report, MaintenanceReport)
    assert job.last_report.count("rate_counters") == 2


def test_the_purge_command_prints_one_line_per_kind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir = tmp_path / "data"
    monkeypatch.setenv("DATA_DIR", str(data_dir))

    async def seed() -> None:
        async with _services(f"sqlite+aiosqlite:///{data_dir / 'qingfeng.db'}", data_dir) as built:
            limits = RateLimitRepository(built.database)
            assert await limits.try_consume("a" * 64, date(2020, 1, 1), 5)

    asyncio.run(seed())
    assert main(["retention", "purge", "--dry-run"]) == 0
    dry = capsys.readouterr().out.splitlines()
    assert len(dry) == len(KINDS) and all(line.startswith("would delete ") for line in dry)
    assert dry[1].startswith("would delete 1 rate counter(s) of days before ")
    assert main(["retention", "purge"]) == 0
    done = capsys.readouterr().out.splitlines()
    assert [line.replace("would delete", "deleted", 1) for line in dry] == done
    assert main(["retention", "purge", "--dry-run"]) == 0
    assert capsys.readouterr().out.splitlines()[1].startswith("would delete 0 rate counter(s)")
