"""Maintenance: the purges that keep the anonymity promises true over time, and the operator's
key rotation.

`daily_steps` is the one list of what the bot does every day (`RetentionJob` runs it at
start-up and then daily; `python -m bot retention purge [--dry-run]` runs it now, one line per
kind): reports past RETENTION_DAYS, rate counters of past days, expired FSM rows of every
kind, expired invite codes, the recipient rows of finished broadcasts (their totals stay on
the job), subscribers who blocked the bot, finished digest deliveries older than a week, and
stored digests past RETENTION_DAYS; an open campaign whose last day has passed is closed
(audited as actor 0; opening a campaign stays an admin's command); and once a campaign has
closed, the submission-side tables are rewritten in random order (PostgreSQL,
`storage.reorder`), so that rows forget their arrival order. On SQLite the WAL is
checkpointed (truncated) after a purge that deleted anything, so the deleted rows' page
images do not linger in the `-wal` file.

The bot's job holds a lease (`storage.repositories.job_leases`): with several instances on
one database it runs once per calendar day (TIMEZONE) in whichever instance takes it first,
and again in another if that one dies before finishing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Protocol, TextIO
from zoneinfo import ZoneInfo

from bot.clock import WallClock
from bot.config import Settings
from storage.database import Database
from storage.fsm import purge_expired_entries
from storage.inline_sqlite import in_worker_thread
from storage.reorder import reorder_submission_tables
from storage.repositories.broadcasts import purge_finished_recipients
from storage.repositories.campaigns import CampaignRepository
from storage.repositories.cases import AuditRepository
from storage.repositories.digests import OutboxRepository
from storage.repositories.invites import InviteRepository
from storage.repositories.job_leases import LeaseHolder, LeaseLost
from storage.repositories.rate_limits import RateLimitRepository
from storage.repositories.subscribers import purge_inactive_subscribers

logger = logging.getLogger(__name__)

EXIT_USAGE = 2
INTERVAL_SECONDS = 24 * 60 * 60
# How often a leased daily job checks whether today's run is done (by any instance).
DAILY_POLL_SECONDS = 5 * 60
# Finished digest deliveries are kept this long, for an admin who asks "did it go out?".
OUTBOX_KEEP = timedelta(days=7)
# The audit log's actor for what the bot does by itself (no staff member has user id 0).
SYSTEM_ACTOR = 0


@dataclass(frozen=True)
class PurgeCount:
    """What one step deleted (or, in a dry run, would delete)."""

    kind: str  # stable name: reports, rate_counters, fsm_entries, invites, …
    count: int
    what: str  # the operator's words after the number


@dataclass(frozen=True)
class MaintenanceReport:
    dry_run: bool
    counts: tuple[PurgeCount, ...]
    failed: tuple[str, ...] = ()  # kinds whose step raised (logged); the others still ran

    def count(self, kind: str) -> int:
        return sum(item.count for item in self.counts if item.kind == kind)

    def lines(self) -> list[str]:
        """One line per kind, in the order of `daily_steps` (stable, for operators)."""
        verb = "would delete" if self.dry_run else "deleted"
        shown = [f"{verb} {item.count} {item.what}" for item in self.counts]
        return shown + [f"failed: {kind} (see the log)" for kind in self.failed]


StepRun = Callable[[datetime, bool], Awaitable[tuple[int, str]]]


class StoredDigests(Protocol):
    """The stored digests, whose retention the daily maintenance enforces too
    (`bot.digest.scheduler.DigestService`)."""

    async def purge_before(self, day: date, *, dry_run: bool = False) -> int: ...


class PurgedReports(Protocol):
    """What a purge of reports says: how many, and the day before which they had to go."""

    @property
    def cutoff(self) -> date: ...

    @property
    def count(self) -> int: ...


class Retention(Protocol):
    """What the daily maintenance needs of the app's report retention
    (`bot.cases.retention.RetentionService`, which builds its job on this module)."""

    @property
    def database(self) -> Database: ...

    @property
    def zone(self) -> ZoneInfo: ...

    @property
    def clock(self) -> WallClock: ...

    @property
    def retention_days(self) -> int: ...

    @property
    def digests(self) -> StoredDigests: ...

    def cutoff(self, today: date | None = None) -> date: ...

    async def purge(self, *, dry_run: bool = False, today: date | None = None) -> PurgedReports: ...


@dataclass(frozen=True)
class MaintenanceStep:
    """One daily purge: `run(now, dry_run)` returns (count, what was counted)."""

    kind: str
    run: StepRun


def daily_steps(service: Retention) -> list[MaintenanceStep]:
    """Everything the daily maintenance does, in order. Further daily steps are added here,
    and only here (the job and the CLI both run this list)."""
    database = service.database
    zone = service.zone

    async def reports(now: datetime, dry_run: bool) -> tuple[int, str]:
        report = await service.purge(dry_run=dry_run, today=now.astimezone(zone).date())
        return report.count, (
            f"report(s) with no activity since before {report.cutoff.isoformat()} "
            f"(RETENTION_DAYS={service.retention_days})"
        )

    async def rate_counters(now: datetime, dry_run: bool) -> tuple[int, str]:
        today = now.astimezone(zone).date()
        count = await RateLimitRepository(database).purge_before(today, dry_run=dry_run)
        return count, f"rate counter(s) of days before {today.isoformat()}"

    async def fsm_entries(now: datetime, dry_run: bool) -> tuple[int, str]:
        count = await purge_expired_entries(database, now=now, dry_run=dry_run)
        return count, "expired conversation state(s) (drafts, follow-up sessions, dialogs)"

    async def invites(now: datetime, dry_run: bool) -> tuple[int, str]:
        count = await InviteRepository(database).purge_expired(now=now, dry_run=dry_run)
        return count, "expired invite code(s) (a used code is deleted when it is used)"

    async def broadcast_recipients(now: datetime, dry_run: bool) -> tuple[int, str]:
        rows, jobs = await purge_finished_recipients(database, dry_run=dry_run)
        return rows, f"recipient row(s) of {jobs} finished broadcast(s) (their totals are kept)"

    async def digest_outbox(now: datetime, dry_run: bool) -> tuple[int, str]:
        outbox = OutboxRepository(database)
        count = await outbox.purge_finished_before(now - OUTBOX_KEEP, dry_run=dry_run)
        return count, f"finished digest delivery row(s) older than {OUTBOX_KEEP.days} days"

    async def inactive_subscribers(now: datetime, dry_run: bool) -> tuple[int, str]:
        count = await purge_inactive_subscribers(database, dry_run=dry_run)
        return count, "subscriber(s) who blocked the bot"

    async def ended_campaigns(now: datetime, dry_run: bool) -> tuple[int, str]:
        today = now.astimezone(zone).date()
        repository = CampaignRepository(database)
        what = "campaign(s) from the open ones: closed after their last day (audit actor 0)"
        if dry_run:
            return len(await repository.ended_open(today)), what
        audit = AuditRepository(database)
        async with database.transaction() as connection:
            closed = await repository.close_ended(today, connection=connection)
            for campaign_id in closed:
                await audit.record(
                    SYSTEM_ACTOR, "campaign.close", campaign_id, today, connection=connection
                )
        return len(closed), what

    async def reorder(now: datetime, dry_run: bool) -> tuple[int, str]:
        campaigns = CampaignRepository(database)
        closed = await campaigns.closed_not_reordered(now.astimezone(zone).date())
        what = "closed campaign(s) whose storage was reordered"
        if dry_run or not closed:
            return len(closed), what
        report = await reorder_submission_tables(database)
        await campaigns.mark_reordered(closed)
        if not report.reordered:
            return len(closed), f"{what} (nothing to do on {report.dialect})"
        return len(closed), f"{what} ({report.total} row(s) rewritten in random order)"

    async def digests(now: datetime, dry_run: bool) -> tuple[int, str]:
        cutoff = service.cutoff(now.astimezone(zone).date())
        count = await service.digests.purge_before(cutoff, dry_run=dry_run)
        return count, f"stored digest(s) of periods that ended before {cutoff.isoformat()}"

    return [
        MaintenanceStep("reports", reports),
        MaintenanceStep("rate_counters", rate_counters),
        MaintenanceStep("fsm_entries", fsm_entries),
        MaintenanceStep("invites", invites),
        MaintenanceStep("broadcast_recipients", broadcast_recipients),
        MaintenanceStep("digest_outbox", digest_outbox),
        MaintenanceStep("digests", digests),
        MaintenanceStep("inactive_subscribers", inactive_subscribers),
        MaintenanceStep("ended_campaigns", ended_campaigns),
        # Last: after the purges, so that nothing just deleted is copied into the new tables.
        MaintenanceStep("reorder", reorder),
    ]


class MaintenanceService:
    """Runs the steps one after another on one `now`; a failing step is logged and the others
    still run. After a real run that deleted anything, the SQLite WAL is truncated."""

    def __init__(
        self,
        database: Database,
        steps: Sequence[MaintenanceStep],
        *,
        clock: WallClock,
    ) -> None:
        self._database = database
        self.steps = list(steps)
        self._clock = clock

    @classmethod
    def around(cls, service: Retention) -> MaintenanceService:
        """The daily maintenance of the app whose retention service this is."""
        return cls(service.database, daily_steps(service), clock=service.clock)

    async def run(self, *, dry_run: bool = False) -> MaintenanceReport:
        now = self._clock()
        counts: list[PurgeCount] = []
        failed: list[str] = []
        for step in self.steps:
            try:
                count, what = await step.run(now, dry_run)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("Maintenance step %s failed", step.kind)
                failed.append(step.kind)
                continue
            counts.append(PurgeCount(step.kind, count, what))
        if not dry_run and any(item.count for item in counts):
            await self._database.checkpoint()
        if not dry_run:
            logger.info(
                "Daily maintenance deleted %s",
                ", ".join(f"{item.kind}={item.count}" for item in counts) or "nothing",
            )
        return MaintenanceReport(dry_run, tuple(counts), tuple(failed))


class PeriodicJob:
    """Run `work` once at start-up, then every `interval` seconds, until stopped. A run that
    fails is logged and retried at the next interval; `runs` counts finished rounds.

    With a `lease` (`storage.repositories.job_leases`) the work runs only in the process
    holding the job's lease, renewed while it works, so that several instances on one
    database run it once at a time; a round that finds the lease held elsewhere skips. With
    `daily_in` as well, the job runs once per calendar day of that zone across instances:
    the day counts as done only once a run *finished* (a process that dies mid-run never
    marks it, and another runs it after the lease runs out); every round then just checks.
    `worked` counts the rounds in which this process did the work."""

    def __init__(
        self,
        name: str,
        work: Callable[[], Awaitable[object]],
        *,
        interval: float,
        lease: LeaseHolder | None = None,
        daily_in: ZoneInfo | None = None,
    ) -> None:
        if daily_in is not None and lease is None:
            raise ValueError("a daily job needs a lease to remember its day")
        self.name = name
        self._work = work
        self._interval = interval
        self._lease = lease
        self._daily_in = daily_in
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()
        self._crashed = False
        self.runs = 0
        self.worked = 0
        self._ran = asyncio.Event()

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        if self.running:
            return
        self._stop = asyncio.Event()
        self._crashed = False
        # Its purges read and delete many rows: on SQLite, off the event loop.
        with in_worker_thread():
            self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        self._stop.set()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    def crash(self) -> None:
        """Cancel abruptly, as a dying process would: nothing more is written, a lease
        held is not released (it runs out). For tests."""
        task, self._task = self._task, None
        if task is not None:
            self._crashed = True
            task.cancel()

    async def wait_for_runs(self, count: int = 1) -> None:
        """Until `count` rounds have finished (successfully or not) since the job was made."""
        while self.runs < count:
            await self._ran.wait()

    async def _run(self) -> None:
        while not self._stop.is_set():
            try:
                await self._round()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("Periodic job %s failed", self.name)
            finally:
                self.runs += 1
                ran, self._ran = self._ran, asyncio.Event()
                ran.set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=self._interval)

    async def _round(self) -> None:
        lease = self._lease
        if lease is None:
            await self._work()
            self.worked += 1
            return
        day = None
        if self._daily_in is not None:
            day = lease.clock().astimezone(self._daily_in).date()
            if await self._done(lease, day):
                return
        if not await lease.acquire(self.name):
            return
        try:
            # Under the lease, again: another process may have finished it a moment ago.
            if day is not None and await self._done(lease, day):
                return
            await self._work_while_held(lease)
            if day is not None:
                await lease.repository.mark_done(self.name, lease.holder, day)
            self.worked += 1
        finally:
            if not self._crashed:
                await lease.release(self.name)

    async def _done(self, lease: LeaseHolder, day: date) -> bool:
        done = await lease.repository.done_day(self.name)
        return done is not None and done >= day

    async def _work_while_held(self, lease: LeaseHolder) -> None:
        lost = False
        work = asyncio.ensure_future(self._work())

        def on_lost() -> None:
            nonlocal lost
            lost = True
            work.cancel()

        async with lease.kept(self.name, on_lost):
            try:
                await work
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if lost and (current is None or not current.cancelling()):
                    raise LeaseLost(self.name) from None
                raise


class DailyMaintenanceJob(PeriodicJob):
    """The maintenance at start-up and then daily; `last_report` is the latest run's.

    With a `lease` it runs once per calendar day in `zone` across every instance on the
    database, checking every `DAILY_POLL_SECONDS` (or `interval`, if shorter)."""

    def __init__(
        self,
        service: MaintenanceService,
        *,
        interval: float = INTERVAL_SECONDS,
        lease: LeaseHolder | None = None,
        zone: ZoneInfo | None = None,
    ) -> None:
        if lease is not None and zone is None:
            raise ValueError("a leased daily maintenance needs the zone whose days count")
        super().__init__(
            "daily-maintenance",
            self._maintain,
            interval=interval if lease is None else min(interval, DAILY_POLL_SECONDS),
            lease=lease,
            daily_in=zone if lease is not None else None,
        )
        self.service = service
        self.last_report: MaintenanceReport | None = None

    async def _maintain(self) -> None:
        self.last_report = await self.service.run()


async def keys_rotate(
    settings: Settings,
    *,
    new_key: str | None,
    prepare_only: bool,
    keep_previous: bool,
    batch_size: int,
    out: TextIO,
    err: TextIO,
) -> int:
    from bot.anonymity.crypto import TextCipher
    from bot.anonymity.keys import (
        KeyMaterialError,
        MissingSecretError,
        generate_data_key,
        load_keys,
        load_keys_for_database,
    )
    from bot.anonymity.rotation import (
        finish_key_files,
        prepare_key_files,
        rotate,
        rotation_in_progress,
    )

    from_environment = settings.data_key is not None and bool(
        settings.data_key.get_secret_value().strip()
    )
    if from_environment:
        previous = settings.data_key_previous
        if new_key is not None or prepare_only:
            print(
                "qingfeng: DATA_KEY is set in the environment: set DATA_KEY to the new key and "
                "DATA_KEY_PREVIOUS to the old one, restart the bot, then run `keys rotate`",
                file=err,
            )
            return EXIT_USAGE
        if previous is None or not previous.get_secret_value().strip():
            print(
                "qingfeng: DATA_KEY_PREVIOUS is not set: nothing to rotate from "
                "(set DATA_KEY to the new key, DATA_KEY_PREVIOUS to the old one)",
                file=err,
            )
            return EXIT_USAGE
    else:
        database = await Database.connect(settings.resolved_database_url)
        try:
            await database.upgrade()
            # Creates data.key on a fresh install only, never next to data written with one.
            await load_keys_for_database(settings, database)
        except MissingSecretError as exc:
            print(f"qingfeng: {exc}", file=err)
            return EXIT_USAGE
        finally:
            await database.dispose()
        if rotation_in_progress(settings.data_dir):
            if new_key is not None:
                print(
                    "qingfeng: a rotation is in progress; run `keys rotate` without --new-key "
                    "to finish it",
                    file=err,
                )
                return EXIT_USAGE
            print("resuming the rotation in progress", file=out)
        else:
            try:
                prepare_key_files(settings.data_dir, new_key or generate_data_key())
            except KeyMaterialError as exc:
                print(f"qingfeng: {exc}", file=err)
                return EXIT_USAGE
            print("new DATA_KEY in place; the old one is kept in data.key.previous", file=out)
        if prepare_only:
            print(
                "restart the bot now (it then encrypts with the new key and still reads the "
                "old one), then run `python -m bot keys rotate` to re-encrypt",
                file=out,
            )
            return 0

    keys = load_keys(settings)
    cipher = TextCipher(keys.data_key, keys.previous_data_keys)
    database = await Database.connect(settings.resolved_database_url)
    try:
        await database.upgrade()
        report = await rotate(database, cipher, batch_size=batch_size)
    finally:
        await database.dispose()
    print(f"re-encrypted {report.total} value(s) in {report.batches} batch(es)", file=out)
    if report.remaining:
        print(
            f"qingfeng: {report.remaining} value(s) still under an old key (the bot kept "
            "writing with it? restart it with the new key); run `keys rotate` again",
            file=err,
        )
        return 1
    if from_environment:
        print("done: remove DATA_KEY_PREVIOUS from the environment and restart the bot", file=out)
    elif keep_previous:
        print("done; data.key.previous kept as asked (remove it with another run)", file=out)
    else:
        finish_key_files(settings.data_dir)
        print("done: data.key.previous removed; restart the bot at leisure", file=out)
    return 0
