"""What cadres and investigators see in follow-ups and case handling.

Everything goes through gettext; user text is HTML-escaped; screens stay under 4096
characters (a long case is split into pages, so its thread and buttons are always reachable).
Case answers use the questionnaire's zh-CN labels, as investigators read Chinese. Links in the
thread are shown to the cadre as plain text: a link from an investigator could be a tracker.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from html import escape, unescape

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _

from bot.cases.callbacks import CaseAct, CaseCallback, FollowupAct, FollowupCallback
from bot.questionnaire import Questionnaire
from bot.respondent.callbacks import ClearChatCallback
from bot.respondent.screens import Screen, format_answer, masked_notice
from storage.repositories import (
    AuditEntry,
    CaseDetail,
    CaseSummary,
    StoredSubmission,
    ThreadMessage,
)
from storage.tables import CASE_STATUSES

BUDGET = 3800
PAGE_SIZE = 8
CASE_LOCALE = "zh-CN"
ITEM_BUDGET = 1500  # one answer or message part; longer ones continue in the next item

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


def _clip(text: str, limit: int = BUDGET) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


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


_TAG = re.compile(r"<[^>]*>")


def visible_length(html: str) -> int:
    """What Telegram counts against its 4096 limit: the text after parsing (tags gone,
    entities decoded), in UTF-16 code units."""
    return len(unescape(_TAG.sub("", html)).encode("utf-16-le")) // 2


def _html_chunks(raw: str, limit: int) -> Iterator[str]:
    """`raw` escaped, in pieces of at most `limit` characters of HTML each (never splitting an
    escape sequence)."""
    piece: list[str] = []
    size = 0
    for char in raw:
        escaped = escape(char)
        if size + len(escaped) > limit and piece:
            yield "".join(piece)
            piece, size = [], 0
        piece.append(escaped)
        size += len(escaped)
    if piece or not raw:
        yield "".join(piece)


def status_name(status: str) -> str:
    names = {
        "new": _("New"),
        "verifying": _("Verifying"),
        "verified": _("Verified"),
        "closed": _("Closed"),
        "rejected": _("Not accepted"),
    }
    return names.get(status, status)


# --- the cadre ------------------------------------------------------------------------------


def ask_code_text() -> str:
    return _(
        "🔑 Please send your receipt code (for example XXXX-XXXX-XXXX-XXXX-XXXX). "
        "I will delete your message with the code right after reading it. /cancel to stop."
    )


def wrong_code_text() -> str:
    return _(
        "No report could be opened with this code. Please check it and send it again, or /cancel."
    )


def too_many_tries_text(limit: int) -> str:
    return _(
        "You have tried {limit} codes today, the daily limit. Please try again tomorrow."
    ).format(limit=limit)


def finish_survey_first_text() -> str:
    return _(
        "You have an unfinished questionnaire. Please submit it or /cancel it first, then "
        "send /followup."
    )


def report_gone_text() -> str:
    return _("This report no longer exists (reports are deleted after a retention period).")


def session_ended_text() -> str:
    return _(
        "Follow-up closed. Come back with your code in a few days to read new questions: /followup"
    )


def _who(message: ThreadMessage, *, for_staff: bool) -> str:
    if message.origin == "investigator":
        return _("Investigator")
    return _("Reporter") if for_staff else _("You")


def _thread_lines(thread: Sequence[ThreadMessage], *, for_staff: bool) -> list[str]:
    """The staff's view of the thread: one item per message part (see `_html_chunks`)."""
    lines = []
    for message in thread:
        head = f"<b>{_who(message, for_staff=for_staff)}</b> · {message.day.isoformat()}"
        for index, chunk in enumerate(_html_chunks(message.text, ITEM_BUDGET)):
            lines.append(f"{head}\n{chunk}" if index == 0 else f"↳ {chunk}")
    return lines


def _cadre_message_html(message: ThreadMessage, limit: int) -> tuple[str, bool]:
    """One message as the cadre sees it, links made plain, shortened to fit `limit`."""
    head = f"<b>{_who(message, for_staff=False)}</b> · {message.day.isoformat()}\n"
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


def clear_chat_button(first_message_id: int) -> InlineKeyboardButton:
    """The respondent flow's own "clear this chat" button, over this follow-up's messages."""
    return InlineKeyboardButton(
        text=_("🧹 Clear this conversation"),
        callback_data=ClearChatCallback(first=first_message_id).pack(),
    )


def cadre_report_screen(
    summary: CaseSummary, thread: Sequence[ThreadMessage], first_message_id: int
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
    markup = InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(
                    text=_("✍️ Answer / add information"),
                    callback_data=FollowupCallback(a=FollowupAct.ANSWER).pack(),
                )
            ],
            [
                InlineKeyboardButton(
                    text=_("🔄 Refresh"),
                    callback_data=FollowupCallback(a=FollowupAct.REFRESH).pack(),
                ),
                InlineKeyboardButton(
                    text=_("✅ Finish"), callback_data=FollowupCallback(a=FollowupAct.END).pack()
                ),
            ],
            [clear_chat_button(first_message_id)],
        ]
    )
    return Screen("\n".join(head + body + foot), markup)


def session_ended_screen(first_message_id: int) -> Screen:
    """The follow-up is closed; the button deletes its messages from the chat."""
    markup = InlineKeyboardMarkup(inline_keyboard=[[clear_chat_button(first_message_id)]])
    return Screen(session_ended_text(), markup)


def write_answer_text() -> str:
    return _("Please send your answer as one text message. /cancel to stop.")


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


# --- investigators ------------------------------------------------------------------------


def staff_only_text() -> str:
    return _("This command is for investigators.")


def admin_only_text() -> str:
    return _("Only administrators can do this.")


def _case_button(text: str, data: CaseCallback) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, callback_data=data.pack())


def overview_screen(counts: dict[str, int]) -> Screen:
    lines = [_("<b>Cases</b> by status:")]
    rows = []
    for status in CASE_STATUSES:
        label = f"{status_name(status)} ({counts.get(status, 0)})"
        lines.append("• " + label)
        rows.append([_case_button(label, CaseCallback(a=CaseAct.LIST, s=status))])
    return Screen("\n".join(lines), InlineKeyboardMarkup(inline_keyboard=rows))


def list_screen(status: str, page: int, items: Sequence[CaseSummary], total: int) -> Screen:
    pages = max(1, (total + PAGE_SIZE - 1) // PAGE_SIZE)
    text = _("<b>{status}</b>: {total} case(s), page {page} of {pages}, newest first.").format(
        status=status_name(status), total=total, page=page + 1, pages=pages
    )
    rows = [
        [
            _case_button(
                f"#{item.ref} · {item.day.isoformat()}"
                + (f" · {', '.join(item.labels)}"[:40] if item.labels else ""),
                CaseCallback(a=CaseAct.VIEW, r=item.ref),
            )
        ]
        for item in items
    ]
    navigation = []
    if page > 0:
        navigation.append(_case_button("◀", CaseCallback(a=CaseAct.LIST, s=status, p=page - 1)))
    navigation.append(_case_button(_("Statuses"), CaseCallback(a=CaseAct.OVERVIEW)))
    if page + 1 < pages:
        navigation.append(_case_button("▶", CaseCallback(a=CaseAct.LIST, s=status, p=page + 1)))
    rows.append(navigation)
    return Screen(text, InlineKeyboardMarkup(inline_keyboard=rows))


def _answer_lines(submission: StoredSubmission | None, questionnaire: Questionnaire) -> list[str]:
    """One item per answer (a long free-text answer continues over several items)."""
    if submission is None:
        return []
    lines = []
    known = questionnaire.has_question
    order = sorted(
        submission.answers,
        key=lambda q: (0, questionnaire.index_of(q), q) if known(q) else (1, 0, q),
    )
    for question_id in order:
        value = submission.answers[question_id]
        if questionnaire.has_question(question_id):
            question = questionnaire.question(question_id)
            label = question.label_for(CASE_LOCALE)
            shown = format_answer(question, value, CASE_LOCALE)
        else:
            label, shown = question_id, str(value)
        head = f"• {escape(label)}: "
        for index, chunk in enumerate(_html_chunks(shown, ITEM_BUDGET)):
            lines.append(head + chunk if index == 0 else f"↳ {chunk}")
    return lines


def event_text(kind: str, value: str) -> str:
    if kind == "status":
        return _("status → {status}").format(status=status_name(value))
    if kind == "label":
        return _("label added: {label}").format(label=escape(value))
    return _("label removed: {label}").format(label=escape(value))


@dataclass(frozen=True)
class _Section:
    title: str
    items: list[str]


def _case_sections(
    detail: CaseDetail, submission: StoredSubmission | None, questionnaire: Questionnaire
) -> list[_Section]:
    sections = [
        _Section(_("<b>Answers</b>"), _answer_lines(submission, questionnaire)),
        _Section(
            _("<b>Follow-up</b>"),
            _thread_lines(detail.thread, for_staff=True) or [_("(no messages yet)")],
        ),
    ]
    if detail.notes:
        notes = []
        for note in detail.notes:
            for index, chunk in enumerate(_html_chunks(note.text, ITEM_BUDGET)):
                notes.append(f"{note.day.isoformat()}: {chunk}" if index == 0 else f"↳ {chunk}")
        sections.append(_Section(_("<b>Internal notes</b> (never shown to the reporter)"), notes))
    if detail.events:
        sections.append(
            _Section(
                _("<b>History</b>"),
                [f"{e.day.isoformat()}: {event_text(e.kind, e.value)}" for e in detail.events],
            )
        )
    return sections


def _paginate(sections: Sequence[_Section], room: int) -> tuple[list[str], int]:
    """Pages of at most `room` visible characters, and the page where the thread starts.

    A section's title travels with its first item, so no page ends on a bare heading."""
    pages: list[list[str]] = [[]]
    size = 0
    thread_page = 0
    for number, section in enumerate(sections):
        for index, item in enumerate(section.items or [""]):
            block = f"\n{section.title}\n{item}" if index == 0 else item
            length = visible_length(block) + 1
            if pages[-1] and size + length > room:
                pages.append([])
                size = 0
            if number == 1 and index == 0:
                thread_page = len(pages) - 1
            pages[-1].append(block)
            size += length
    return ["\n".join(page) for page in pages], thread_page


def case_screen(
    detail: CaseDetail,
    submission: StoredSubmission | None,
    questionnaire: Questionnaire,
    page: int = 0,
) -> Screen:
    """One page of a case: its header, part of the report, and always every action button.

    Long reports and threads are split into pages; a "Follow-up" button jumps to the thread."""
    summary = detail.summary
    header = [
        _("<b>Case #{ref}</b> · submitted {day}").format(
            ref=summary.ref, day=summary.day.isoformat()
        ),
        _("Status: {status}").format(status=status_name(summary.status)),
    ]
    if summary.labels:
        labels = _clip(", ".join(summary.labels), 600)
        header.append(_("Labels: {labels}").format(labels=escape(labels)))
    room = BUDGET - visible_length("\n".join(header)) - 80  # the page line
    pages, thread_page = _paginate(_case_sections(detail, submission, questionnaire), room)
    page = min(max(page, 0), len(pages) - 1)
    if len(pages) > 1:
        header.append(_("Page {page} of {pages}").format(page=page + 1, pages=len(pages)))
    ref = summary.ref
    rows = []
    if len(pages) > 1:
        navigation = []
        if page > 0:
            navigation.append(_case_button("◀", CaseCallback(a=CaseAct.VIEW, r=ref, p=page - 1)))
        if page != thread_page:
            navigation.append(
                _case_button(_("💬 Follow-up"), CaseCallback(a=CaseAct.VIEW, r=ref, p=thread_page))
            )
        if page + 1 < len(pages):
            navigation.append(_case_button("▶", CaseCallback(a=CaseAct.VIEW, r=ref, p=page + 1)))
        rows.append(navigation)
    rows += [
        [
            _case_button(_("💬 Reply"), CaseCallback(a=CaseAct.REPLY, r=ref)),
            _case_button(_("🏷 Status"), CaseCallback(a=CaseAct.STATUS_MENU, r=ref)),
        ],
        [
            _case_button(_("🔖 Label"), CaseCallback(a=CaseAct.LABEL, r=ref)),
            _case_button(_("📝 Note"), CaseCallback(a=CaseAct.NOTE, r=ref)),
        ],
        [_case_button(_("◀ Back"), CaseCallback(a=CaseAct.LIST, s=summary.status))],
    ]
    text = "\n".join(header) + "\n" + pages[page]
    return Screen(text, InlineKeyboardMarkup(inline_keyboard=rows))


def status_menu_screen(summary: CaseSummary) -> Screen:
    rows = [
        [_case_button(status_name(s), CaseCallback(a=CaseAct.SET_STATUS, r=summary.ref, s=s))]
        for s in CASE_STATUSES
        if s != summary.status
    ]
    rows.append([_case_button(_("◀ Back"), CaseCallback(a=CaseAct.VIEW, r=summary.ref))])
    text = _("Case #{ref}: choose the new status.").format(ref=summary.ref)
    return Screen(text, InlineKeyboardMarkup(inline_keyboard=rows))


def prompt_text(act: CaseAct, ref: str) -> str:
    if act == CaseAct.REPLY:
        return _(
            "Send your message to the reporter of case #{ref}. They read it the next time they "
            "use /followup. /cancel to stop."
        ).format(ref=ref)
    if act == CaseAct.NOTE:
        return _(
            "Send the internal note for case #{ref} (never shown to the reporter). /cancel to stop."
        ).format(ref=ref)
    return _(
        "Send a label for case #{ref} (a short word; an existing label removes it). "
        "/cancel to stop."
    ).format(ref=ref)


def done_text(act: CaseAct, ref: str) -> str:
    if act == CaseAct.REPLY:
        return _("Reply saved on case #{ref}.").format(ref=ref)
    if act == CaseAct.NOTE:
        return _("Note saved on case #{ref}.").format(ref=ref)
    return _("Labels of case #{ref} updated.").format(ref=ref)


def input_cancelled_text() -> str:
    return _("Cancelled; nothing was saved.")


def case_missing_text() -> str:
    return _("This case no longer exists.")


def audit_text(entries: Sequence[AuditEntry]) -> str:
    if not entries:
        return _("The audit log is empty.")
    lines = [_("<b>Audit log</b> (newest day first)")]
    lines += [
        f"{e.day.isoformat()} · {e.actor_user_id} · {escape(e.action)} · {escape(e.subject)}"
        for e in entries
    ]
    return _clip("\n".join(lines))
