"""/campaign for admins (issue 6): create, open, close, list; and questionnaire versions
uploaded as a YAML document (validated, problems shown by question id, stored).

    /campaign                                      list
    /campaign new TITLE | YYYY-MM-DD | YYYY-MM-DD  create (planned), configured questionnaire
    /campaign new TITLE | … | … | QID vN           … on a stored questionnaire version
    /campaign open ID                              open it (any other open one is closed)
    /campaign close ID                             close it
    /campaign announce ID | remind ID              draft a broadcast to subscribers about it

Every command checks the admin role when it runs; every change (new, open, close, a drafted
announce or remind, a stored questionnaire version) is written to the audit log in the same
transaction as the change. With no campaign defined, the configured questionnaire is always
open (the behaviour before campaigns).

An uploaded questionnaire is read within limits (size, nesting, number and mapping sizes; see
`bot.questionnaire.validate`) in a worker thread, and each limit has its own message.
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
from bot.questionnaire import QuestionnaireError
from bot.questionnaire.problems import Problem
from bot.questionnaire.validate import (
    MAX_DEPTH,
    MAX_FILE_BYTES,
    MAX_MAPPING_KEYS,
    MAX_NUMBER_DIGITS,
    summarize,
)
from bot.questionnaire_versions import parse_off_loop
from bot.respondent.survey import SurveyService
from bot.staff import StaffRoles
from bot.staff.audited import AuditedActions
from handlers.broadcast import offer_broadcast
from storage.repositories import BroadcastContent, SubscriberRepository
from storage.repositories.campaigns import Campaign, CampaignRepository
from storage.repositories.questionnaire_versions import AddResult, QuestionnaireVersionRepository

MAX_YAML_BYTES = MAX_FILE_BYTES
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
            "If you have not answered yet, send /start (the investigators never see who "
            "answered). If you already have, thank you."
        )
    else:
        text = _(
            "📣 <b>{title}</b>\n\n"
            "The investigation team wants to hear what really happens at the grassroots: "
            "meetings, documents, inspections, photo-and-report trails. The questionnaire is "
            "anonymous (the investigators never see who answered) and takes a few minutes.\n\n"
            "Open until {closes}. Send /start to begin."
        )
    return BroadcastContent(text.format(**values))


async def campaign_command(
    message: Message,
    command: CommandObject,
    staff_roles: StaffRoles,
    campaigns: CampaignRepository,
    survey: SurveyService,
    audited: AuditedActions,
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
        async with audited.transaction() as tx:
            campaign = await campaigns.create(
                title,
                questionnaire.id,
                questionnaire.version,
                opens_day,
                closes_day,
                connection=tx.connection,
            )
            await tx.record(user.id, "campaign.create", campaign.id)
            tx.after_commit(campaigns.forget)
        await message.answer(
            _("Campaign created (not open yet): {line}").format(line=_line(campaign))
        )
        return
    if verb in ("open", "close") and rest:
        campaign_id = rest.split()[0]
        change = campaigns.open if verb == "open" else campaigns.close
        async with audited.transaction() as tx:
            done = await change(campaign_id, connection=tx.connection)
            if done:
                await tx.record(user.id, f"campaign.{verb}", campaign_id)
            tx.after_commit(campaigns.forget)
        if not done:
            await message.answer(_("No campaign {id}.").format(id=escape(campaign_id)))
            return
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
        await audited.record(user.id, f"campaign.{verb}", campaign_id)
        await offer_broadcast(bot, message.chat.id, state, content, subscribers)
        return
    await message.answer(_usage())


async def _from_admin(message: Message, staff_roles: StaffRoles) -> bool:
    """Only admins' YAML documents are questionnaire uploads; others fall through."""
    return message.from_user is not None and await staff_roles.is_admin(message.from_user.id)


def _problem_text(problem: Problem) -> str:
    """A problem in the admin's language when it is one of the file's limits, else as the
    validator wrote it (by question id)."""
    line = problem.line or 0
    match problem.kind:
        case "too_large":
            return _("The file is too large: a questionnaire may have at most {size} KB.").format(
                size=MAX_YAML_BYTES // 1024
            )
        case "too_deep":
            return _("Line {line}: nested too deeply (at most {depth} levels).").format(
                line=line, depth=MAX_DEPTH
            )
        case "number_too_large":
            return _("Line {line}: a number is too large (at most {digits} digits).").format(
                line=line, digits=MAX_NUMBER_DIGITS
            )
        case "too_many_keys":
            return _("Line {line}: too many keys in one mapping (at most {count}).").format(
                line=line, count=MAX_MAPPING_KEYS
            )
        case "yaml_syntax":
            return _("YAML syntax error at line {line}: {detail}").format(
                line=line, detail=escape(problem.message.split(": ", 1)[-1])
            )
    return escape(str(problem))


async def questionnaire_upload(
    message: Message,
    bot: Bot,
    survey: SurveyService,
    questionnaire_versions: QuestionnaireVersionRepository,
    audited: AuditedActions,
) -> None:
    document = message.document
    if document is None or message.from_user is None:
        return
    too_large = _problem_text(Problem("", None, "", kind="too_large"))
    if (document.file_size or 0) > MAX_YAML_BYTES:
        await message.answer(too_large)
        return
    buffer = await bot.download(document)
    raw = buffer.read(MAX_YAML_BYTES + 1) if buffer is not None else b""
    if len(raw) > MAX_YAML_BYTES:
        await message.answer(too_large)
        return
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        await message.answer(_("The file is not UTF-8 text."))
        return
    source = document.file_name or "questionnaire.yaml"
    actor_id = message.from_user.id
    try:
        questionnaire = await parse_off_loop(text, source)
    except QuestionnaireError as error:
        problems = error.problems
        shown = [_problem_text(problem) for problem in problems[:MAX_PROBLEMS_SHOWN]]
        more = len(problems) - len(shown)
        lines = [_("<b>Not stored: {count} problem(s)</b>").format(count=len(problems))]
        lines += shown
        if more > 0:
            lines.append(_("… and {count} more").format(count=more))
        await message.answer("\n".join(lines))
        return
    async with audited.transaction() as tx:
        result = await questionnaire_versions.add(
            questionnaire.id, questionnaire.version, text, survey.today(), connection=tx.connection
        )
        if result in (AddResult.ADDED, AddResult.REPLACED):
            await tx.record(
                actor_id, "questionnaire.add", f"{questionnaire.id}:{questionnaire.version}"[:64]
            )
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
