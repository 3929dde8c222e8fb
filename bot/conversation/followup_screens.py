"""What the cadre sees in a follow-up: the report's status, its thread, and the texts around.

Links in the thread are shown as plain text: a link from an investigator could be a tracker.
Bodies are in the escaped HTML subset of `bot.conversation.model`. Texts that say what to
do next take the cadre's `channel` (as in `bot.conversation.screens`): commands on Telegram,
the page's own controls on the web.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from html import escape

from bot.conversation.model import Act, Action, Channel, Option, Screen
from bot.conversation.ports import ReportSummary, ThreadEntry
from bot.conversation.screens import clear_chat_option, masked_notice
from bot.i18n.text import gettext as _
from bot.statuses import CaseStatus, FollowupOrigin

BUDGET = 3800
ITEM_BUDGET = 1500  # one message part; longer ones are shortened

# Whatever Telegram could turn into a link or a mention: any scheme, bare domain names,
# IPv4 addresses, e-mail addresses and @usernames (t.me handles). Over-matching only costs
# a harmless piece of code formatting.
_LINKISH = re.compile(
    r"(?i)"
    r"(?<![a-z0-9])[a-z][a-z0-9+.\-]*://[^\s<>\"']+"
    r"|(?<![a-z0-9])(?:tg|mailto|tel|ton|tonsite|sms|callto|skype|weixin):[^\s<>\"']+"
    r"|[a-z0-9._%+\-]+@[a-z0-9\-]+(?:\.[a-z0-9\-]+)+"
    r"|(?<![a-z0-9@.\-])(?:[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?\.)+"
    r"(?:[a-z]{2,63}|xn--[a-z0-9\-]+)(?![a-z0-9\-])(?::\d{1,5})?(?:[/?#][^\s<>\"']*)?"
    r"|(?<![0-9.])\d{1,3}(?:\.\d{1,3}){3}(?::\d{1,5})?(?:/[^\s<>\"']*)?"
    r"|(?<![a-z0-9_@])@[a-z0-9_]{3,32}"
)


def _defanged(link: str) -> str:
    """The link's text with its dots, colons and @ broken, so no client re-links it."""
    return link.replace(".", "[.]").replace(":", "[:]").replace("@", "[@]")


def plain_links_html(text: str) -> tuple[str, bool]:
    """HTML for `text` in which nothing can be tapped open: every link-like piece is broken
    up and put in `<code>` (Telegram detects no links or mentions inside code). Returns the
    HTML and whether anything was link-like."""
    parts: list[str] = []
    last = 0
    found = False
    for match in _LINKISH.finditer(text):
        found = True
        parts.append(escape(text[last : match.start()]))
        parts.append(f"<code>{escape(_defanged(match.group()))}</code>")
        last = match.end()
    parts.append(escape(text[last:]))
    return "".join(parts), found


def status_name(status: str) -> str:
    names: dict[str, str] = {
        CaseStatus.NEW: _("New"),
        CaseStatus.VERIFYING: _("Checking"),
        CaseStatus.VERIFIED: _("Verified"),
        CaseStatus.CLOSED: _("Closed"),
        CaseStatus.REJECTED: _("Not taken up"),
    }
    return names.get(status, status)


def who(origin: str, *, for_staff: bool) -> str:
    """Who wrote a thread message, as the reader calls them."""
    if origin == FollowupOrigin.INVESTIGATOR:
        return _("Investigator")
    return _("Reporter") if for_staff else _("You")


def ask_code_text(*, channel: Channel = Channel.TELEGRAM) -> str:
    if channel == Channel.WEB:
        return _(
            "🔑 Please type your receipt code below (for example XXXX-XXXX-XXXX-XXXX-XXXX). "
            "It is cleared from the page as soon as it has been read."
        )
    return _(
        "🔑 Please send your receipt code (for example XXXX-XXXX-XXXX-XXXX-XXXX). "
        "I will delete your message with the code right after reading it. /cancel to stop."
    )


def wrong_code_text(*, channel: Channel = Channel.TELEGRAM) -> str:
    if channel == Channel.WEB:
        return _("No report could be opened with this code. Please check it and type it again.")
    return _(
        "No report could be opened with this code. Please check it and send it again, or /cancel."
    )


def too_many_tries_text(limit: int) -> str:
    return _(
        "You have tried {limit} codes today, the daily limit. Please try again tomorrow."
    ).format(limit=limit)


def finish_survey_first_text(*, channel: Channel = Channel.TELEGRAM) -> str:
    if channel == Channel.WEB:
        return _(
            "You have an unfinished questionnaire. Please go back to it and submit it, or "
            "cancel it with “✖️ Cancel”; then tap “Read replies” again."
        )
    return _(
        "You have an unfinished questionnaire. Please submit it or /cancel it first, then "
        "send /followup."
    )


def report_gone_text() -> str:
    return _("This report no longer exists (reports are deleted after a retention period).")


def session_ended_text(*, channel: Channel = Channel.TELEGRAM) -> str:
    if channel == Channel.WEB:
        return _(
            "Follow-up closed. Come back with your code in a few days to read new questions: "
            "open the survey link and tap “Read replies” at the top of the page."
        )
    return _(
        "Follow-up closed. Come back with your code in a few days to read new questions: /followup"
    )


def _cadre_message_html(message: ThreadEntry, limit: int) -> tuple[str, bool]:
    """One message as the cadre sees it, links made plain, shortened to fit `limit`."""
    head = f"<b>{who(message.origin, for_staff=False)}</b> · {message.day.isoformat()}\n"
    text = message.text
    while True:
        body, linkish = plain_links_html(text)
        if len(head) + len(body) <= limit or len(text) <= 1:
            return head + body, linkish
        text = text[: len(text) * 3 // 4].rstrip() + "…"


def link_warning_text() -> str:
    return _(
        "⚠️ Links and @names in messages are shown as plain text. Please do not open them: "
        "a link can tell whoever made it who you are."
    )


def cadre_report_screen(
    summary: ReportSummary, thread: Sequence[ThreadEntry], first: int
) -> Screen:
    """The report's status and as much of the thread as fits, newest messages kept."""
    head = [
        _("📄 <b>Your report</b> of {day}").format(day=summary.day.isoformat()),
        _("Status: {status}").format(status=status_name(summary.status)),
        "",
    ]
    foot = [
        "",
        _(
            "To answer a question or add information, press the button, then send your text. "
            "Do not write your name or contact details."
        ),
    ]
    room = BUDGET - len("\n".join(head + foot)) - 400  # the warning and the "earlier" line
    shown: list[str] = []
    any_link = False
    for message in reversed(thread):
        if room < 300:
            break
        html, linkish = _cadre_message_html(message, min(room, ITEM_BUDGET * 2))
        if len(html) + 1 > room:
            break
        shown.insert(0, html)
        room -= len(html) + 1
        any_link = any_link or linkish
    body: list[str] = []
    if len(shown) < len(thread):
        body.append(_("(Earlier messages are not shown.)"))
    body += shown
    if not thread:
        body.append(_("No messages from the investigators yet. Please come back in a few days."))
    if any_link:
        body += ["", link_warning_text()]
    rows = (
        (Option(_("✍️ Answer / add information"), Action(Act.FOLLOWUP_ANSWER)),),
        (
            Option(_("🔄 Refresh"), Action(Act.FOLLOWUP_REFRESH)),
            Option(_("✅ Finish"), Action(Act.FOLLOWUP_END)),
        ),
        (clear_chat_option(first),),
    )
    return Screen("\n".join(head + body + foot), rows)


def session_ended_screen(first: int, *, channel: Channel = Channel.TELEGRAM) -> Screen:
    """The follow-up is closed; the option deletes its messages from the chat."""
    return Screen(session_ended_text(channel=channel), ((clear_chat_option(first),),))


def write_answer_screen(first: int, *, channel: Channel = Channel.TELEGRAM) -> Screen:
    """Telegram stops with /cancel; a page has no commands, so it gets a Finish option."""
    if channel == Channel.WEB:
        return Screen(
            _(
                "Please type your answer below and send it as one message. To stop without "
                "writing, tap “✅ Finish”."
            ),
            (
                (Option(_("✅ Finish"), Action(Act.FOLLOWUP_END)),),
                (clear_chat_option(first),),
            ),
        )
    return Screen(
        _("Please send your answer as one text message. /cancel to stop."),
        ((clear_chat_option(first),),),
    )


def answer_saved_text(masked: Iterable[str]) -> str:
    text = _("✅ Thank you, your answer was added to the report.")
    kinds = list(masked)
    if kinds:
        text += "\n" + masked_notice(kinds)
    return text


def receipt_in_followup_text() -> str:
    return _(
        "This looks like a receipt code. Please never write it into a message — it was not "
        "saved. Send your answer again without it."
    )


def text_only_text() -> str:
    return _("Please send text only: voice, photos and files can identify you.")
