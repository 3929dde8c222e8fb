"""Wiring: settings → database, keys, repositories → Bot and Dispatcher.

Dependencies travel in `dp.workflow_data` (handlers receive them by name); nothing is global.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.fsm.storage.base import BaseStorage
from aiogram.fsm.storage.memory import MemoryStorage

from bot.anonymity.crypto import TextCipher
from bot.anonymity.keys import Keys, ensure_data_dir, load_keys_for_database
from bot.anonymity.pseudonym import Pseudonymizer
from bot.anonymity.rotation import rebind_legacy_contexts
from bot.command_menu import AdminMenuOnFirstContact, CommandMenus
from bot.config import Settings
from bot.digest.scheduler import DigestRuntime, build_digest_runtime
from bot.i18n import make_i18n
from bot.middlewares.callback_deadline import CallbackAnswerDeadline, LateCallbackAnswers
from bot.middlewares.locale import LocaleMiddleware
from bot.middlewares.ordering import ChatOrderingMiddleware
from bot.middlewares.response_models import KeepResponseModels
from bot.middlewares.telegram_pacing import MessagePacer
from bot.middlewares.telegram_retry import RetryMiddleware
from bot.questionnaire import Questionnaire, load_questionnaire
from bot.respondent.survey import SurveyService
from storage.database import Database
from storage.fsm import SqlStorage, pseudonymous_redis_storage
from storage.repositories import (
    RateLimitRepository,
    StaffRepository,
    SubmissionRepository,
    SubscriberRepository,
)

logger = logging.getLogger(__name__)


@dataclass
class Services:
    """Everything a handler may need, built once per process."""

    settings: Settings
    database: Database
    keys: Keys
    cipher: TextCipher
    pseudonymizer: Pseudonymizer
    questionnaire: Questionnaire
    submissions: SubmissionRepository
    rate_limits: RateLimitRepository
    subscribers: SubscriberRepository
    staff: StaffRepository
    survey: SurveyService
    http: httpx.AsyncClient
    digests: DigestRuntime  # staff, invites, digest groups, digest schedule (issue 4)
    extra: dict[str, Any] = field(default_factory=dict)

    async def close(self) -> None:
        await self.http.aclose()
        await self.database.dispose()


async def build_services(
    settings: Settings, *, now: Callable[[], datetime] | None = None
) -> Services:
    """Connect and migrate the database, load keys and the questionnaire.

    The database comes first: a secret file is generated only while it holds nothing written
    with the secrets (`MissingSecretError` otherwise, and the database is closed again)."""
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
    survey = SurveyService(
        questionnaire,
        submissions,
        rate_limits,
        pseudonymizer,
        keys.pseudonym_secret,
        max_per_day=settings.max_submissions_per_day,
        zone=settings.zone,
        now=now,
    )
    staff = StaffRepository(database, zone=settings.zone)
    http = httpx.AsyncClient(timeout=httpx.Timeout(15.0))
    digests = build_digest_runtime(
        settings,
        database=database,
        cipher=cipher,
        pseudonymizer=pseudonymizer,
        questionnaire=questionnaire,
        staff=staff,
        http=http,
        clock=now,
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
        staff=staff,
        survey=survey,
        http=http,
        digests=digests,
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
        services.database, services.pseudonymizer, services.cipher, ttl=settings.draft_ttl
    )


def create_bot(settings: Settings, *, session: AiohttpSession | None = None) -> Bot:
    """A Bot pointed at TELEGRAM_API_URL, HTML by default, that copes with Telegram's pushback.

    Outermost first: late callback answers are dropped quietly, 429 and transient failures are
    retried, and every retry queues again for the overall message rate.
    """
    if session is None:
        session = AiohttpSession(api=TelegramAPIServer.from_base(settings.telegram_api_url))
    session.middleware(KeepResponseModels())
    session.middleware(LateCallbackAnswers())
    session.middleware(RetryMiddleware())
    session.middleware(MessagePacer())
    token = settings.bot_token.get_secret_value() if settings.bot_token else ""
    return Bot(token, session=session, default=DefaultBotProperties(parse_mode=ParseMode.HTML))


def create_dispatcher(services: Services, *, storage: BaseStorage | None = None) -> Dispatcher:
    """The Dispatcher with all routers, middlewares and injected services."""
    from handlers import all_routers

    settings = services.settings
    dp = Dispatcher(storage=storage or build_fsm_storage(services))
    dp.workflow_data.update(
        settings=settings,
        services=services,
        survey=services.survey,
        subscribers=services.subscribers,
        staff=services.staff,
        submissions=services.submissions,
        questionnaire=services.questionnaire,
        http=services.http,
        **services.extra,
    )
    # Outermost: the deadline counts the time spent queued behind the same chat's updates too.
    dp.update.outer_middleware(CallbackAnswerDeadline())
    ordering = ChatOrderingMiddleware()
    dp.update.outer_middleware(ordering)
    dp.workflow_data["ordering"] = ordering
    LocaleMiddleware(
        make_i18n(settings.default_locale), services.subscribers, settings.default_locale
    ).setup(dp)
    dp.include_routers(*all_routers())
    menus = CommandMenus(settings.default_locale)
    dp.workflow_data["command_menus"] = menus
    dp.message.outer_middleware(AdminMenuOnFirstContact(menus, services.digests.roles))

    async def register_menus(bot: Bot) -> None:
        await menus.register(bot, services.digests.roles)

    dp.startup.register(register_menus)
    # Digests for investigators (issue 4): staff services for handlers, the schedule loop.
    dp.workflow_data.update(services.digests.handler_data())
    dp.startup.register(services.digests.on_startup)
    dp.shutdown.register(services.digests.on_shutdown)
    # Follow-up, cases and the daily retention job (issue 5).
    from bot.cases import build_case_runtime

    case_runtime = build_case_runtime(services)
    dp.workflow_data.update(case_runtime.handler_data())
    # Staff actions commit together with their audit entry (one transaction per use case).
    from bot.staff.audited import AuditedActions

    dp.workflow_data["audited"] = AuditedActions(
        services.database, case_runtime.audit, services.survey.today
    )
    dp.startup.register(case_runtime.on_startup)
    dp.shutdown.register(case_runtime.on_shutdown)
    # Broadcasts to subscribers (issue 6): /broadcast, the sender, resume after a restart.
    from bot.broadcast.runtime import build_broadcast_runtime

    broadcast_runtime = build_broadcast_runtime(services)
    dp.workflow_data.update(broadcast_runtime.handler_data())
    dp.startup.register(broadcast_runtime.on_startup)
    dp.shutdown.register(broadcast_runtime.on_shutdown)
    # Campaigns (issue 6): with none defined the configured questionnaire stays open.
    from storage.repositories.campaigns import CampaignRepository

    services.survey.campaigns = CampaignRepository(services.database)
    dp.workflow_data["campaigns"] = services.survey.campaigns
    from storage.repositories.questionnaire_versions import QuestionnaireVersionRepository

    services.survey.versions = QuestionnaireVersionRepository(services.database)
    dp.workflow_data["questionnaire_versions"] = services.survey.versions
    return dp


async def run_polling(settings: Settings, *, stop: asyncio.Event | None = None) -> None:
    """Poll until SIGINT/SIGTERM (or `stop`), then close everything cleanly."""
    services = await build_services(settings)
    bot = create_bot(settings)
    dp = create_dispatcher(services)
    stop_event = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # non-Unix
            loop.add_signal_handler(sig, stop_event.set)
    polling = asyncio.create_task(
        dp.start_polling(bot, handle_signals=False, close_bot_session=True)
    )
    waiter = asyncio.create_task(stop_event.wait())
    try:
        await asyncio.wait({polling, waiter}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        if not polling.done():
            await dp.stop_polling()
            await polling
        waiter.cancel()
        await services.close()
        logger.info("Stopped cleanly")
