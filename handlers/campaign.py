"""/campaign for admins (issue 6): create, open, close, list; and questionnaire versions
uploaded as a YAML document (validated, problems shown by question id, stored).

    /campaign                                      list
    /campaign new TITLE | YYYY-MM-DD | YYYY-MM-DD  create (planned), configured questionnaire
    /campaign new TITLE | … | … | QID vN           … on a stored questionnaire version
    /campaign open ID                              open it (any other open one is closed)
    /campaign close ID                             close it
    /campaign announce ID | remind ID              draft a broadcast to subscribers about it

Every command checks the admin role when it runs and is written to the audit log. With no
campaign defined, the configured questionnaire is always open (the behaviour before campaigns).
"""

from __future__ import annotations

from datetime import date
from html import escape

from aiogram import Bot, F, Router
from aiogram.enums import ChatType
from aiogram.filters import Command, CommandObject
from aiogram.fsm.context import FSMContext
from aiogram.types import Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from bot.config import Settings
from bot.questionnaire.validate import summarize
from bot.questionnaire_versions import add_version
from bot.respondent.survey import SurveyService
from bot.staff import StaffRoles
from handlers.broadcast import offer_broadcast
from storage.repositories import AuditRepository, BroadcastContent, SubscriberRepository
from storage.repositories.campaigns import Campaign, CampaignRepository
from storage.repositories.questionnaire_versions import AddResult, QuestionnaireVersionRepository

MAX_YAML_BYTES = 256 * 1024
MAX_PROBLEMS_SHOWN = 30


def _usage() -> str:
    return _(
        "Usage:\n/campaign — list\n/campaign new TITLE | YYYY-MM-DD | YYYY-MM-DD\n"
        "/campaign new TITLE | YYYY-MM-DD | YYYY-MM-DD | QID vN — on a stored version\n"
        "/campaign open ID\n/campaign close ID\n"
        "/campaign announce ID — tell subscribers it is open\n"
        "/campaign remind ID — remind them before it closes"
    )


def _line(campaign: Campaign) -> str:
    states = {"planned": _("planned"), "open": _("open"), "closed": _("closed")}
    return _("<code>{id}</code> {title} — {state}, {opens} … {closes} ({qid} v{version})").format(
        id=campaign.id,
        title=escape(campaign.title),
        state=states.get(campaign.status, campaign.status),
        opens=campaign.opens_day.isoformat(),
        closes=campaign.closes_day.isoformat(),
        qid=escape(campaign.questionnaire_id),
        version=campaign.questionnaire_version,
    )


def _version_key(text: str) -> tuple[str, int]:
    """`QID vN` (or `QID N`) → (QID, N); ValueError otherwise."""
    questionnaire_id, version = text.split()  # ValueError unless exactly two words
    number = int(version.removeprefix("v").removeprefix("V"))
    if number < 1:
        raise ValueError(text)
    return questionnaire_id, number


def _announcement(campaign: Campaign, reminder: bool) -> BroadcastContent:
    """A drafted broadcast about an open campaign; the admin sees it before anything is sent.

    A reminder goes to every subscriber: the bot cannot know who has answered, by design."""
    values = {"title": escape(campaign.title), "closes": campaign.closes_day.isoformat()}
    if reminder:
        text = _(
            "⏰ <b>{title}</b> closes on {closes}.\n\n"
            "If you have not answered yet, send /start: it takes a few minutes and stays "
            "anonymous. If you already have, thank you."
        )
    else:
        text = _(
            "📣 <b>{title}</b>\n\n"
            "The investigation team wants to hear what really happens at the grassroots: "
            "meetings, documents, inspections, photo-and-report trails. The questionnaire is "
            "anonymous (nobody can see who answered) and takes a few minutes.\n\n"
            "Open until {closes}. Send /start to begin."
        )
    return BroadcastContent(text.format(**values))


async def campaign_command(
    message: Message,
    command: CommandObject,
    staff_roles: StaffRoles,
    campaigns: CampaignRepository,
    survey: SurveyService,
    audit: AuditRepository,
    state: FSMContext,
    bot: Bot,
    subscribers: SubscriberRepository,
    i18n: I18n,
    settings: Settings,
) -> None:
    user = message.from_user
    if user is None or not await staff_roles.is_admin(user.id):
        await message.answer(_("Only administrators can do this."))
        return
    args = (command.args or "").strip()
    verb, _sep, rest = args.partition(" ")
    verb = verb.lower()
    rest = rest.strip()
    if verb in ("", "list"):
        found = await campaigns.list()
        if not found:
            await message.answer(
                _("No campaigns yet: the questionnaire is open to everyone.") + "\n\n" + _usage()
            )
            return
        await message.answer("\n".join([_("<b>Campaigns</b>"), *map(_line, found)]))
        return
    if verb == "new":
        parts = [part.strip() for part in rest.split("|")]
        try:
            title, opens, closes, *chosen = parts
            opens_day, closes_day = date.fromisoformat(opens), date.fromisoformat(closes)
            if not title or opens_day > closes_day or len(chosen) > 1:
                raise ValueError
            version_key = _version_key(chosen[0]) if chosen else None
        except ValueError:
            await message.answer(_usage())
            return
        questionnaire = survey.questionnaire
        if version_key is not None:
            engine = await survey.engine_for(*version_key)
            if engine is None:
                await message.answer(
                    _("No stored questionnaire {id} version {version}.").format(
                        id=escape(version_key[0]), version=version_key[1]
                    )
                )
                return
            questionnaire = engine.questionnaire
        campaign = await campaigns.create(
            title, questionnaire.id, questionnaire.version, opens_day, closes_day
        )
        await audit.record(user.id, "campaign.create", campaign.id, survey.today())
        await message.answer(
            _("Campaign created (not open yet): {line}").format(line=_line(campaign))
        )
        return
    if verb in ("open", "close") and rest:
        campaign_id = rest.split()[0]
        done = await (campaigns.open if verb == "open" else campaigns.close)(campaign_id)
        if not done:
            await message.answer(_("No campaign {id}.").format(id=escape(campaign_id)))
            return
        await audit.record(user.id, f"campaign.{verb}", campaign_id, survey.today())
        updated = await campaigns.get(campaign_id)
        assert updated is not None
        text = _line(updated)
        if verb == "open" and not updated.accepts_on(survey.today()):
            text += "\n" + _("Note: today is outside its days, so cadres cannot answer yet.")
        if verb == "open":
            text += "\n" + _("Tell subscribers: /campaign announce {id}").format(id=updated.id)
        await message.answer(text)
        return
    if verb in ("announce", "remind") and rest:
        campaign_id = rest.split()[0]
        subject = await campaigns.get(campaign_id)
        if subject is None:
            await message.answer(_("No campaign {id}.").format(id=escape(campaign_id)))
            return
        if subject.status != "open":
            await message.answer(
                _("Campaign {id} is not open: open it first, then tell subscribers.").format(
                    id=escape(campaign_id)
                )
            )
            return
        # Drafted in the cadres' language (DEFAULT_LOCALE), whatever the admin's: the preview
        # is what recipients get; the admin may discard it and write another with /broadcast.
        with i18n.use_locale(settings.default_locale):
            content = _announcement(subject, reminder=verb == "remind")
        await offer_broadcast(bot, message.chat.id, state, content, subscribers)
        return
    await message.answer(_usage())


async def _from_admin(message: Message, staff_roles: StaffRoles) -> bool:
    """Only admins' YAML documents are questionnaire uploads; others fall through."""
    return message.from_user is not None and await staff_roles.is_admin(message.from_user.id)


async def questionnaire_upload(
    message: Message,
    bot: Bot,
    survey: SurveyService,
    questionnaire_versions: QuestionnaireVersionRepository,
    audit: AuditRepository,
) -> None:
    document = message.document
    if document is None or message.from_user is None:
        return
    if (document.file_size or 0) > MAX_YAML_BYTES:
        await message.answer(_("That file is too large for a questionnaire."))
        return
    buffer = await bot.download(document)
    try:
        text = buffer.read().decode("utf-8") if buffer is not None else ""
    except UnicodeDecodeError:
        await message.answer(_("The file is not UTF-8 text."))
        return
    source = document.file_name or "questionnaire.yaml"
    upload = await add_version(questionnaire_versions, text, source, survey.today())
    if upload.result is None:
        shown = [escape(str(problem)) for problem in upload.problems[:MAX_PROBLEMS_SHOWN]]
        more = len(upload.problems) - len(shown)
        lines = [_("<b>Not stored: {count} problem(s)</b>").format(count=len(upload.problems))]
        lines += shown
        if more > 0:
            lines.append(_("… and {count} more").format(count=more))
        await message.answer("\n".join(lines))
        return
    assert upload.questionnaire is not None
    questionnaire = upload.questionnaire
    if upload.result == AddResult.IMMUTABLE:
        await message.answer(
            _(
                "Version {version} of {id} already has answers and cannot change. "
                "Raise <code>version:</code> in the file to add a new version."
            ).format(version=questionnaire.version, id=escape(questionnaire.id))
        )
        return
    await audit.record(
        message.from_user.id,
        "questionnaire.add",
        f"{questionnaire.id}:{questionnaire.version}"[:64],
        survey.today(),
    )
    outcome = {
        AddResult.ADDED: _("Stored as a new version."),
        AddResult.REPLACED: _("Replaced (this version had no answers yet)."),
        AddResult.UNCHANGED: _("Already stored, unchanged."),
    }[upload.result]
    await message.answer("\n".join([outcome, *(escape(line) for line in summarize(questionnaire))]))


def create_router() -> Router:
    router = Router(name="campaign")
    private = F.chat.type == ChatType.PRIVATE
    router.message.register(campaign_command, Command("campaign"), private)
    router.message.register(
        questionnaire_upload,
        private,
        F.document.file_name.lower().endswith((".yaml", ".yml")),
        _from_admin,
    )
    return router
