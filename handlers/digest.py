"""Investigators' on-demand views: `/digest` (the current period so far) and `/export`.

`/digest` is for staff, `/export` for admins only (a router filter; investigators are told
so); both send with `protect_content=True`. Both take an optional
campaign id (`/digest ID`, `/export ID`): only that campaign's submissions, read with the
campaign's questionnaire version. `/digest` applies the rules of the scheduled digest (same
builder, same K) and, the period still running, the step rule on top
(`DigestService.released`): it shows the last step, which moves only once K more reports
have arrived, so two views never differ by fewer than K reports. Each view is audited
before anything is read. It goes straight to the asking chat, not through the outbox: it is
an answer, not a scheduled delivery.
"""

from __future__ import annotations

import asyncio
import tempfile
from dataclasses import dataclass
from datetime import date, timedelta
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Final

from aiogram import Bot, F, Router
from aiogram.enums import ChatAction, ChatType
from aiogram.filters import Command, CommandObject
from aiogram.types import (
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
)
from aiogram.utils.i18n import gettext as _

from bot.digest.scheduler import DigestRuntime, DigestService
from bot.digest.snapshots import scope_key
from bot.export import ExportFormat, ExportOptions, ExportResult, export_submissions
from bot.export.callbacks import ExportTextCallback
from bot.export.generalise import week_of
from bot.questionnaire import Questionnaire
from bot.respondent.survey import SurveyService
from bot.staff import StaffRoles
from bot.staff.audited import AuditedActions
from bot.staff.filters import IsAdmin
from storage.repositories.cases import AuditRepository

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
    audit: AuditRepository,
) -> None:
    if await _refuse_unless_staff(message, staff_roles):
        return
    scope = await _scope(message, command, survey)
    if scope is None or message.from_user is None:
        return
    schedule = digests.schedule
    today = schedule.today(digest_runtime.clock())
    period = schedule.period_containing(today)
    # Audited first, in its own transaction: a view that could not be audited is not built.
    await audit.record(
        message.from_user.id, "digest.view", scope_key(period, scope.campaign_id), today
    )
    await bot.send_chat_action(message.chat.id, ChatAction.TYPING)
    built = await digests.released(
        period, campaign_id=scope.campaign_id, questionnaire=scope.questionnaire
    )
    note = _(
        "The current period ({first} to {last}) as last released. Its figures move only "
        "once at least {k} new reports have arrived, so that no single report can be "
        "singled out; the scheduled digest follows when the period ends."
    )
    note = note.format(
        first=period.first_day.isoformat(), last=period.last_day.isoformat(), k=digests.k
    )
    if scope.campaign_id is not None:
        note += "\n" + _("Campaign {id} only.").format(id=escape(scope.campaign_id))
    await message.answer(note)
    result = await digest_runtime.telegram_sender(bot).send(
        message.chat.id, built.telegram_parts, built.message.chart_png, caption=built.title
    )
    if not result.ok:
        await message.answer(_("Sorry, the digest could not be sent. Please try again later."))


@dataclass(frozen=True)
class _ExportRequest:
    campaign_id: str | None
    questionnaire: Questionnaire
    with_text: bool


#: Words of `/export` that ask for free text.
_TEXT_WORDS: Final = frozenset({"text", "文字", "含文字"})


async def _export_request(
    answer: Message, campaign_id: str | None, with_text: bool, services: Services
) -> _ExportRequest | None:
    """The questionnaire of the campaign (or the configured one); None after saying that
    there is no such campaign."""
    survey = services.survey
    if campaign_id is None:
        return _ExportRequest(None, services.questionnaire, with_text)
    campaign = None if survey.campaigns is None else await survey.campaigns.get(campaign_id)
    if campaign is None:
        await answer.answer(_("No campaign {id}.").format(id=escape(campaign_id)))
        return None
    engine = await survey.engine_for(campaign.questionnaire_id, campaign.questionnaire_version)
    questionnaire = services.questionnaire if engine is None else engine.questionnaire
    return _ExportRequest(campaign.id, questionnaire, with_text)


def _export_caption(result: ExportResult, until: date, k: int, with_text: bool) -> str:
    lines = [
        _("Submissions: {count}").format(count=result.rows),
        _("Whole weeks up to {day}; every group has at least {k}.").format(
            day=(week_of(until) - timedelta(days=1)).isoformat(), k=k
        ),
    ]
    if result.pending:
        lines.append(
            _("Held back until their month has closed: {count}").format(count=result.pending)
        )
    if result.suppressed:
        lines.append(
            _("Left out (group smaller than {k}): {count}").format(k=k, count=result.suppressed)
        )
    if result.undecryptable:
        lines.append(
            _("Skipped (could not be decrypted): {count}").format(count=result.undecryptable)
        )
    if with_text:
        lines.append(_("With free text (recorded in the audit log)."))
    else:
        lines.append(_("Without free text: tap the button to include it (it is audited)."))
    return "\n".join(lines)


async def _send_export(
    bot: Bot,
    chat_id: int,
    actor_id: int,
    request: _ExportRequest,
    services: Services,
    digest_runtime: DigestRuntime,
    audited: AuditedActions,
) -> None:
    """Audit, build and send. The entry is committed before any row is read: an export that
    could not be audited is never built. The file is written in an owner-only temporary
    directory inside DATA_DIR (never a shared /tmp) and deleted once sent."""
    subject = request.campaign_id or "all"
    await audited.record(actor_id, "export.text" if request.with_text else "export", subject)
    await bot.send_chat_action(chat_id, ChatAction.UPLOAD_DOCUMENT)
    settings = services.settings
    today = digest_runtime.clock().astimezone(settings.zone).date()
    options = ExportOptions(
        until=today,
        with_text=request.with_text,
        k=settings.k_anonymity,
        campaign_id=request.campaign_id,
    )
    suffix = "-text" if request.with_text else ""
    last_day = week_of(today) - timedelta(days=1)
    filename = f"qingfeng-{last_day.isoformat()}{suffix}.{EXPORT_FORMAT}"
    with tempfile.TemporaryDirectory(dir=settings.data_dir) as directory:
        path = Path(directory) / filename
        result = await export_submissions(
            services.database,
            services.cipher,
            request.questionnaire,
            path,
            EXPORT_FORMAT,
            options,
        )
        content = await asyncio.to_thread(path.read_bytes)
    markup = None
    if not request.with_text:
        button = InlineKeyboardButton(
            text=_("With free text"),
            callback_data=ExportTextCallback(campaign=request.campaign_id or "").pack(),
        )
        markup = InlineKeyboardMarkup(inline_keyboard=[[button]])
    await bot.send_document(
        chat_id,
        BufferedInputFile(content, filename=filename),
        caption=_export_caption(result, today, settings.k_anonymity, request.with_text),
        protect_content=True,
        reply_markup=markup,
    )


async def export_command(
    message: Message,
    command: CommandObject,
    bot: Bot,
    services: Services,
    digest_runtime: DigestRuntime,
    audited: AuditedActions,
) -> None:
    """`/export [text] [CAMPAIGN]` for admins (the router's filter): closed weeks only,
    generalised to K per group; free text only when asked for, and audited."""
    assert message.from_user is not None  # IsAdmin let it through
    words = (command.args or "").split()
    with_text = any(word.lower() in _TEXT_WORDS for word in words)
    rest = [word for word in words if word.lower() not in _TEXT_WORDS]
    request = await _export_request(message, rest[0] if rest else None, with_text, services)
    if request is None:
        return
    await _send_export(
        bot, message.chat.id, message.from_user.id, request, services, digest_runtime, audited
    )


async def export_text_pressed(
    query: CallbackQuery,
    callback_data: ExportTextCallback,
    bot: Bot,
    services: Services,
    digest_runtime: DigestRuntime,
    audited: AuditedActions,
) -> None:
    """The "with free text" button under an export (admins only, checked on press)."""
    message = query.message
    if not isinstance(message, Message):
        await query.answer()
        return
    request = await _export_request(message, callback_data.campaign or None, True, services)
    await query.answer()
    if request is None:
        return
    await _send_export(
        bot, message.chat.id, query.from_user.id, request, services, digest_runtime, audited
    )


async def export_refused(message: Message) -> None:
    await message.answer(_("Only administrators can export the data."))


async def export_button_refused(query: CallbackQuery) -> None:
    await query.answer(_("Only administrators can export the data."), show_alert=True)


def create_router() -> Router:
    """A fresh Router (a Router can belong to one Dispatcher only)."""
    router = Router(name="digest")
    private = F.chat.type == ChatType.PRIVATE
    router.message.register(digest_command, Command("digest"), private)
    router.message.register(export_command, Command("export"), private, IsAdmin())
    router.message.register(export_refused, Command("export"), private)
    router.callback_query.register(export_text_pressed, ExportTextCallback.filter(), IsAdmin())
    router.callback_query.register(export_button_refused, ExportTextCallback.filter())
    return router
