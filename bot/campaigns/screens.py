"""What admins read about campaigns and uploaded questionnaires (call inside an i18n
context). A drafted announcement is what subscribers receive after the admin's preview."""

from __future__ import annotations

from html import escape

from aiogram.utils.i18n import gettext as _

from bot.questionnaire.problems import Problem
from bot.questionnaire.validate import (
    MAX_DEPTH,
    MAX_FILE_BYTES,
    MAX_MAPPING_KEYS,
    MAX_NUMBER_DIGITS,
)
from bot.statuses import CampaignStatus
from storage.repositories import BroadcastContent
from storage.repositories.campaigns import Campaign

MAX_YAML_BYTES = MAX_FILE_BYTES


def usage_text() -> str:
    return (
        _(
            "Usage:\n/campaign — list\n/campaign new TITLE | YYYY-MM-DD | YYYY-MM-DD\n"
            "/campaign new TITLE | YYYY-MM-DD | YYYY-MM-DD | QID vN — on a stored version\n"
            "/campaign open ID\n/campaign close ID\n"
            "/campaign announce ID — tell subscribers it is open\n"
            "/campaign remind ID — remind them before it closes\n"
            "/campaign link ID — its link, QR code and poster"
        )
        + "\n\n"
        + _(
            "Days may also be written 2026/12/1, 2026年12月1日 or 12月1日 (this year); ｜ or "
            "commas may stand between the parts. Capitals and spaces in an ID do not matter."
        )
    )


def campaign_line(campaign: Campaign) -> str:
    states = {
        CampaignStatus.PLANNED: _("planned"),
        CampaignStatus.OPEN: _("open"),
        CampaignStatus.CLOSED: _("closed"),
    }
    return _("<code>{id}</code> {title} — {state}, {opens} … {closes} ({qid} v{version})").format(
        id=campaign.id,
        title=escape(campaign.title),
        state=states.get(campaign.status, campaign.status),
        opens=campaign.opens_day.isoformat(),
        closes=campaign.closes_day.isoformat(),
        qid=escape(campaign.questionnaire_id),
        version=campaign.questionnaire_version,
    )


def announcement(campaign: Campaign, reminder: bool, link: str) -> BroadcastContent:
    """A drafted broadcast about an open campaign; the admin sees it before anything is sent.
    It ends with the campaign's web link on its own line, for subscribers to pass on in
    WeChat groups (`bot.campaigns.poster.campaign_link`).

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
    link_line = _("Link to answer (opens in WeChat too): {link}").format(link=escape(link))
    return BroadcastContent(text.format(**values) + "\n\n" + link_line)


def link_text(campaign: Campaign, link: str, local: bool) -> str:
    """The first of the three messages of `/campaign link`; `local`: the link works only on
    this machine, so the admin is told to set WEB_PUBLIC_URL first."""
    text = _(
        "<b>{title}</b>\nLink to answer: {link}\n\n"
        "Post the link or the QR code in work groups; print the poster for notice boards."
    ).format(title=escape(campaign.title), link=escape(link))
    if local:
        text += "\n\n" + _(
            "Note: WEB_PUBLIC_URL is a local address, so this link opens only on this machine. "
            "Set it to the public address before handing the link out."
        )
    return text


def problem_text(problem: Problem) -> str:
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


def too_large_text() -> str:
    return problem_text(Problem("", None, "", kind="too_large"))
