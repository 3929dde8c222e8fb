"""Wiring: settings → database, keys, repositories → one factory per feature → Bot and
Dispatcher.

Each feature's factory takes its collaborators explicitly and returns an object with the
handler data it contributes, `on_startup` and `on_shutdown`. The handler data of all of them
is typed once (`bot.handler_data`) and travels in `dp.workflow_data`; nothing is global.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Protocol

import httpx
from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.session.base import BaseSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.fsm.storage.base import BaseStorage
from aiogram.fsm.storage.memory import MemoryStorage
from aiogram.fsm.storage.redis import RedisStorage
from sqlalchemy import text

from bot.anonymity.crypto import TextCipher
from bot.anonymity.keys import Keys, ensure_data_dir, load_keys_for_database
from bot.anonymity.pseudonym import Pseudonymizer
from bot.anonymity.rotation import rebind_legacy_contexts
from bot.broadcast.runtime import POLL_SECONDS, BroadcastRuntime, build_broadcast_runtime
from bot.campaigns import CampaignFeature, build_campaigns
from bot.cases import CaseRuntime, build_case_runtime
from bot.clock import WallClock, utc_now
from bot.config import Settings
from bot.conversation.feature import ConversationFeature, build_conversation
from bot.digest.scheduler import DigestRuntime, build_digest_runtime
from bot.handler_data import CoreData, WorkflowData
from bot.i18n import make_i18n
from bot.middlewares.callback_deadline import LateCallbackAnswers
from bot.middlewares.locale import LocaleMiddleware
from bot.middlewares.response_models import KeepResponseModels
from bot.middlewares.telegram_pacing import (
    MessagePacer,
    SharedMessageBudget,
    share_message_pacing,
)
from bot.middlewares.telegram_retry import RetryMiddleware
from bot.middlewares.update_chain import install_update_middlewares
from bot.questionnaire import Questionnaire, load_questionnaire
from bot.report import ReportService
from bot.respondent.feature import RespondentFeature, build_respondent
from bot.respondent.survey import SurveyService
from bot.staff.feature import StaffFeature, build_staff
from bot.staff.menus import AdminMenuOnFirstContact
from bot.startup_heap import freeze_startup_heap
from bot.web.feature import WebFeature, build_web
from bot.webhook import (
    DropReplayedUpdates,
    OrderedRedisEventIsolation,
    SeenInMemory,
    SeenInRedis,
    add_webhook_routes,
    register_webhook,
    webhook_secret,
)
from handlers import all_routers
from storage.database import Database
from storage.fsm import SqlStorage, pseudonymous_redis_storage
from storage.repositories import (
    AuditRepository,
    RateLimitRepository,
    SubmissionRepository,
    SubscriberRepository,
)
from storage.repositories.job_leases import DEFAULT_TTL, JobLeaseRepository, LeaseHolder

logger = logging.getLogger(__name__)

DEFAULT_WEB_PORT = 8080


@dataclass(frozen=True)
class FeatureOptions:
    """What tests change about the features; production runs with the defaults."""

    broadcast_progress_interval: float = 5.0
    digest_loop: bool = True  # False: tests tick the digest scheduler themselves
    retention_job: bool = True
    # Several instances: how long a dead instance's job lease lasts, and how often every
    # instance looks for broadcasts that nobody sends (tests of a killed instance shorten them).
    job_lease_seconds: float = DEFAULT_TTL.total_seconds()
    broadcast_poll_interval: float = POLL_SECONDS


@dataclass
class Services:
    """The process's shared pieces and its features, each built once by its own factory."""

    settings: Settings
    database: Database
    keys: Keys
    cipher: TextCipher
    pseudonymizer: Pseudonymizer
    questionnaire: Questionnaire
    submissions: SubmissionRepository
    rate_limits: RateLimitRepository
    subscribers: SubscriberRepository
    http: httpx.AsyncClient
    clock: WallClock
    staff: StaffFeature
    campaigns: CampaignFeature
    respondent: RespondentFeature
    digests: DigestRuntime
    cases: CaseRuntime
    conversation: ConversationFeature
    broadcasts: BroadcastRuntime

    @property
    def survey(self) -> SurveyService:
        return self.respondent.survey

    def report_service(self, today: Callable[[], date]) -> ReportService:
        """The campaign report over these services (the command line and the demo)."""
        return ReportService(
            self.digests.service,
            self.campaigns.service,
            self.survey,
            self.submissions,
            self.questionnaire,
            today=today,
        )

    def handler_data(self) -> WorkflowData:
        """Everything handlers receive by name (`bot.handler_data.HandlerData`)."""
        core: CoreData = {
            "settings": self.settings,
            "questionnaire": self.questionnaire,
            "submissions": self.submissions,
            "subscribers": self.subscribers,
            "clock": self.clock,
        }
        return {
            **core,
            **self.respondent.handler_data(),
            **self.staff.handler_data(),
            **self.campaigns.handler_data(),
            **self.digests.handler_data(),
            **self.cases.handler_data(),
            **self.conversation.handler_data(),
            **self.broadcasts.handler_data(),
        }

    def features(self) -> tuple[Feature, ...]:
        """In start-up order; they shut down in reverse."""
        return (
            self.staff,
            self.campaigns,
            self.respondent,
            self.digests,
            self.cases,
            self.conversation,
            self.broadcasts,
        )

    async def close(self) -> None:
        await self.http.aclose()
        await self.database.dispose()


class Feature(Protocol):
    """What every feature's factory returns (aiogram passes the hooks what they name)."""

    @property
    def on_startup(self) -> Callable[..., Awaitable[None]]: ...

    @property
    def on_shutdown(self) -> Callable[..., Awaitable[None]]: ...


async def build_services(
    settings: Settings,
    *,
    now: WallClock | None = None,
    options: FeatureOptions | None = None,
) -> Services:
    """Connect and migrate the database, load keys and the questionnaire, build the features.

    The database comes first: a secret file is generated only while it holds nothing written
    with the secrets (`MissingSecretError` otherwise, and the database is closed again)."""
    options = options or FeatureOptions()
    clock = now or utc_now
    ensure_data_dir(settings.data_dir)
    questionnaire = load_questionnaire(settings.questionnaire)
    database = await Database.connect(settings.resolved_database_url)
    try:
        await database.upgrade()
        keys = await load_keys_for_database(settings, database)
    except BaseException:
        await database.dispose()
        raise
    cipher = TextCipher(keys.data_key, keys.previous_data_keys)
    pseudonymizer = Pseudonymizer(keys.pseudonym_secret)
    await rebind_legacy_contexts(database, cipher)  # blobs of older versions, once
    submissions = SubmissionRepository(database, cipher)
    rate_limits = RateLimitRepository(database)
    http = httpx.AsyncClient(timeout=httpx.Timeout(15.0))
    audit = AuditRepository(database)
    # Background jobs run once across every instance on this database (a random token per
    # process names who holds a job's lease).
    leases = LeaseHolder(
        JobLeaseRepository(database),
        secrets.token_hex(16),
        clock,
        ttl=timedelta(seconds=options.job_lease_seconds),
    )

    def today() -> date:
        return clock().astimezone(settings.zone).date()

    staff = build_staff(settings, database, cipher, audit, clock=clock, today=today)
    campaigns = build_campaigns(database, staff.audited, today=today)
    respondent = build_respondent(
        settings,
        questionnaire,
        database=database,
        submissions=submissions,
        rate_limits=rate_limits,
        receipt_secret=keys.pseudonym_secret,
        campaigns=campaigns,
        clock=clock,
    )
    digests = build_digest_runtime(
        settings,
        database=database,
        cipher=cipher,
        pseudonymizer=pseudonymizer,
        questionnaire=questionnaire,
        roles=staff.roles,
        http=http,
        clock=clock,
        run_scheduler=options.digest_loop,
    )
    cases = build_case_runtime(
        settings,
        database=database,
        cipher=cipher,
        pseudonymizer=pseudonymizer,
        receipt_secret=keys.pseudonym_secret,
        submissions=submissions,
        rate_limits=rate_limits,
        audit=audit,
        digests=digests.service,
        clock=clock,
        run_retention=options.retention_job,
        leases=leases,
    )
    conversation = build_conversation(
        survey=respondent.survey,
        followup=cases.followup,
        sessions=cases.sessions,
        pseudonymizer=pseudonymizer,
        k_anonymity=settings.k_anonymity,
    )
    broadcasts = build_broadcast_runtime(
        settings,
        database,
        cipher,
        staff.audited,
        progress_interval=options.broadcast_progress_interval,
        leases=leases,
        poll_interval=options.broadcast_poll_interval,
    )
    return Services(
        settings=settings,
        database=database,
        keys=keys,
        cipher=cipher,
        pseudonymizer=pseudonymizer,
        questionnaire=questionnaire,
        submissions=submissions,
        rate_limits=rate_limits,
        subscribers=SubscriberRepository(
            database, cipher, pseudonymizer, zone=settings.zone, now=now
        ),
        http=http,
        clock=clock,
        staff=staff,
        campaigns=campaigns,
        respondent=respondent,
        digests=digests,
        cases=cases,
        conversation=conversation,
        broadcasts=broadcasts,
    )


def build_fsm_storage(services: Services) -> BaseStorage:
    """The FSM storage chosen by FSM_STORAGE; all of them key by pseudonym and expire."""
    settings = services.settings
    if settings.fsm_storage == "redis":
        return pseudonymous_redis_storage(
            settings.redis_url, services.pseudonymizer, services.cipher, settings.draft_ttl
        )
    if settings.fsm_storage == "memory":
        return MemoryStorage()
    return SqlStorage(
        services.database,
        services.pseudonymizer,
        services.cipher,
        ttl=settings.draft_ttl,
        write_delay=settings.fsm_write_delay,
    )


def create_bot(settings: Settings, *, session: AiohttpSession | None = None) -> Bot:
    """A Bot pointed at TELEGRAM_API_URL, HTML by default, that copes with Telegram's pushback.

    Outermost first: late callback answers are dropped quietly, 429 and transient failures are
    retried, and every retry queues again for the overall message rate.
    """
    if session is None:
        session = AiohttpSession(api=TelegramAPIServer.from_base(settings.telegram_api_url))
    add_request_middlewares(session)
    token = settings.bot_token.get_secret_value() if settings.bot_token else ""
    return Bot(token, session=session, default=DefaultBotProperties(parse_mode=ParseMode.HTML))


def add_request_middlewares(session: BaseSession, *, pace: bool = True) -> None:
    """The Bot API session's middlewares, outermost first. Without `pace` (the conversation
    benchmark) nothing waits for Telegram's rates: that is time spent waiting, not working."""
    session.middleware(KeepResponseModels())
    session.middleware(LateCallbackAnswers())
    session.middleware(RetryMiddleware())
    if pace:
        session.middleware(MessagePacer())


def create_dispatcher(
    services: Services,
    *,
    storage: BaseStorage | None = None,
    replays: DropReplayedUpdates | None = None,
) -> Dispatcher:
    """The Dispatcher with all routers, middlewares, handler data and feature hooks.

    On Redis, one chat's updates are handled one at a time across every instance (the lock
    is keyed by the storage's pseudonymous key). `replays` (webhook mode): an update id
    already handled, here or by another instance on the same Redis, is skipped."""
    settings = services.settings
    fsm = storage or build_fsm_storage(services)
    isolation = (
        OrderedRedisEventIsolation(fsm.redis, fsm.key_builder)
        if isinstance(fsm, RedisStorage)
        else None
    )
    dp = Dispatcher(storage=fsm, events_isolation=isolation)
    dp.workflow_data.update(services.handler_data())
    install_update_middlewares(dp, replays=replays)
    LocaleMiddleware(
        make_i18n(settings.default_locale), services.subscribers, settings.default_locale
    ).setup(dp)
    dp.include_routers(*all_routers())
    staff = services.staff
    dp.message.outer_middleware(AdminMenuOnFirstContact(staff.menus, staff.roles))
    features = services.features()
    for feature in features:
        dp.startup.register(feature.on_startup)
    for feature in reversed(features):
        dp.shutdown.register(feature.on_shutdown)
    return dp


def build_web_channel(services: Services, storage: BaseStorage) -> WebFeature:
    """The web channel on the same core, storage and services as Telegram's."""
    settings = services.settings

    def today() -> date:
        return services.clock().astimezone(settings.zone).date()

    if isinstance(storage, SqlStorage):  # the web channel batches its own writes
        storage = storage.written_at_once()
    return build_web(
        settings,
        conversation=services.conversation.conversation,
        storage=storage,
        pseudonymizer=services.pseudonymizer,
        campaigns=services.campaigns.service,
        submissions=services.submissions,
        today=today,
    )


def _stop_on_signals(stop_event: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # non-Unix
            loop.add_signal_handler(sig, stop_event.set)


async def run_polling(settings: Settings, *, stop: asyncio.Event | None = None) -> None:
    """Poll until SIGINT/SIGTERM (or `stop`), then close everything cleanly; the web
    channel is served beside it when WEB_PORT is set."""
    services = await build_services(settings)
    bot = create_bot(settings)
    storage = build_fsm_storage(services)
    dp = create_dispatcher(services, storage=storage)
    stop_event = stop or asyncio.Event()
    _stop_on_signals(stop_event)
    web_channel: WebFeature | None = None
    if settings.web_port is not None:
        web_channel = build_web_channel(services, storage)
        await web_channel.serve(settings.web_host, settings.web_port)
    freeze_startup_heap()
    polling = asyncio.create_task(
        dp.start_polling(bot, handle_signals=False, close_bot_session=True)
    )
    waiter = asyncio.create_task(stop_event.wait())
    try:
        await asyncio.wait({polling, waiter}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        if web_channel is not None:  # first: its last steps go to the storage polling closes
            await web_channel.stop()
        if not polling.done():
            await dp.stop_polling()
            await polling
        waiter.cancel()
        await services.close()
        logger.info("Stopped cleanly")


def readiness_check(services: Services, storage: BaseStorage) -> Callable[[], Awaitable[bool]]:
    """Ready when the database answers, and Redis too when the FSM lives there."""

    async def ready() -> bool:
        async with services.database.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        if isinstance(storage, RedisStorage):
            await storage.redis.ping()
        return True

    return ready


@dataclass
class WebhookInstance:
    """One instance in webhook mode: its services, bot, dispatcher and the server that
    carries the webhook, the web chat, /healthz and /readyz."""

    services: Services
    bot: Bot
    dispatcher: Dispatcher
    web: WebFeature
    port: int = 0

    async def stop(self) -> None:
        """Stop serving (the dispatcher's shutdown runs with the application's), then close
        the services. The webhook stays registered: the other instances carry on."""
        await self.web.stop()
        await self.services.close()


async def start_webhook_instance(
    settings: Settings,
    *,
    port: int | None = None,
    bot: Bot | None = None,
    now: Callable[[], datetime] | None = None,
    options: FeatureOptions | None = None,
) -> WebhookInstance:
    """Build and serve one webhook instance, register the webhook (the same call from every
    replica), and return it; `port` 0 takes any free port (tests)."""
    if settings.webhook_url is None:
        raise ValueError("webhook mode needs WEBHOOK_URL")
    services = await build_services(settings, now=now, options=options)
    bot = bot or create_bot(settings)
    storage = build_fsm_storage(services)
    seen = SeenInRedis(storage.redis) if isinstance(storage, RedisStorage) else SeenInMemory()
    if isinstance(storage, RedisStorage):  # the instances share Telegram's rate for this bot
        share_message_pacing(bot, SharedMessageBudget(storage.redis, bot.id))
    replays = DropReplayedUpdates(seen)
    dp = create_dispatcher(services, storage=storage, replays=replays)
    web_channel = build_web_channel(services, storage)
    secret = webhook_secret(settings, services.pseudonymizer)
    add_webhook_routes(
        web_channel.app,
        dp,
        bot,
        path=settings.webhook_path,
        secret=secret,
        ready=readiness_check(services, storage),
        replays=replays,
    )
    wanted = port if port is not None else settings.web_port or DEFAULT_WEB_PORT
    listening = await web_channel.serve(settings.web_host, wanted)
    await register_webhook(bot, settings, secret, dp)
    return WebhookInstance(services, bot, dp, web_channel, listening)


async def run_webhook(settings: Settings, *, stop: asyncio.Event | None = None) -> None:
    """Serve Telegram's webhook beside the web chat until SIGINT/SIGTERM (or `stop`)."""
    stop_event = stop or asyncio.Event()
    _stop_on_signals(stop_event)
    instance = await start_webhook_instance(settings)
    freeze_startup_heap()
    try:
        await stop_event.wait()
    finally:
        await instance.stop()
        logger.info("Stopped cleanly")


async def run_web(
    settings: Settings,
    *,
    stop: asyncio.Event | None = None,
    ready: Callable[[int], None] | None = None,
    port: int | None = None,
) -> None:
    """Serve the web channel alone (no BOT_TOKEN needed) until SIGINT/SIGTERM (or `stop`).

    The jobs that keep the anonymity promises (draft and report purges) run here too;
    digests and broadcasts, which go out through Telegram, run with `run`."""
    services = await build_services(settings)
    storage = build_fsm_storage(services)
    stop_event = stop or asyncio.Event()
    _stop_on_signals(stop_event)
    web_only = (services.campaigns, services.respondent, services.cases, services.conversation)
    for feature in web_only:
        await feature.on_startup()
    web_channel = build_web_channel(services, storage)
    try:
        wanted = port if port is not None else settings.web_port or DEFAULT_WEB_PORT
        listening = await web_channel.serve(settings.web_host, wanted)
        freeze_startup_heap()
        if ready is not None:
            ready(listening)
        await stop_event.wait()
    finally:
        await web_channel.stop()
        for feature in reversed(web_only):
            await feature.on_shutdown()
        await storage.close()
        await services.close()
        logger.info("Stopped cleanly")
