"""Digests on a fixed rhythm: build each due period once, queue it for every destination,
deliver through the outbox — in a loop started and stopped with the dispatcher.

Each tick (every minute):

1. asks `DigestSchedule.due_periods` which periods are due after the last one built;
2. builds each and stores it with an insert-if-absent on the period key, so when several
   processes tick together one digest is kept and all of them send that one;
3. for every stored digest not yet queued, adds an outbox row per current destination
   (insert-if-absent too) and then flags the digest as queued — a crash in between only
   means the next tick queues again, harmlessly;
4. runs one pass of the outbox worker.

A digest goes out on schedule even for a period with no submissions (fixed rhythm, fixed
shape: its presence says nothing about whether anyone reported). There are no
per-submission alerts anywhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Final, Literal, TypedDict

import httpx
from aiogram import Bot

from bot.anonymity.crypto import DecryptionError, TextCipher
from bot.anonymity.pseudonym import Pseudonymizer
from bot.clock import WallClock, utc_now
from bot.config import Settings
from bot.delivery.outbox import (
    DestinationDirectory,
    OutboxWorker,
    PassReport,
    WebhookChannel,
)
from bot.delivery.sender import WebhookSender
from bot.delivery.telegram import TelegramAdminAlert, TelegramChannel, TelegramDigestSender
from bot.digest.aggregate import Comparison, count_submissions
from bot.digest.build import BuiltDigest, build_digest, build_placeholder, format_digest_text
from bot.digest.period import DigestSchedule, Period
from bot.digest.snapshots import Snapshot, StepRelease, closing_digest, scope_key
from bot.i18n import make_i18n
from bot.questionnaire import Questionnaire
from bot.staff.roles import StaffRoles
from bot.statuses import OutboxChannel
from storage.database import Database
from storage.inline_sqlite import in_worker_thread
from storage.repositories import (
    DigestGroupRepository,
    DigestRepository,
    OutboxRepository,
)
from storage.repositories.campaigns import Campaign
from storage.repositories.digests import DigestSnapshotRepository

logger = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[Any]]

TICK_SECONDS: Final = 60.0
STOP_GRACE_SECONDS: Final = 10.0
_KINDS: Final = ("daily", "weekly")


def campaign_period(campaign: Campaign) -> Period:
    """The campaign's whole span, from the day it opens to the day it closes."""
    return Period.campaign(campaign.opens_day, campaign.closes_day)


def campaign_comparison(previous: Campaign) -> Comparison:
    """What a campaign's trends compare with: the whole of the campaign before it."""
    return Comparison(
        "campaign",
        previous.title,
        previous.opens_day,
        previous.closes_day,
        campaign_id=previous.id,
    )


class DigestService:
    """Builds digests, keeps the one built for a period, and queues it for delivery."""

    def __init__(
        self,
        db: Database,
        cipher: TextCipher,
        questionnaire: Questionnaire,
        schedule: DigestSchedule,
        digests: DigestRepository,
        outbox: OutboxRepository,
        directory: DestinationDirectory,
        *,
        k: int,
        locale: str = "zh-CN",
        retention: timedelta | None = None,
        snapshots: DigestSnapshotRepository | None = None,
    ) -> None:
        self._db = db
        self._cipher = cipher
        self._questionnaire = questionnaire
        self.schedule = schedule
        self._digests = digests
        self._outbox = outbox
        self._directory = directory
        self._k = k
        self._locale = locale
        self._retention = retention
        self.k = k
        self._steps = StepRelease(snapshots or DigestSnapshotRepository(db, cipher), k=k)

    async def build(
        self,
        period: Period,
        *,
        campaign_id: str | None = None,
        campaign_title: str | None = None,
        questionnaire: Questionnaire | None = None,
        compare_with: Comparison | Literal["previous period"] | None = "previous period",
    ) -> BuiltDigest:
        """A fresh digest of `period` (for `--print`); not stored, not for staff while the
        period runs (see `released`). Optionally one campaign's submissions only, read with
        that campaign's questionnaire version."""
        return await build_digest(
            self._db,
            self._cipher,
            questionnaire or self._questionnaire,
            period,
            k=self._k,
            locale=self._locale,
            campaign_id=campaign_id,
            campaign_title=campaign_title,
            compare_with=compare_with,
        )

    async def released(
        self,
        period: Period,
        *,
        campaign_id: str | None = None,
        campaign_title: str | None = None,
        questionnaire: Questionnaire | None = None,
        compare_with: Comparison | Literal["previous period"] | None = "previous period",
    ) -> BuiltDigest:
        """What staff see of a running period (`/digest`): its last step, released in steps
        of K submissions (`bot.digest.snapshots`); a new step is taken here when it is due."""
        chosen = questionnaire or self._questionnaire

        async def count() -> int:
            return await count_submissions(self._db, chosen, period, campaign_id=campaign_id)

        async def build() -> BuiltDigest:
            return await self.build(
                period,
                campaign_id=campaign_id,
                campaign_title=campaign_title,
                questionnaire=chosen,
                compare_with=compare_with,
            )

        async def placeholder() -> BuiltDigest:
            return await build_placeholder(
                chosen,
                period,
                k=self._k,
                locale=self._locale,
                campaign_id=campaign_id,
                campaign_title=campaign_title,
            )

        return await self._steps.view(
            scope_key(period, campaign_id), count=count, build=build, placeholder=placeholder
        )

    async def campaign_released(
        self,
        campaign: Campaign,
        *,
        questionnaire: Questionnaire | None = None,
        previous: Campaign | None = None,
    ) -> BuiltDigest:
        """A campaign's whole span so far, as staff may see it (`/digest ID`, the report):
        released in steps of K like a running period, whether or not the campaign has
        closed, and compared with `previous` (the campaign before it) when given."""
        return await self.released(
            campaign_period(campaign),
            campaign_id=campaign.id,
            campaign_title=campaign.title,
            questionnaire=questionnaire,
            compare_with=None if previous is None else campaign_comparison(previous),
        )

    async def load(self, period_key: str) -> BuiltDigest | None:
        """The stored digest of a period, exactly as first built."""
        content = await self._digests.get(period_key)
        return None if content is None else BuiltDigest.from_json(content)

    async def stored(self, period: Period) -> BuiltDigest:
        """The period's digest, built and stored first if nobody has yet (first insert wins)."""
        existing = await self.load(period.key)
        if existing is not None:
            return existing
        built = closing_digest(await self.build(period), await self._last_step(period), k=self._k)
        if await self._digests.store_if_absent(period.key, built.to_json()):
            logger.info("digest %s built and stored", period.key)
            await self._steps.forget_period(period)
            return built
        winner = await self.load(period.key)  # another process stored it meanwhile
        if winner is None:
            raise RuntimeError(f"digest {period.key} vanished right after being stored")
        return winner

    async def _last_step(self, period: Period) -> Snapshot | None:
        try:
            return await self._steps.last(scope_key(period))
        except (DecryptionError, ValueError) as exc:
            logger.warning("digest snapshot unreadable (%s): the fresh build is kept", exc)
            return None

    async def last_built_key(self) -> str | None:
        """The stored period that ends last, whatever kind the schedule had then."""
        keys = [key for kind in _KINDS if (key := await self._digests.latest_key(f"{kind}:"))]
        if not keys:
            return None
        return max(keys, key=lambda key: Period.from_key(key).last_day)

    async def prepare_due(self, now: datetime) -> list[str]:
        """Build the periods due at `now` and queue every stored digest not queued yet.
        Returns the keys queued by this call."""
        for period in self.schedule.due_periods(now, await self.last_built_key()):
            await self.stored(period)
        queued: list[str] = []
        for period_key in await self._digests.not_enqueued():
            entries = await self._directory.outbox_entries()
            added = await self._outbox.enqueue(period_key, entries, now=now)
            await self._digests.mark_enqueued(period_key)
            logger.info("digest %s queued for %d destination(s)", period_key, added)
            queued.append(period_key)
        if self._retention is not None:
            await self.purge_before(self.schedule.today(now) - self._retention)
        return queued

    async def purge_before(self, day: date, *, dry_run: bool = False) -> int:
        """Delete stored digests of periods that ended before `day` (they may quote scrubbed
        examples, so they must not outlive RETENTION_DAYS). The latest digest is always kept:
        it is what tells the schedule which periods were already sent. `dry_run` only counts."""
        latest = await self.last_built_key()
        old = [
            key
            for key in await self._digests.keys()
            if key != latest and Period.from_key(key).last_day < day
        ]
        if dry_run:
            return len(old)
        deleted = await self._digests.delete(old)
        # Snapshots of ended periods are of no further use (the closing digest is stored).
        await self._steps.forget_ended_before(day)
        if deleted:
            logger.info("deleted %d digest(s) past retention", deleted)
        return deleted


@dataclass(frozen=True)
class TickReport:
    queued: list[str]
    delivery: PassReport


class DigestScheduler:
    """The background loop: one tick now, then one every `interval` seconds until stopped."""

    def __init__(
        self,
        service: DigestService,
        worker: OutboxWorker,
        *,
        clock: WallClock = utc_now,
        interval: float = TICK_SECONDS,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._service = service
        self._worker = worker
        self._clock = clock
        self._interval = interval
        self._sleep = sleep
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def tick(self) -> TickReport:
        """Build and queue what is due, then deliver what is due (tests call this directly)."""
        queued = await self._service.prepare_due(self._clock())
        return TickReport(queued=queued, delivery=await self._worker.run_once())

    def start(self) -> None:
        if self._task is not None and not self._task.done():
            raise RuntimeError("the digest scheduler is already running")
        self._stopping.clear()
        # A digest counts a whole period's answers: on SQLite, off the event loop.
        with in_worker_thread():
            self._task = asyncio.create_task(self._run(), name="digest-scheduler")

    async def stop(self, grace: float = STOP_GRACE_SECONDS) -> None:
        """Let a running tick finish (up to `grace` seconds), then stop the loop."""
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping.set()
        try:
            await asyncio.wait_for(asyncio.shield(task), timeout=grace)
        except TimeoutError:
            # Rows being sent stay leased and are resumed after the lease by any process.
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                report = await self.tick()
                if report.queued or report.delivery.sent or report.delivery.failed:
                    logger.info(
                        "digest tick: queued %s, sent %d, retrying %d, failed %d",
                        ",".join(report.queued) or "-",
                        report.delivery.sent,
                        report.delivery.retrying,
                        report.delivery.failed,
                    )
            except Exception as exc:
                # Type only: the text could quote a database value. The next tick tries again.
                logger.error("digest tick failed: %s", type(exc).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=self._interval)


class DigestData(TypedDict):
    """What the digest handlers (and the staff list, for its groups) receive by name."""

    digest_service: DigestService
    digest_groups: DigestGroupRepository


def telegram_sender(bot: Bot, groups: DigestGroupRepository) -> TelegramDigestSender:
    """Sends digests to a chat; follows a group that became a supergroup, keeping it
    registered."""
    return TelegramDigestSender(bot, on_migrate=groups.move)


@dataclass
class DigestRuntime:
    """The digest feature: digest groups, the digest service, and — once a `Bot` exists, at
    dispatcher start-up — the delivery loop. `roles` says who gets digests and alerts."""

    settings: Settings
    roles: StaffRoles
    groups: DigestGroupRepository
    service: DigestService
    directory: DestinationDirectory
    outbox: OutboxRepository
    webhook_sender: WebhookSender
    clock: WallClock
    run_scheduler: bool = True  # False: tests drive `tick` themselves with a fake clock
    scheduler: DigestScheduler | None = field(default=None, init=False)

    def handler_data(self) -> DigestData:
        return {"digest_service": self.service, "digest_groups": self.groups}

    def make_scheduler(self, bot: Bot, **worker_options: Any) -> DigestScheduler:
        worker = OutboxWorker(
            self.outbox,
            self.directory,
            self.service.load,
            {
                OutboxChannel.TELEGRAM: TelegramChannel(telegram_sender(bot, self.groups)),
                OutboxChannel.WEBHOOK: WebhookChannel(self.webhook_sender),
            },
            on_give_up=TelegramAdminAlert(
                bot,
                self.roles,
                make_i18n(self.settings.default_locale),
                self.settings.default_locale,
            ),
            clock=self.clock,
            **worker_options,
        )
        return DigestScheduler(self.service, worker, clock=self.clock)

    async def on_startup(self, bot: Bot) -> None:
        """Dispatcher start-up: start the loop (unless tests drive it)."""
        if self.run_scheduler and self.scheduler is None:
            self.scheduler = self.make_scheduler(bot)
            self.scheduler.start()

    async def on_shutdown(self) -> None:
        scheduler, self.scheduler = self.scheduler, None
        if scheduler is not None:
            await scheduler.stop()


def build_digest_runtime(
    settings: Settings,
    *,
    database: Database,
    cipher: TextCipher,
    pseudonymizer: Pseudonymizer,
    questionnaire: Questionnaire,
    roles: StaffRoles,
    http: httpx.AsyncClient,
    clock: WallClock,
    run_scheduler: bool = True,
) -> DigestRuntime:
    """Wire the digest feature from the process's shared pieces and the staff roles."""
    groups = DigestGroupRepository(database, zone=settings.zone)
    outbox = OutboxRepository(database)
    directory = DestinationDirectory(roles, groups, settings.digest_webhooks, pseudonymizer)
    service = DigestService(
        database,
        cipher,
        questionnaire,
        DigestSchedule.from_settings(settings),
        DigestRepository(database, cipher),
        outbox,
        directory,
        k=settings.k_anonymity,
        locale=settings.default_locale,
        retention=timedelta(days=settings.retention_days),
    )
    return DigestRuntime(
        settings=settings,
        roles=roles,
        groups=groups,
        service=service,
        directory=directory,
        outbox=outbox,
        webhook_sender=WebhookSender(http),
        clock=clock,
        run_scheduler=run_scheduler,
    )


async def digest_text(runtime: DigestRuntime, period_argument: str | None = None) -> str:
    """`python -m bot digest --print`: the period's stored digest (exactly as sent) or, if it
    was never sent, a fresh build. Default period: the latest complete one. ValueError on a
    bad `period_argument` (`YYYY-MM-DD` or a period key)."""
    service = runtime.service
    schedule = service.schedule
    if period_argument:
        period = schedule.parse_period_argument(period_argument)
    else:
        period = schedule.latest_complete(runtime.clock())
    built = await service.load(period.key) or await service.build(period)
    return format_digest_text(built)


def describe_tick(report: TickReport) -> str:
    """One line for `python -m bot digest --send` (no destination is named)."""
    delivery = report.delivery
    return (
        f"queued: {', '.join(report.queued) or 'nothing new'}; sent {delivery.sent}, "
        f"retrying {delivery.retrying}, failed {delivery.failed}, "
        f"cancelled {delivery.cancelled}"
    )
