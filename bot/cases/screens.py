"""What investigators see in case handling (Telegram keyboards).

Everything goes through gettext; user text is HTML-escaped; screens stay under 4096
characters (a long case is split into pages, so its thread and buttons are always reachable).
Case answers use the questionnaire's zh-CN labels, as investigators read Chinese. What the
cadre sees of a follow-up is channel-neutral: `bot.conversation.followup_screens`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from html import escape, unescape

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _

from bot.cases.callbacks import CaseAct, CaseCallback
from bot.conversation.followup_screens import plain_links_html as plain_links_html
from bot.conversation.followup_screens import status_name as status_name
from bot.conversation.followup_screens import who
from bot.conversation.screens import format_answer
from bot.questionnaire import Questionnaire
from bot.statuses import CaseEventKind, CaseStatus
from storage.repositories import (
    AuditEntry,
    CaseDetail,
    CaseSummary,
    StoredSubmission,
    ThreadMessage,
)

BUDGET = 3800
PAGE_SIZE = 8
CASE_LOCALE = "zh-CN"
ITEM_BUDGET = 1500  # one answer or message part; longer ones continue in the next item


@dataclass(frozen=True)
class Screen:
    """A message to send or to edit in place."""

    text: str
    markup: InlineKeyboardMarkup | None = None


def _clip(text: str, limit: int = BUDGET) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


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


def _thread_lines(thread: Sequence[ThreadMessage], *, for_staff: bool) -> list[str]:
    """The staff's view of the thread: one item per message part (see `_html_chunks`)."""
    lines = []
    for message in thread:
        head = f"<b>{who(message.origin, for_staff=for_staff)}</b> · {message.day.isoformat()}"
        for index, chunk in enumerate(_html_chunks(message.text, ITEM_BUDGET)):
            lines.append(f"{head}\n{chunk}" if index == 0 else f"↳ {chunk}")
    return lines


# --- investigators ------------------------------------------------------------------------


def staff_only_text() -> str:
    return _("This command is for investigators.")


def admin_only_text() -> str:
    return _("Only administrators can do this.")


def _case_button(text: str, data: CaseCallback) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, callback_data=data.pack())


def overview_screen(counts: dict[str, int]) -> Screen:
    lines = [_("<b>Reports</b> by status:")]
    rows = []
    for status in CaseStatus:
        label = f"{status_name(status)} ({counts.get(status, 0)})"
        lines.append("• " + label)
        rows.append([_case_button(label, CaseCallback(a=CaseAct.LIST, s=status))])
    return Screen("\n".join(lines), InlineKeyboardMarkup(inline_keyboard=rows))


def list_screen(status: CaseStatus, page: int, items: Sequence[CaseSummary], total: int) -> Screen:
    pages = max(1, (total + PAGE_SIZE - 1) // PAGE_SIZE)
    text = _("<b>{status}</b>: {total} report(s), page {page} of {pages}, newest first.").format(
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


def _answer_order(submission: StoredSubmission, questionnaire: Questionnaire) -> list[str]:
    """The answers' keys in asking order; keys the questionnaire does not know go last."""
    position = {field.key: index for index, field in enumerate(questionnaire.answer_fields)}
    return sorted(
        submission.answers,
        key=lambda key: (0, position[key], key) if key in position else (1, 0, key),
    )


def quote_keys(submission: StoredSubmission) -> list[str]:
    """The free-text answers a quote button can point at, by index: sorted question ids, so
    the index in a button means the same answer however the screen orders them."""
    return sorted(submission.text_question_ids)


def quoted_marker() -> str:
    return _("(marked quotable)")


def _answer_lines(submission: StoredSubmission | None, questionnaire: Questionnaire) -> list[str]:
    """One item per answer, in asking order, a grid row under its own label (a long
    free-text answer continues over several items; a quotable one says so at its end)."""
    if submission is None:
        return []
    lines = []
    for key in _answer_order(submission, questionnaire):
        value = submission.answers[key]
        if questionnaire.has_answer_field(key):
            field = questionnaire.answer_field(key)
            label = field.label_for(CASE_LOCALE)
            shown = format_answer(field.question, value, CASE_LOCALE)
        else:
            label, shown = key, str(value)
        head = f"• {escape(label)}: "
        for index, chunk in enumerate(_html_chunks(shown, ITEM_BUDGET)):
            lines.append(head + chunk if index == 0 else f"↳ {chunk}")
        if key in submission.quotable_question_ids:
            lines[-1] += " " + quoted_marker()
    return lines


def _quote_rows(
    ref: str, page: int, submission: StoredSubmission | None, questionnaire: Questionnaire
) -> list[list[InlineKeyboardButton]]:
    """One button per free-text answer, in asking order: mark it quotable, or unmark it."""
    if submission is None:
        return []
    index_of = {key: index for index, key in enumerate(quote_keys(submission))}
    rows = []
    for key in _answer_order(submission, questionnaire):
        if key not in index_of:
            continue
        label = (
            questionnaire.answer_field(key).label_for(CASE_LOCALE)
            if questionnaire.has_answer_field(key)
            else key
        )
        label = _clip(label, 24)
        if key in submission.quotable_question_ids:
            text, act = _("Unquote: {label}").format(label=label), CaseAct.UNQUOTE
        else:
            text, act = _("Quotable: {label}").format(label=label), CaseAct.QUOTE
        data = CaseCallback(a=act, r=ref, s=str(index_of[key]), p=page)
        rows.append([_case_button(text, data)])
    return rows


def event_text(kind: CaseEventKind, value: str) -> str:
    if kind == CaseEventKind.STATUS:
        return _("status → {status}").format(status=status_name(value))
    if kind == CaseEventKind.LABEL:
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
        _("<b>Report #{ref}</b> · submitted {day}").format(
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
        *_quote_rows(ref, page, submission, questionnaire),
        [_case_button(_("◀ Back"), CaseCallback(a=CaseAct.LIST, s=summary.status))],
    ]
    text = "\n".join(header) + "\n" + pages[page]
    return Screen(text, InlineKeyboardMarkup(inline_keyboard=rows))


def status_menu_screen(summary: CaseSummary) -> Screen:
    rows = [
        [_case_button(status_name(s), CaseCallback(a=CaseAct.SET_STATUS, r=summary.ref, s=s))]
        for s in CaseStatus
        if s != summary.status
    ]
    rows.append([_case_button(_("◀ Back"), CaseCallback(a=CaseAct.VIEW, r=summary.ref))])
    text = _("Report #{ref}: choose the new status.").format(ref=summary.ref)
    return Screen(text, InlineKeyboardMarkup(inline_keyboard=rows))


def prompt_text(act: CaseAct, ref: str) -> str:
    if act == CaseAct.REPLY:
        return _(
            "Send your message to whoever sent report #{ref}. They read it the next time "
            "they use /followup. /cancel to stop."
        ).format(ref=ref)
    if act == CaseAct.NOTE:
        return _(
            "Send the internal note for report #{ref} (never shown to the reporter). "
            "/cancel to stop."
        ).format(ref=ref)
    return _(
        "Send a label for report #{ref} (a short word; an existing label removes it). "
        "/cancel to stop."
    ).format(ref=ref)


def done_text(act: CaseAct, ref: str) -> str:
    if act == CaseAct.REPLY:
        return _("Reply saved on report #{ref}.").format(ref=ref)
    if act == CaseAct.NOTE:
        return _("Note saved on report #{ref}.").format(ref=ref)
    return _("Labels of report #{ref} updated.").format(ref=ref)


def input_cancelled_text() -> str:
    return _("Cancelled; nothing was saved.")


def case_missing_text() -> str:
    return _("This report no longer exists.")


def audit_text(entries: Sequence[AuditEntry]) -> str:
    if not entries:
        return _("The audit log is empty.")
    lines = [_("<b>Audit log</b> (newest day first)")]
    lines += [
        f"{e.day.isoformat()} · {e.actor_user_id} · {escape(e.action)} · {escape(e.subject)}"
        for e in entries
    ]
    return _clip("\n".join(lines))
