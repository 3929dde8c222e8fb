"""What the respondent sees: text and inline keyboards for each screen.

Everything goes through gettext; questionnaire wording comes from its localized labels.
Every piece of user or questionnaire text is HTML-escaped, and every screen stays well within
Telegram's 4096-character limit.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from html import escape

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _

from bot.questionnaire import AnswerValue, Question, Questionnaire
from bot.questionnaire.engine import InputError, QuestionStep, ReviewStep
from bot.respondent.callbacks import (
    Act,
    AnnouncementsCallback,
    ClearChatCallback,
    LanguageCallback,
    ReceiptSavedCallback,
    SurveyCallback,
)

MESSAGE_LIMIT = 4096
REVIEW_BUDGET = 3800


@dataclass(frozen=True)
class Screen:
    """A message to send or to edit in place."""

    text: str
    markup: InlineKeyboardMarkup | None = None


def _button(text: str, data: CallbackData) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, callback_data=data.pack())


def _shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- welcome, privacy, help -------------------------------------------------------------


@dataclass(frozen=True)
class QuestionnaireLength:
    """How many questions a cadre meets: `fewest` are asked of everyone (no condition),
    `most` is every question; `typed` of them need typing (numbers or words)."""

    fewest: int
    most: int
    typed: int


def questionnaire_length(questionnaire: Questionnaire) -> QuestionnaireLength:
    questions = questionnaire.questions
    return QuestionnaireLength(
        fewest=sum(1 for q in questions if q.condition is None),
        most=len(questions),
        typed=sum(1 for q in questions if q.type in ("text", "number")),
    )


def announcements_statement() -> str:
    return _(
        "🔔 Announcements of new survey rounds are off unless you turn them on. If you do, "
        "we store your chat id (encrypted, filed under a keyed hash), your language and the "
        "month you subscribed — never linked to your answers. /stop deletes it."
    )


def privacy_text(k: int) -> str:
    return (
        _(
            "🔒 <b>What is kept, and who sees it</b>\n"
            "• Your answers are stored without your Telegram account, username or name, and "
            "with the day only, not the time.\n"
            "• The investigators read each report, written answers included, but never who "
            "wrote it.\n"
            "• In summaries, groups of fewer than {k} people are not shown.\n"
            "• Before a written answer is saved, phone and ID-card numbers, e-mail addresses "
            "and the like are removed, and you are told what was removed. Names, places and "
            "the details of a story are not recognised: leave out what could point to you.\n"
            "• Telegram knows who talks to this bot and sees the messages. The bot deletes "
            "your typed answers from the chat once it has read them, but Telegram may keep "
            "copies.\n"
            "• After submitting you get a receipt code, the only way back to your report. "
            "Only a scrambled form of it is stored, so it cannot be sent to you again."
        ).format(k=k)
        + "\n\n"
        + announcements_statement()
    )


def announcements_button(subscribed: bool) -> InlineKeyboardButton:
    """Turn announcements on (off until pressed) or off again."""
    if subscribed:
        return _button(_("🔕 Stop announcements"), AnnouncementsCallback(on=False))
    return _button(_("🔔 Receive announcements"), AnnouncementsCallback(on=True))


def length_text(length: QuestionnaireLength) -> str:
    if length.fewest == length.most:
        return _(
            "📋 {count} questions; at most {typed} of them ask you to type, the others are a "
            "tap on a button."
        ).format(count=length.most, typed=length.typed)
    return _(
        "📋 {fewest}–{most} questions, depending on your answers; at most {typed} of them ask "
        "you to type, the others are a tap on a button."
    ).format(fewest=length.fewest, most=length.most, typed=length.typed)


def welcome_screen(
    questionnaire: Questionnaire,
    locale: str,
    k: int,
    first_message_id: int,
    *,
    subscribed: bool,
) -> Screen:
    """Who we are, the questionnaire's own intro and real length, what is kept; start, and
    the announcements switch."""
    text = (
        _("👋 Hello! This is <b>Qingfeng (清风)</b>.")
        + "\n\n"
        + f"<b>{escape(questionnaire.title_for(locale))}</b>\n"
        + escape(questionnaire.intro_for(locale))
        + "\n\n"
        + length_text(questionnaire_length(questionnaire))
        + "\n\n"
        + privacy_text(k)
    )
    markup = InlineKeyboardMarkup(
        inline_keyboard=[
            [
                _button(
                    _("✅ I understand — start"),
                    SurveyCallback(a=Act.CONSENT, v=str(first_message_id)),
                )
            ],
            [announcements_button(subscribed)],
        ]
    )
    return Screen(_fit(text), markup)


def _fit(text: str) -> str:
    return text if len(text) <= MESSAGE_LIMIT else text[: MESSAGE_LIMIT - 1] + "…"


def with_announcements_switch(
    markup: InlineKeyboardMarkup | None, subscribed: bool
) -> InlineKeyboardMarkup | None:
    """The same keyboard with its announcements button showing the new state."""
    if markup is None:
        return None
    prefix = AnnouncementsCallback.__prefix__ + ":"
    rows = [
        [
            announcements_button(subscribed)
            if (button.callback_data or "").startswith(prefix)
            else button
            for button in row
        ]
        for row in markup.inline_keyboard
    ]
    return InlineKeyboardMarkup(inline_keyboard=rows)


def announcements_on_text() -> str:
    return _(
        "🔔 Announcements are on. Stored: your chat id (encrypted, filed under a keyed hash), "
        "your language and this month — nothing that links to your answers. Send /stop or "
        "press the button to turn them off and delete it."
    )


def announcements_off_text() -> str:
    return _("🔕 Announcements are off, and the record of this chat's subscription is deleted.")


def already_subscribed_text() -> str:
    return _("Announcements are already on.")


def not_subscribed_text() -> str:
    return _("Announcements were not on; nothing about them is stored for this chat.")


def resume_screen(step: QuestionStep | ReviewStep) -> Screen:
    if isinstance(step, QuestionStep):
        where = _("You stopped at question {position} of {total}.").format(
            position=step.position, total=step.total
        )
    else:
        where = _("You had reached the review of your answers.")
    text = _("📝 You have an unfinished questionnaire.") + "\n" + where
    markup = InlineKeyboardMarkup(
        inline_keyboard=[
            [_button(_("▶️ Continue"), SurveyCallback(a=Act.RESUME))],
            [_button(_("🔄 Start over"), SurveyCallback(a=Act.RESTART))],
        ]
    )
    return Screen(text, markup)


def help_text() -> str:
    return _(
        "ℹ️ <b>How this bot works</b>\n"
        "/start — answer the questionnaire (anonymous)\n"
        "/privacy — what is stored and what is never stored\n"
        "/followup — read the investigators' reply with your receipt code\n"
        "/language — 中文 / English\n"
        "/cancel — stop and delete your unfinished answers\n"
        "/stop — stop receiving announcements"
    )


def stray_text_reply() -> str:
    return _(
        "I can only take answers inside the questionnaire. Send /start to begin, "
        "or /help to see what I can do."
    )


def language_screen() -> Screen:
    from bot.i18n import LANGUAGE_NAMES, SUPPORTED_LOCALES

    return Screen(
        _("Choose your language:"),
        InlineKeyboardMarkup(
            inline_keyboard=[
                [_button(LANGUAGE_NAMES[code], LanguageCallback(code=code))]
                for code in SUPPORTED_LOCALES
            ]
        ),
    )


# --- answers ------------------------------------------------------------------------------


def format_answer(question: Question, value: AnswerValue | None, locale: str) -> str:
    """A human-readable answer (not escaped)."""
    if value is None:
        return _("(skipped)")
    if question.type == "single" and isinstance(value, str):
        return question.choice_label(value, locale)
    if question.type == "multi" and isinstance(value, list):
        return "、".join(question.choice_label(v, locale) for v in value) or _("(none)")
    if question.type == "scale" and isinstance(value, int):
        return f"{value} / {question.max}"
    return str(value)


def error_text(error: InputError) -> str:
    params = dict(error.params)
    messages = {
        "not_a_choice": _("Please choose one of the buttons."),
        "out_of_range": _("Please send a whole number from {min} to {max}."),
        "not_an_integer": _("Please send a whole number, for example 12."),
        "too_long": _("That is {length} characters; the limit is {max}. Please shorten it."),
        "empty": _("The answer is empty. Write something, or press Skip."),
        "required": _("This question needs an answer."),
        "too_many_choices": _("You can choose at most {max}."),
        "stale": _("That button belongs to an earlier question."),
        "invalid": _("That answer could not be used. Please try again."),
        "incomplete": _("Some required questions are still unanswered ({remaining})."),
        "no_previous": _("This is the first question."),
    }
    template = messages.get(error.code, _("That answer could not be used. Please try again."))
    try:
        return template.format(**params)
    except (KeyError, IndexError):
        return template


MASK_KINDS = (
    "phone",
    "id_card",
    "email",
    "landline",
    "bank_card",
    "im_account",
    "license_plate",
    "person",
    "url",
)


def masked_kind_name(kind: str) -> str:
    names = {
        "phone": _("a phone number"),
        "id_card": _("an ID-card number"),
        "email": _("an e-mail address"),
        "landline": _("a landline number"),
        "bank_card": _("a bank-card number"),
        "im_account": _("a QQ/WeChat account"),
        "license_plate": _("a licence plate"),
        "person": _("a person's name"),
        "url": _("a link"),
    }
    return names.get(kind, _("personal details"))


def _masked_names(kinds: Iterable[str]) -> str:
    return "、".join(masked_kind_name(k) for k in kinds)


def masked_notice(kinds: Iterable[str]) -> str:
    return _("🛡 To protect you, we removed {what} from your answer before saving it.").format(
        what=escape(_masked_names(kinds))
    )


ECHO_LIMIT = 4000


def _echo_body(answer: str) -> str:
    shown = answer if len(answer) <= ECHO_LIMIT else answer[: ECHO_LIMIT - 1] + "…"
    return escape(shown)


def recorded_text(answer: str, masked: Iterable[str] = ()) -> str:
    """The answer as stored (already scrubbed), naming what was masked; never the raw text."""
    kinds = tuple(masked)
    if kinds:
        return _("🛡 Saved (we removed {what}): {answer}").format(
            what=escape(_masked_names(kinds)), answer=_echo_body(answer)
        )
    return _("📝 Saved: {answer}").format(answer=_echo_body(answer))


def edit_recorded_text(answer: str, masked: Iterable[str] = ()) -> str:
    kinds = tuple(masked)
    if kinds:
        return _("✏️ Your edit replaced the answer (we removed {what}): {answer}").format(
            what=escape(_masked_names(kinds)), answer=_echo_body(answer)
        )
    return _("✏️ Your edit replaced the answer: {answer}").format(answer=_echo_body(answer))


def edit_not_taken_text() -> str:
    return _(
        "✏️ This edit was not taken: only the answer you sent last, before moving on, can be "
        "changed by editing it. To change an earlier answer, tap its number on the review "
        "screen before you submit."
    )


def edit_refused_text(error: InputError) -> str:
    return _("✏️ This edit was not taken: {reason}").format(reason=escape(error_text(error)))


def idle_edit_text() -> str:
    return _("✏️ Editing a message changes nothing here: I read each message once.")


def too_long_copy_text(error: InputError, scrubbed: str) -> str:
    """A refused over-long answer: the raw message is deleted, so give the cadre the
    scrubbed text back to shorten (never the raw text)."""
    params = dict(error.params)
    header = _(
        "That is {length} characters; the limit is {max}. So that your words are not left in "
        "the chat, I deleted your message. Here is the text with personal details removed, "
        "to copy, shorten and send again:"
    ).format(length=params.get("length", len(scrubbed)), max=params.get("max", ""))
    room = MESSAGE_LIMIT - len(header) - 4
    shown = scrubbed if len(scrubbed) <= room else scrubbed[: room - 1] + "…"
    return header + "\n\n" + escape(shown)


def media_refusal(kind: str) -> str:
    reasons = {
        "voice": _("A voice message can identify you by your voice"),
        "video": _("A video can identify you by your face, voice or surroundings"),
        "video_note": _("A video can identify you by your face, voice or surroundings"),
        "photo": _("A photo can carry your location and other hidden details"),
        "document": _("A file can carry your name and other hidden details"),
        "location": _("A location can identify where you work or live"),
        "contact": _("A contact card holds a name and a phone number"),
        "sticker": _("Stickers cannot be used as answers"),
    }
    reason = reasons.get(kind, _("This kind of message cannot be used as an answer"))
    return reason + _(", so I did not keep it. Please answer in words.")


# --- question and review ------------------------------------------------------------------


def question_screen(
    step: QuestionStep,
    questionnaire: Questionnaire,
    locale: str,
    *,
    notice: str | None = None,
    error: InputError | None = None,
) -> Screen:
    q = step.question
    section = questionnaire.section_of(q.id)
    lines: list[str] = []
    if notice:
        lines += [notice, ""]
    lines.append(f"<b>{escape(section.title_for(locale))}</b>")
    lines.append(
        _("Question {position} of {total}").format(position=step.position, total=step.total)
    )
    lines.append("")
    lines.append(f"<b>{escape(q.label_for(locale))}</b>")
    help_text_ = q.help_for(locale)
    if help_text_:
        lines.append(f"<i>{escape(help_text_)}</i>")
    if q.type == "scale":
        lines.append(
            escape(
                _("{min} = {min_label} … {max} = {max_label}").format(
                    min=q.min,
                    max=q.max,
                    min_label=q.text("min_label", locale=locale),
                    max_label=q.text("max_label", locale=locale),
                )
            )
        )
    elif q.type == "text":
        lines.append(
            _(
                "✍️ Send your answer as a message (up to {max} characters). "
                "Please leave out names and phone numbers."
            ).format(max=q.max_length)
        )
    elif q.type == "number":
        lines.append(_("🔢 Send a whole number from {min} to {max}.").format(min=q.min, max=q.max))
    elif q.type == "multi":
        if q.max_choices:
            lines.append(_("Choose up to {max}, then press Done.").format(max=q.max_choices))
        else:
            lines.append(_("Choose all that apply, then press Done."))
    if step.current is not None and q.type in ("text", "number"):
        lines.append("")
        lines.append(
            _("Current answer: {answer}").format(
                answer=escape(_shorten(format_answer(q, step.current, locale), 300))
            )
        )
    if error is not None:
        lines += ["", "⚠️ " + escape(error_text(error))]
    return Screen("\n".join(lines), question_keyboard(step, locale))


def question_keyboard(step: QuestionStep, locale: str) -> InlineKeyboardMarkup:
    q = step.question
    rows: list[list[InlineKeyboardButton]] = []
    if q.type == "single":
        for choice in q.choices:
            mark = "🔘 " if step.current == choice.id else ""
            rows.append(
                [
                    _button(
                        mark + q.choice_label(choice.id, locale),
                        SurveyCallback(a=Act.ANSWER, q=q.id, v=choice.id),
                    )
                ]
            )
    elif q.type == "multi":
        selected = set(step.pending)
        for choice in q.choices:
            mark = "☑️ " if choice.id in selected else "⬜ "
            rows.append(
                [
                    _button(
                        mark + q.choice_label(choice.id, locale),
                        SurveyCallback(a=Act.TOGGLE, q=q.id, v=choice.id),
                    )
                ]
            )
        rows.append([_button(_("✅ Done"), SurveyCallback(a=Act.DONE, q=q.id))])
    elif q.type == "scale":
        assert q.min is not None and q.max is not None
        scale_row = []
        for value in range(q.min, q.max + 1):
            mark = "🔘" if step.current == value else ""
            scale_row.append(
                _button(f"{mark}{value}", SurveyCallback(a=Act.ANSWER, q=q.id, v=str(value)))
            )
        for start in range(0, len(scale_row), 6):
            rows.append(scale_row[start : start + 6])
    nav: list[InlineKeyboardButton] = []
    if step.can_go_back:
        nav.append(_button(_("⬅️ Back"), SurveyCallback(a=Act.BACK, q=q.id)))
    if step.can_skip:
        nav.append(_button(_("⏭ Skip"), SurveyCallback(a=Act.SKIP, q=q.id)))
    if nav:
        rows.append(nav)
    if step.editing:
        rows.append([_button(_("📋 Back to review"), SurveyCallback(a=Act.REVIEW, q=q.id))])
    rows.append([_button(_("✖️ Cancel"), SurveyCallback(a=Act.CANCEL))])
    return InlineKeyboardMarkup(inline_keyboard=rows)


def review_screen(step: ReviewStep, locale: str) -> Screen:
    """Every relevant answer, numbered, with an edit button per question and Submit."""
    header = (
        _("📋 <b>Please check your answers</b>")
        + "\n"
        + _("Tap a number to change that answer, then submit.")
    )
    answer_limit = 120
    while True:
        items = []
        for number, (question, value) in enumerate(step.items, start=1):
            label = _shorten(question.label_for(locale), 40)
            answer = _shorten(format_answer(question, value, locale), answer_limit)
            items.append(f"{number}. {escape(label)}\n   → {escape(answer)}")
        text = header + "\n\n" + "\n".join(items)
        if len(text) <= REVIEW_BUDGET or answer_limit <= 20:
            break
        answer_limit -= 20
    if len(text) > REVIEW_BUDGET:
        text = text[: REVIEW_BUDGET - 1] + "…"
    buttons = [
        _button(f"✏️{number}", SurveyCallback(a=Act.EDIT, q=question.id))
        for number, (question, _value) in enumerate(step.items, start=1)
    ]
    rows = [buttons[i : i + 6] for i in range(0, len(buttons), 6)]
    rows.append([_button(_("📨 Submit"), SurveyCallback(a=Act.SUBMIT))])
    rows.append([_button(_("✖️ Cancel"), SurveyCallback(a=Act.CANCEL))])
    return Screen(text, InlineKeyboardMarkup(inline_keyboard=rows))


# --- after submitting ---------------------------------------------------------------------


def submitted_text() -> str:
    return _("✅ Submitted. Thank you for speaking up.")


def preview_started_text(questionnaire_id: str, version: int) -> str:
    return _(
        "Preview of {id} version {version}: walk it as a cadre would. Nothing you answer is "
        "stored, and Submit stores nothing."
    ).format(id=escape(questionnaire_id), version=version)


def preview_submitted_text() -> str:
    return _("Preview — nothing stored. The preview is over.")


def receipt_screen(code: str, first_message_id: int) -> Screen:
    """Sent with `protect_content`: it cannot be forwarded, and one tap deletes it."""
    text = (
        _("🧾 <b>Your receipt code</b>")
        + f"\n\n<code>{escape(code)}</code>\n\n"
        + _(
            "Write it down and keep it somewhere private, not in this chat. This message "
            "cannot be forwarded (on some phones it cannot be copied or captured either). The "
            "code is the only way to read the investigators' questions about your report and "
            "to answer them: come back in a few days and send /followup. Only a scrambled form "
            "of it is stored, so we cannot look it up or send it to you again."
        )
        + "\n\n"
        + _(
            "Once you have saved it, the first button deletes this message; the second clears "
            "the whole conversation. Telegram lets a bot delete messages for 48 hours."
        )
    )
    markup = InlineKeyboardMarkup(
        inline_keyboard=[
            [
                _button(
                    _("✅ I have saved it — delete this message"),
                    ReceiptSavedCallback(first=first_message_id),
                )
            ],
            [
                _button(
                    _("🧹 Clear this conversation"),
                    ClearChatCallback(first=first_message_id),
                )
            ],
        ]
    )
    return Screen(text, markup)


def receipt_deleted_screen(first_message_id: int) -> Screen:
    return Screen(
        _("🧾 The receipt message is deleted. You can also clear the rest of this conversation."),
        InlineKeyboardMarkup(
            inline_keyboard=[
                [
                    _button(
                        _("🧹 Clear this conversation"),
                        ClearChatCallback(first=first_message_id),
                    )
                ]
            ]
        ),
    )


def receipt_deleted_answer() -> str:
    return _("Deleted.")


def chat_cleared_text() -> str:
    return _(
        "🧹 Done. The messages of this session that Telegram still allowed me to delete "
        "are gone. Thank you!"
    )


def limit_reached_text(limit: int) -> str:
    return _(
        "Thank you — you have already sent {limit} reports today, which is the daily limit. "
        "Your answers are kept as a draft for a while: please come back tomorrow to submit."
    ).format(limit=limit)


def cancelled_text() -> str:
    return _("Cancelled. Your unfinished answers have been deleted. Send /start to begin again.")


def nothing_to_cancel_text() -> str:
    return _("There is nothing to cancel. Send /start to answer the questionnaire.")


def expired_button_text() -> str:
    return _("This button has expired. Send /start to continue.")


def stale_button_text() -> str:
    return _("This button is from an older message; please use the latest question.")


def use_buttons_text() -> str:
    return _("Please answer this question with the buttons.")


def use_buttons_review_text() -> str:
    return _("Please use the buttons to change an answer or to submit.")


def receipt_in_answer_text() -> str:
    return _(
        "🧾 This looks like a receipt code, so I deleted the message at once and saved "
        "nothing from it. Never write it into an answer; to use it, send /followup once this "
        "questionnaire is submitted or cancelled."
    )


def receipt_in_idle_chat_text() -> str:
    return _(
        "🧾 This looks like a receipt code, so I deleted the message at once. To read the "
        "replies to your report, send /followup and then the code."
    )


def questionnaire_changed_text() -> str:
    return _("The questionnaire has been updated since you started. Please start again: /start")


def no_open_campaign_text() -> str:
    """Campaigns are defined but none is open today (issue 6)."""
    return _(
        "Thank you for your interest. No survey is open right now; please come back when the "
        "next one opens. You can still read replies to earlier reports with /followup."
    )
