"""Investigators' on-demand views: `/digest` (the current period so far) and `/export`.

Both are for staff only and both send with `protect_content=True`. Both take an optional
campaign id (`/digest ID`, `/export ID`): only that campaign's submissions, read with the
campaign's questionnaire version. `/digest` applies exactly
the rules of the scheduled digest (same builder, same K) and goes straight to the asking chat,
not through the outbox: it is an answer, not a scheduled delivery.
"""

from __future__ import annotations

import asyncio
import tempfile
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Final

from aiogram import Bot, F, Router
from aiogram.enums import ChatAction, ChatType
from aiogram.filters import Command, CommandObject
from aiogram.types import BufferedInputFile, Message
from aiogram.utils.i18n import gettext as _

from bot.digest.scheduler import DigestRuntime, DigestService
from bot.export import ExportFormat, export_submissions
from bot.questionnaire import Questionnaire
from bot.respondent.survey import SurveyService
from bot.staff import StaffRoles

if TYPE_CHECKING:
    from bot.app import Services

EXPORT_FORMAT: Final[ExportFormat] = "xlsx"


async def _refuse_unless_staff(message: Message, staff_roles: StaffRoles) -> bool:
    if message.from_user is not None and await staff_roles.is_staff(message.from_user.id):
        return False
    await message.answer(_("This command is for investigators."))
    return True


@dataclass(frozen=True)
class _Scope:
    campaign_id: str | None = None
    questionnaire: Questionnaire | None = None  # None: the configured questionnaire


async def _scope(message: Message, command: CommandObject, survey: SurveyService) -> _Scope | None:
    """The optional campaign argument; None (after saying so) when there is no such campaign."""
    words = (command.args or "").split()
    if not words:
        return _Scope()
    campaign_id = words[0]
    campaign = None if survey.campaigns is None else await survey.campaigns.get(campaign_id)
    if campaign is None:
        await message.answer(_("No campaign {id}.").format(id=escape(campaign_id)))
        return None
    engine = await survey.engine_for(campaign.questionnaire_id, campaign.questionnaire_version)
    return _Scope(campaign.id, None if engine is None else engine.questionnaire)


async def digest_command(
    message: Message,
    command: CommandObject,
    bot: Bot,
    staff_roles: StaffRoles,
    digests: DigestService,
    digest_runtime: DigestRuntime,
    survey: SurveyService,
) -> None:
    if await _refuse_unless_staff(message, staff_roles):
        return
    scope = await _scope(message, command, survey)
    if scope is None:
        return
    schedule = digests.schedule
    period = schedule.period_containing(schedule.today(digest_runtime.clock()))
    await bot.send_chat_action(message.chat.id, ChatAction.TYPING)
    built = await digests.build(
        period, campaign_id=scope.campaign_id, questionnaire=scope.questionnaire
    )
    note = _("The current period so far ({first} to {last}); the scheduled digest follows it.")
    note = note.format(first=period.first_day.isoformat(), last=period.last_day.isoformat())
    if scope.campaign_id is not None:
        note += "\n" + _("Campaign {id} only.").format(id=escape(scope.campaign_id))
    await message.answer(note)
    result = await digest_runtime.telegram_sender(bot).send(
        message.chat.id, built.telegram_parts, built.message.chart_png, caption=built.title
    )
    if not result.ok:
        await message.answer(_("Sorry, the digest could not be sent. Please try again later."))


async def export_command(
    message: Message,
    command: CommandObject,
    bot: Bot,
    staff_roles: StaffRoles,
    services: Services,
    digest_runtime: DigestRuntime,
) -> None:
    """All submissions (or one campaign's) as XLSX. The file is written in an owner-only
    temporary directory inside DATA_DIR (never a shared /tmp) and deleted once sent."""
    if await _refuse_unless_staff(message, staff_roles):
        return
    scope = await _scope(message, command, services.survey)
    if scope is None:
        return
    await bot.send_chat_action(message.chat.id, ChatAction.UPLOAD_DOCUMENT)
    day = digest_runtime.clock().astimezone(services.settings.zone).date().isoformat()
    filename = f"qingfeng-{day}.{EXPORT_FORMAT}"
    with tempfile.TemporaryDirectory(dir=services.settings.data_dir) as directory:
        path = Path(directory) / filename
        count = await export_submissions(
            services.database,
            services.cipher,
            scope.questionnaire or services.questionnaire,
            path,
            EXPORT_FORMAT,
            campaign_id=scope.campaign_id,
        )
        content = await asyncio.to_thread(path.read_bytes)
    await message.answer_document(
        BufferedInputFile(content, filename=filename),
        caption=_("Submissions: {count}").format(count=count),
        protect_content=True,
    )


def create_router() -> Router:
    """A fresh Router (a Router can belong to one Dispatcher only)."""
    router = Router(name="digest")
    private = F.chat.type == ChatType.PRIVATE
    router.message.register(digest_command, Command("digest"), private)
    router.message.register(export_command, Command("export"), private)
    return router
