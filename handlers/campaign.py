"""/campaign for admins: create, open, close, list; and questionnaire versions
uploaded as a YAML document (validated, problems shown by question id, stored).

    /campaign                                      list
    /campaign new TITLE | YYYY-MM-DD | YYYY-MM-DD  create (planned), configured questionnaire
    /campaign new TITLE | … | … | QID vN           … on a stored questionnaire version
    /campaign open ID                              open it (any other open one is closed)
    /campaign close ID                             close it
    /campaign announce ID | remind ID              draft a broadcast to subscribers about it
    /campaign link ID                              its web link, QR code and A4 poster

Arguments are read by `bot.staff.admin_input`: ｜ or commas between the fields, days such as
2026年12月1日, 2026/12/1 or 12月1日, and ids in any case, with spaces or full-width digits.

The `IsAdmin` router filter asks for the role on every message; every change (new, open,
close, a drafted announce or remind, a stored questionnaire version) is written to the audit
log in the same transaction as the change (`bot.campaigns.CampaignService`). With no
campaign defined, the configured questionnaire is always open (the behaviour before
campaigns).

An uploaded questionnaire is read within limits (size, nesting, number and mapping sizes; see
`bot.questionnaire.validate`) in a worker thread, and each limit has its own message
(`bot.campaigns.screens`).
"""

from __future__ import annotations

import asyncio
from html import escape

from aiogram import Bot, F, Router
from aiogram.enums import ChatAction
from aiogram.filters import Command, CommandObject, or_f
from aiogram.fsm.context import FSMContext
from aiogram.types import BufferedInputFile, LinkPreviewOptions, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from bot.campaigns import CampaignService, parse_new_campaign
from bot.campaigns.poster import campaign_link, is_local_url, poster_files
from bot.campaigns.screens import (
    MAX_YAML_BYTES,
    announcement,
    campaign_line,
    link_text,
    problem_text,
    too_large_text,
    usage_text,
)
from bot.config import Settings
from bot.questionnaire import QuestionnaireError
from bot.questionnaire.validate import summarize
from bot.questionnaire_versions import parse_off_loop
from bot.respondent.survey import SurveyService
from bot.staff.filters import IsAdmin, PrivateChat, restricted
from bot.statuses import CampaignStatus
from handlers.broadcast import offer_broadcast
from storage.repositories import SubscriberRepository
from storage.repositories.questionnaire_versions import AddResult

MAX_PROBLEMS_SHOWN = 30
YAML_DOCUMENT = F.document.file_name.lower().endswith((".yaml", ".yml"))


async def campaign_command(
    message: Message,
    command: CommandObject,
    campaigns: CampaignService,
    survey: SurveyService,
    state: FSMContext,
    bot: Bot,
    subscribers: SubscriberRepository,
    i18n: I18n,
    settings: Settings,
) -> None:
    user = message.from_user
    if user is None:
        return
    words = (command.args or "").split(maxsplit=1)  # any space, the ideographic one too
    verb = words[0].lower() if words else ""
    rest = words[1].strip() if len(words) > 1 else ""
    if verb in ("", "list"):
        found = await campaigns.list()
        if not found:
            await message.answer(
                _("No campaigns yet: the questionnaire is open to everyone.")
                + "\n\n"
                + usage_text()
            )
            return
        await message.answer("\n".join([_("<b>Campaigns</b>"), *map(campaign_line, found)]))
        return
    if verb == "new":
        try:
            new = parse_new_campaign(rest, today=survey.today())
        except ValueError:
            await message.answer(usage_text())
            return
        questionnaire = survey.questionnaire
        if new.version is not None:
            engine = await survey.engine_for(*new.version)
            if engine is None:
                await message.answer(
                    _("No stored questionnaire {id} version {version}.").format(
                        id=escape(new.version[0]), version=new.version[1]
                    )
                )
                return
            questionnaire = engine.questionnaire
        campaign = await campaigns.create(user.id, new, questionnaire)
        await message.answer(
            _("Campaign created (not open yet): {line}").format(line=campaign_line(campaign))
        )
        return
    if verb in ("open", "close") and rest:
        change = campaigns.open if verb == "open" else campaigns.close
        if not await change(user.id, rest):
            await message.answer(_("No campaign {id}.").format(id=escape(rest[:64])))
            return
        updated = await campaigns.get(rest)
        assert updated is not None
        text = campaign_line(updated)
        if verb == "open" and not updated.accepts_on(survey.today()):
            text += "\n" + _("Note: today is outside its days, so cadres cannot answer yet.")
        if verb == "open":
            text += "\n" + _("Tell subscribers: /campaign announce {id}").format(id=updated.id)
            text += "\n" + _("Link, QR code and poster: /campaign link {id}").format(id=updated.id)
        await message.answer(text)
        return
    if verb in ("announce", "remind") and rest:
        subject = await campaigns.get(rest)
        if subject is None:
            await message.answer(_("No campaign {id}.").format(id=escape(rest[:64])))
            return
        if subject.status != CampaignStatus.OPEN:
            await message.answer(
                _("Campaign {id} is not open: open it first, then tell subscribers.").format(
                    id=subject.id
                )
            )
            return
        # Drafted in the cadres' language (DEFAULT_LOCALE), whatever the admin's: the preview
        # is what recipients get; the admin may discard it and write another with /broadcast.
        link = campaign_link(settings.web_public_url, subject.id)
        with i18n.use_locale(settings.default_locale):
            content = announcement(subject, reminder=verb == "remind", link=link)
        await campaigns.record_announcement(user.id, verb, subject.id)
        await offer_broadcast(bot, message.chat.id, state, content, subscribers)
        return
    if verb == "link" and rest:
        await send_campaign_link(message, bot, campaigns, rest, settings)
        return
    await message.answer(usage_text())


async def send_campaign_link(
    message: Message, bot: Bot, campaigns: CampaignService, campaign_id: str, settings: Settings
) -> None:
    """The link, then its QR code, then the poster as PDF and PNG (`bot.campaigns.poster`,
    drawn in a worker thread, in the cadres' language whatever the admin's)."""
    campaign = await campaigns.get(campaign_id)
    if campaign is None:
        await message.answer(
            _("No campaign {id}. Send /campaign to see them all.").format(
                id=escape(campaign_id[:64])
            )
        )
        return
    chat_id = message.chat.id
    await bot.send_chat_action(chat_id, ChatAction.UPLOAD_PHOTO)
    files = await asyncio.to_thread(
        poster_files, campaign, settings.web_public_url, locale=settings.default_locale
    )
    await message.answer(
        link_text(campaign, files.link, is_local_url(settings.web_public_url)),
        link_preview_options=LinkPreviewOptions(is_disabled=True),
    )
    stem = campaign.id
    await bot.send_photo(
        chat_id,
        BufferedInputFile(files.qr_png, filename=f"{stem}-qr.png"),
        caption=_("QR code of the link"),
    )
    await bot.send_document(
        chat_id,
        BufferedInputFile(files.poster_pdf, filename=f"{stem}-poster.pdf"),
        caption=_("Poster to print (A4)"),
    )
    await bot.send_document(
        chat_id, BufferedInputFile(files.poster_png, filename=f"{stem}-poster.png")
    )


async def questionnaire_upload(message: Message, bot: Bot, campaigns: CampaignService) -> None:
    document = message.document
    if document is None or message.from_user is None:
        return
    if (document.file_size or 0) > MAX_YAML_BYTES:
        await message.answer(too_large_text())
        return
    buffer = await bot.download(document)
    raw = buffer.read(MAX_YAML_BYTES + 1) if buffer is not None else b""
    if len(raw) > MAX_YAML_BYTES:
        await message.answer(too_large_text())
        return
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        await message.answer(_("The file is not UTF-8 text."))
        return
    source = document.file_name or "questionnaire.yaml"
    try:
        questionnaire = await parse_off_loop(text, source)
    except QuestionnaireError as error:
        problems = error.problems
        shown = [problem_text(problem) for problem in problems[:MAX_PROBLEMS_SHOWN]]
        more = len(problems) - len(shown)
        lines = [_("<b>Not stored: {count} problem(s)</b>").format(count=len(problems))]
        lines += shown
        if more > 0:
            lines.append(_("… and {count} more").format(count=more))
        await message.answer("\n".join(lines))
        return
    result = await campaigns.store_version(message.from_user.id, questionnaire, text)
    if result == AddResult.IMMUTABLE:
        await message.answer(
            _(
                "Version {version} of {id} already has answers and cannot change. "
                "Raise <code>version:</code> in the file to add a new version."
            ).format(version=questionnaire.version, id=escape(questionnaire.id))
        )
        return
    outcome = {
        AddResult.ADDED: _("Stored as a new version."),
        AddResult.REPLACED: _("Replaced (this version had no answers yet)."),
        AddResult.UNCHANGED: _("Already stored, unchanged."),
    }[result]
    await message.answer("\n".join([outcome, *(escape(line) for line in summarize(questionnaire))]))


async def refuse_command(message: Message) -> None:
    await message.answer(_("Only administrators can do this."))


def create_router() -> Router:
    """A fresh Router: the admins' router, then the refusal of `/campaign` for everyone else
    (anyone else's YAML document falls through to the catch-alls)."""
    admin = restricted(
        "campaign.admin", IsAdmin(), messages=or_f(Command("campaign"), YAML_DOCUMENT)
    )
    admin.message.register(campaign_command, Command("campaign"))
    admin.message.register(questionnaire_upload, YAML_DOCUMENT)

    refusals = Router(name="campaign.refusals")
    refusals.message.register(refuse_command, Command("campaign"), PrivateChat())

    router = Router(name="campaign")
    router.include_routers(admin, refusals)
    return router
