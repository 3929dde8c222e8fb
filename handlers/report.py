"""`/report ID` for staff: the campaign's report as a Word document.

The figures are the campaign's last released step (`DigestService.campaign_released`), never
a fresh build, and the quotes are only those staff marked (`bot.report`). The view is audited
before anything is read; the file is protected from forwarding unless
EXPORT_PROTECT_CONTENT is off, like exports.
"""

from __future__ import annotations

import asyncio
from datetime import date
from html import escape
from typing import Final

from aiogram import Bot, Router
from aiogram.enums import ChatAction
from aiogram.filters import Command, CommandObject
from aiogram.types import BufferedInputFile, Message
from aiogram.utils.i18n import gettext as _

from bot.campaigns import CampaignService
from bot.clock import WallClock
from bot.config import Settings
from bot.digest.scheduler import DigestService
from bot.questionnaire import Questionnaire
from bot.report import ReportService, write_docx
from bot.respondent.survey import SurveyService
from bot.staff.filters import IsStaff, PrivateChat, restricted
from storage.repositories import SubmissionRepository
from storage.repositories.cases import AuditRepository

CAPTION_TITLE_MAX: Final = 200
"""A campaign title in the caption is cut here: a caption holds at most 1024 characters."""


async def report_command(
    message: Message,
    command: CommandObject,
    bot: Bot,
    digest_service: DigestService,
    campaigns: CampaignService,
    survey: SurveyService,
    submissions: SubmissionRepository,
    questionnaire: Questionnaire,
    audit: AuditRepository,
    settings: Settings,
    clock: WallClock,
    locale: str,
) -> None:
    """`/report ID` for staff (the router's filter)."""
    if message.from_user is None:
        return
    typed = (command.args or "").strip()
    if not typed:
        await message.answer(_("Usage: /report ID (the campaign's id, see /campaign)."))
        return

    def today() -> date:
        return clock().astimezone(settings.zone).date()

    reports = ReportService(
        digest_service, campaigns, survey, submissions, questionnaire, today=today
    )
    campaign = await reports.campaign(typed)
    if campaign is None:
        await message.answer(_("No campaign {id}.").format(id=escape(typed[:64])))
        return
    # Audited first, in its own transaction: a report that could not be audited is not built.
    await audit.record(message.from_user.id, "report.view", campaign.id, today())
    await bot.send_chat_action(message.chat.id, ChatAction.UPLOAD_DOCUMENT)
    report = await reports.report(campaign, locale=locale)
    content = await asyncio.to_thread(write_docx, report)
    await message.answer_document(
        BufferedInputFile(content, filename=f"report-{campaign.id}.docx"),
        caption=_("The report on campaign {title} (draft), from its last released figures.").format(
            title=escape((campaign.title or campaign.id)[:CAPTION_TITLE_MAX])
        ),
        protect_content=settings.export_protect_content,
    )


async def report_refused(message: Message) -> None:
    await message.answer(_("This command is for investigators."))


def create_router() -> Router:
    """A fresh Router: `/report` for staff, then the refusal for everyone else."""
    staff = restricted("report.staff", IsStaff(), messages=Command("report"))
    staff.message.register(report_command, Command("report"))
    refusals = Router(name="report.refusals")
    refusals.message.register(report_refused, Command("report"), PrivateChat())
    router = Router(name="report")
    router.include_routers(staff, refusals)
    return router
