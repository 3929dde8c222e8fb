"""The web channel, built once per process from the same services as Telegram's, and the
server that runs it (no access log: the runner is made without one)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from aiogram.fsm.storage.base import BaseStorage
from aiohttp import web

from bot.anonymity.pseudonym import Pseudonymizer
from bot.campaigns.service import CampaignService
from bot.config import Settings
from bot.conversation.core import Conversation
from bot.web.app import WebRoutes, create_web_app
from bot.web.channel import WebChannel
from bot.web.limits import ActionRate, AddressLimiter
from bot.web.proof_of_work import ProofOfWork
from bot.web.sessions import WebSessions
from storage.repositories import SubmissionRepository

logger = logging.getLogger(__name__)


@dataclass
class WebFeature:
    channel: WebChannel
    app: web.Application
    runner: web.AppRunner | None = None
    port: int | None = None

    async def serve(self, host: str, port: int) -> int:
        """Listen on host:port (0: any free port); returns the port."""
        self.runner = web.AppRunner(self.app, access_log=None, handle_signals=False)
        await self.runner.setup()
        site = web.TCPSite(self.runner, host, port)
        await site.start()
        addresses = self.runner.addresses
        self.port = int(addresses[0][1]) if addresses else port
        logger.info("Web channel listening on port %s", self.port)
        return self.port

    async def stop(self) -> None:
        """Stop listening, then write the sessions' last steps."""
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None
        await self.channel.sessions.close()


def build_web(
    settings: Settings,
    *,
    conversation: Conversation,
    storage: BaseStorage,
    pseudonymizer: Pseudonymizer,
    campaigns: CampaignService,
    submissions: SubmissionRepository,
    today: Callable[[], date],
) -> WebFeature:
    sessions = WebSessions(storage, pseudonymizer)

    async def find_campaign(campaign_id: str) -> str | None:
        """The stored id of the campaign a link names, read as `CampaignService.get` reads
        what an admin types (any case, spaces, full-width digits); None when there is none."""
        campaign = await campaigns.get(campaign_id)
        return None if campaign is None else campaign.id

    async def campaign_open(campaign_id: str) -> bool:
        current = await campaigns.current(today())
        return current is not None and current.id == campaign_id

    async def current_campaign() -> str | None:
        current = await campaigns.current(today())
        return None if current is None else current.id

    async def campaign_full() -> bool:
        cap = settings.web_campaign_daily_cap
        if cap <= 0:
            return False
        return await submissions.count_on(today(), await current_campaign()) >= cap

    channel = WebChannel(
        conversation,
        sessions,
        rate=ActionRate(settings.web_session_actions_per_minute),
        campaign_open=campaign_open,
        campaign_full=campaign_full,
        draft_hours=max(1, round(settings.draft_ttl.total_seconds() / 3600)),
        today=today,
    )
    routes = WebRoutes(
        channel,
        ProofOfWork(settings.web_pow_max_number),
        AddressLimiter(settings.web_address_sessions_per_hour, today=today),
        trusted_proxy_header=settings.web_trusted_proxy_header,
        find_campaign=find_campaign,
        campaign_full=campaign_full,
    )
    return WebFeature(channel, create_web_app(routes))
