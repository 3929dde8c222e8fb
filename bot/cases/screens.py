"""What cadres and investigators see in follow-ups and case handling.

Everything goes through gettext; user text is HTML-escaped; screens stay under 4096
characters. Case answers use the questionnaire's zh-CN labels, as investigators read Chinese.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from html import escape

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _

from bot.cases.callbacks import CaseAct, CaseCallback, FollowupAct, FollowupCallback
from bot.questionnaire import Questionnaire
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


def _clip(text: str, limit: int = BUDGET) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


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


def _thread_lines(thread: Sequence[ThreadMessage], *, for_staff: bool) -> list[str]:
    lines = []
    for message in thread:
        if message.origin == "investigator":
            who = _("Investigator")
        elif for_staff:
            who = _("Reporter")
        else:
            who = _("You")
        lines.append(f"<b>{who}</b> · {message.day.isoformat()}\n{escape(message.text)}")
    return lines


def cadre_report_screen(summary: CaseSummary, thread: Sequence[ThreadMessage]) -> Screen:
    parts = [
        _("📄 <b>Your report</b> of {day}").format(day=summary.day.isoformat()),
        _("Status: {status}").format(status=status_name(summary.status)),
        "",
    ]
    if thread:
        parts += _thread_lines(thread, for_staff=False)
    else:
        parts.append(_("No messages from the investigators yet. Please come back in a few days."))
    parts += [
        "",
        _(
            "To answer a question or add information, press the button, then send your text. "
            "Do not write your name or contact details."
        ),
    ]
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
        ]
    )
    return Screen(_clip("\n".join(parts)), markup)


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
        lines.append(f"• {escape(label)}: {escape(shown)}")
    return lines


def event_text(kind: str, value: str) -> str:
    if kind == "status":
        return _("status → {status}").format(status=status_name(value))
    if kind == "label":
        return _("label added: {label}").format(label=escape(value))
    return _("label removed: {label}").format(label=escape(value))


def case_screen(
    detail: CaseDetail, submission: StoredSubmission | None, questionnaire: Questionnaire
) -> Screen:
    summary = detail.summary
    parts = [
        _("<b>Case #{ref}</b> · submitted {day}").format(
            ref=summary.ref, day=summary.day.isoformat()
        ),
        _("Status: {status}").format(status=status_name(summary.status)),
    ]
    if summary.labels:
        parts.append(_("Labels: {labels}").format(labels=escape(", ".join(summary.labels))))
    parts += ["", _("<b>Answers</b>"), *_answer_lines(submission, questionnaire)]
    parts += ["", _("<b>Follow-up</b>")]
    parts += _thread_lines(detail.thread, for_staff=True) or [_("(no messages yet)")]
    if detail.notes:
        parts += ["", _("<b>Internal notes</b> (never shown to the reporter)")]
        parts += [f"{note.day.isoformat()}: {escape(note.text)}" for note in detail.notes]
    if detail.events:
        parts += ["", _("<b>History</b>")]
        parts += [f"{e.day.isoformat()}: {event_text(e.kind, e.value)}" for e in detail.events]
    ref = summary.ref
    rows = [
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
    return Screen(_clip("\n".join(parts)), InlineKeyboardMarkup(inline_keyboard=rows))


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
