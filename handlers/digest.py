"""Investigators' on-demand views: `/digest` (the current period so far) and `/export`.

`/digest` is for staff, `/export` for admins only (router filters; everyone else is told
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

from dataclasses import dataclass
from datetime import date, timedelta
from html import escape
from typing import Final

from aiogram import Bot, Router
from aiogram.enums import ChatAction
from aiogram.filters import Command, CommandObject
from aiogram.types import (
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
)
from aiogram.utils.i18n import gettext as _

from bot.campaigns import CampaignService
from bot.clock import WallClock
from bot.config import Settings
from bot.digest.scheduler import DigestService, campaign_period, telegram_sender
from bot.digest.snapshots import scope_key
from bot.export import EXPORT_FORMATS, ExportFormat, ExportResult
from bot.export.callbacks import ExportTextCallback
from bot.export.generalise import week_of
from bot.questionnaire import Questionnaire
from bot.respondent.survey import SurveyService
from bot.staff.exports import StaffExports
from bot.staff.filters import IsAdmin, IsStaff, PrivateChat, restricted
from storage.repositories import DigestGroupRepository
from storage.repositories.campaigns import Campaign
from storage.repositories.cases import AuditRepository


@dataclass(frozen=True)
class _Scope:
    campaign: Campaign | None = None
    questionnaire: Questionnaire | None = None  # None: the configured questionnaire

    @property
    def campaign_id(self) -> str | None:
        return None if self.campaign is None else self.campaign.id


async def _campaign_scope(
    answer: Message, campaign_id: str, campaigns: CampaignService, survey: SurveyService
) -> _Scope | None:
    """The campaign and its questionnaire version (None: the version is not stored); None
    after saying that there is no such campaign."""
    campaign = await campaigns.get(campaign_id)
    if campaign is None:
        await answer.answer(_("No campaign {id}.").format(id=escape(campaign_id[:64])))
        return None
    engine = await survey.engine_for(campaign.questionnaire_id, campaign.questionnaire_version)
    return _Scope(campaign, None if engine is None else engine.questionnaire)


async def digest_command(
    message: Message,
    command: CommandObject,
    bot: Bot,
    digest_service: DigestService,
    digest_groups: DigestGroupRepository,
    campaigns: CampaignService,
    survey: SurveyService,
    audit: AuditRepository,
    clock: WallClock,
) -> None:
    """`/digest [CAMPAIGN]` for staff (the router's filter)."""
    typed = (command.args or "").strip()  # the campaign id; its spaces are ignored
    scope = await _campaign_scope(message, typed, campaigns, survey) if typed else _Scope()
    if scope is None or message.from_user is None:
        return
    schedule = digest_service.schedule
    today = schedule.today(clock())
    campaign = scope.campaign
    period = schedule.period_containing(today) if campaign is None else campaign_period(campaign)
    # Audited first, in its own transaction: a view that could not be audited is not built.
    await audit.record(
        message.from_user.id, "digest.view", scope_key(period, scope.campaign_id), today
    )
    await bot.send_chat_action(message.chat.id, ChatAction.TYPING)
    if campaign is None:
        built = await digest_service.released(period)
        note = _(
            "The current period ({first} to {last}) as last released. Its figures move only "
            "once at least {k} new reports have arrived, so that no single report can be "
            "singled out; the scheduled digest follows when the period ends."
        )
    else:
        built = await digest_service.campaign_released(
            campaign,
            questionnaire=scope.questionnaire,
            previous=await campaigns.previous(campaign),
        )
        note = _(
            "The whole campaign so far ({first} to {last}), as last released. Its figures "
            "move only once at least {k} new reports have arrived, so that no single report "
            "can be singled out."
        )
    note = note.format(
        first=period.first_day.isoformat(), last=period.last_day.isoformat(), k=digest_service.k
    )
    await message.answer(note)
    result = await telegram_sender(bot, digest_groups).send(
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
#: Words of `/export` that choose the file format (XLSX unless one is given).
_FORMAT_WORDS: Final[dict[str, ExportFormat]] = {
    "xlsx": "xlsx",
    "excel": "xlsx",
    "csv": "csv",
    "sav": "sav",
    "spss": "sav",
}


def _export_format(word: str) -> ExportFormat:
    """A format word of `/export` or a button's format; XLSX for anything else."""
    chosen = _FORMAT_WORDS.get(word.lower(), "xlsx")
    return chosen if chosen in EXPORT_FORMATS else "xlsx"


async def _export_request(
    answer: Message,
    campaign_id: str | None,
    with_text: bool,
    questionnaire: Questionnaire,
    campaigns: CampaignService,
    survey: SurveyService,
) -> _ExportRequest | None:
    """The questionnaire of the campaign (or the configured one); None after saying that
    there is no such campaign."""
    if campaign_id is None:
        return _ExportRequest(None, questionnaire, with_text)
    scope = await _campaign_scope(answer, campaign_id, campaigns, survey)
    if scope is None:
        return None
    chosen = questionnaire if scope.questionnaire is None else scope.questionnaire
    return _ExportRequest(scope.campaign_id, chosen, with_text)


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
    exports: StaffExports,
    settings: Settings,
    fmt: ExportFormat,
) -> None:
    """Audit, build and send (see `StaffExports.build`); a CSV or SAV export is followed by
    its codebook. Both are protected unless EXPORT_PROTECT_CONTENT is off."""
    await bot.send_chat_action(chat_id, ChatAction.UPLOAD_DOCUMENT)
    built = await exports.build(
        actor_id,
        request.questionnaire,
        campaign_id=request.campaign_id,
        with_text=request.with_text,
        fmt=fmt,
    )
    markup = None
    if not request.with_text:
        button = InlineKeyboardButton(
            text=_("With free text"),
            callback_data=ExportTextCallback(campaign=request.campaign_id or "", fmt=fmt).pack(),
        )
        markup = InlineKeyboardMarkup(inline_keyboard=[[button]])
    protect = settings.export_protect_content
    await bot.send_document(
        chat_id,
        BufferedInputFile(built.content, filename=built.filename),
        caption=_export_caption(built.result, built.today, settings.k_anonymity, request.with_text),
        protect_content=protect,
        reply_markup=markup,
    )
    for name, content in built.companions:
        await bot.send_document(
            chat_id, BufferedInputFile(content, filename=name), protect_content=protect
        )


async def export_command(
    message: Message,
    command: CommandObject,
    bot: Bot,
    questionnaire: Questionnaire,
    campaigns: CampaignService,
    survey: SurveyService,
    exports: StaffExports,
    settings: Settings,
) -> None:
    """`/export [text] [xlsx|csv|sav] [CAMPAIGN]` for admins (the router's filter): closed
    weeks only, generalised to K per group; free text only when asked for, and audited."""
    assert message.from_user is not None  # IsAdmin let it through
    words = (command.args or "").split()
    with_text = any(word.lower() in _TEXT_WORDS for word in words)
    formats = [word for word in words if word.lower() in _FORMAT_WORDS]
    fmt = _export_format(formats[-1]) if formats else "xlsx"
    rest = [
        word
        for word in words
        if word.lower() not in _TEXT_WORDS and word.lower() not in _FORMAT_WORDS
    ]
    request = await _export_request(
        message, " ".join(rest) or None, with_text, questionnaire, campaigns, survey
    )
    if request is None:
        return
    await _send_export(bot, message.chat.id, message.from_user.id, request, exports, settings, fmt)


async def export_text_pressed(
    query: CallbackQuery,
    callback_data: ExportTextCallback,
    bot: Bot,
    questionnaire: Questionnaire,
    campaigns: CampaignService,
    survey: SurveyService,
    exports: StaffExports,
    settings: Settings,
) -> None:
    """The "with free text" button under an export (admins only: the router's filter)."""
    message = query.message
    if not isinstance(message, Message):
        await query.answer()
        return
    request = await _export_request(
        message, callback_data.campaign or None, True, questionnaire, campaigns, survey
    )
    await query.answer()
    if request is None:
        return
    fmt = _export_format(callback_data.fmt)
    await _send_export(bot, message.chat.id, query.from_user.id, request, exports, settings, fmt)


async def digest_refused(message: Message) -> None:
    await message.answer(_("This command is for investigators."))


async def export_refused(message: Message) -> None:
    await message.answer(_("Only administrators can export the data."))


async def export_button_refused(query: CallbackQuery) -> None:
    await query.answer(_("Only administrators can export the data."), show_alert=True)


def create_router() -> Router:
    """A fresh Router (a Router can belong to one Dispatcher only): `/digest` for staff,
    `/export` for admins, then the refusals for everyone else."""
    staff = restricted("digest.staff", IsStaff(), messages=Command("digest"))
    staff.message.register(digest_command, Command("digest"))

    export = ExportTextCallback.filter()
    admin = restricted("digest.admin", IsAdmin(), messages=Command("export"), callbacks=export)
    admin.message.register(export_command, Command("export"))
    admin.callback_query.register(export_text_pressed, ExportTextCallback.filter())

    refusals = Router(name="digest.refusals")
    refusals.message.register(digest_refused, Command("digest"), PrivateChat())
    refusals.message.register(export_refused, Command("export"), PrivateChat())
    refusals.callback_query.register(export_button_refused, export)

    router = Router(name="digest")
    router.include_routers(staff, admin, refusals)
    return router
