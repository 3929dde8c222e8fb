"""What the cadre sees in the questionnaire: texts and screens as channel-neutral data.

Everything goes through gettext (the msgids are the catalogues' keys: change one only with
both catalogues); questionnaire wording comes from its localized labels. Bodies are in the
escaped HTML subset described in `bot.conversation.model`, and every screen stays well within
Telegram's 4096-character limit, the smallest of the channels.

Texts that tell the cadre what to do next, or what the channel keeps and sees, take the
cadre's `channel`: Telegram has commands and a chat history the bot may delete for a while; a
web page has its own controls (「重新开始」 and 「查看回复」 at the top, chips on each screen),
no account, and nothing left on the phone's screen once the tab is closed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import lru_cache
from html import escape
from typing import TypeVar

from bot.conversation.model import (
    Act,
    Action,
    Channel,
    GridRow,
    InputKind,
    Option,
    Progress,
    Screen,
    TextInput,
)
from bot.i18n.text import current_locale
from bot.i18n.text import gettext as _
from bot.questionnaire import AnswerValue, Question, Questionnaire
from bot.questionnaire.engine import (
    Engine,
    InputError,
    QuestionStep,
    ReviewItem,
    ReviewStep,
    RowStep,
)

MESSAGE_LIMIT = 4096
REVIEW_BUDGET = 3800
ECHO_LIMIT = 4000


_Part = TypeVar("_Part")


class QuestionParts:
    """Pieces of a question's screen that follow from the question alone (its wording in one
    locale, a grid row's cells with one of them marked), built once and handed out again.

    A grid is most of the presses, and each press used to rebuild its ten rows of cells. A
    piece says nothing about who saw it: there are only as many as the question has rows
    times choices. Entries hold their question, so the `id` in a key is never another's;
    the oldest go first beyond `size`.
    """

    def __init__(self, size: int = 8192) -> None:
        self._size = size
        self._entries: dict[tuple[object, ...], tuple[Question, object]] = {}

    def get(
        self,
        q: Question,
        key: tuple[object, ...],
        build: Callable[..., _Part],
        *arguments: object,
    ) -> _Part:
        """The piece under `key`, else `build(*arguments)`, kept under it."""
        full = (id(q), *key)
        hit = self._entries.get(full)
        if hit is not None and hit[0] is q:
            return hit[1]  # type: ignore[return-value]
        part = build(*arguments)
        self._entries[full] = (q, part)
        if len(self._entries) > self._size:
            del self._entries[next(iter(self._entries))]
        return part


_PARTS = QuestionParts()


def _shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _fit(text: str) -> str:
    return text if len(text) <= MESSAGE_LIMIT else text[: MESSAGE_LIMIT - 1] + "…"


@lru_cache(maxsize=4096)
def _option(label: str, act: Act, question: str = "", value: str = "") -> Option:
    """A button that is not a choice (Done, Back, Cancel…), built once per label and target."""
    return Option(label, Action(act, question, value))


def _choice(q: Question, act: Act, choice_id: str, locale: str, selected: bool) -> Option:
    """A choice of a single or multi question as a button, marked or not."""
    return Option(q.choice_label(choice_id, locale), Action(act, q.id, choice_id), selected)


def _scale_point(q: Question, value: int, selected: bool) -> Option:
    return Option(str(value), Action(Act.ANSWER, q.id, str(value)), selected=selected)


# --- welcome, privacy, help -------------------------------------------------------------


def announcements_statement() -> str:
    return _(
        "🔔 Announcements of new survey rounds are off unless you turn them on. If you do, "
        "we store your chat id (encrypted, filed under a keyed hash), your language and the "
        "month you subscribed — never linked to your answers. /stop deletes it."
    )


def privacy_text(k: int, *, channel: Channel = Channel.TELEGRAM) -> str:
    """What is kept and who sees it. The web has no account and no announcements, but the
    cadre's network can see that the site was opened: say so."""
    if channel == Channel.WEB:
        return _(
            "🔒 <b>What is kept, and who sees it</b>\n"
            "• This page needs no account and sets no cookies. No IP address, no browser "
            "details and no time are stored with your answers — only the day.\n"
            "• The investigators read each report, written answers included, but never who "
            "wrote it.\n"
            "• In summaries, groups of fewer than {k} people are not shown.\n"
            "• Before a written answer is saved, phone and ID-card numbers, e-mail addresses "
            "and the like are removed, and you are told what was removed. Names, places and "
            "the details of a story are not recognised: leave out what could point to you.\n"
            "• What your network can still see: the unit's Wi-Fi or your phone's carrier can "
            "see that this phone opened this site, but not your answers, which travel "
            "encrypted (HTTPS). WeChat can see that the link was opened. If that worries you, "
            "use mobile data rather than the unit's Wi-Fi, and close the tab when you are "
            "done.\n"
            "• After submitting you get a receipt code, the only way back to your report. "
            "Only a scrambled form of it is stored, so it cannot be sent to you again."
        ).format(k=k)
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


def announcements_option(subscribed: bool) -> Option:
    """Turn announcements on (off until pressed) or off again."""
    if subscribed:
        return _option(_("🔕 Stop announcements"), Act.ANNOUNCEMENTS, value="off")
    return _option(_("🔔 Receive announcements"), Act.ANNOUNCEMENTS, value="on")


def length_text(minutes: int) -> str:
    """The honest length of a typical walk (the engine's estimate)."""
    return _("📋 About {minutes} min; most questions take a tap on a button.").format(
        minutes=max(1, minutes)
    )


def welcome_screen(
    questionnaire: Questionnaire,
    locale: str,
    k: int,
    first: int,
    *,
    subscribed: bool | None,
    channel: Channel = Channel.TELEGRAM,
    minutes: int | None = None,
) -> Screen:
    """Who we are, the questionnaire's own intro and real length (`minutes`, else the
    engine's estimate), what is kept; start, and the announcements switch (when the channel
    has announcements: `subscribed` not None; the web has none)."""
    if minutes is None:
        minutes = Engine(questionnaire).estimated_minutes()
    text = (
        _("👋 Hello! This is <b>Qingfeng (清风)</b>.")
        + "\n\n"
        + f"<b>{escape(questionnaire.title_for(locale))}</b>\n"
        + escape(questionnaire.intro_for(locale))
        + "\n\n"
        + length_text(minutes)
        + "\n\n"
        + privacy_text(k, channel=channel)
    )
    rows: list[tuple[Option, ...]] = [
        (_option(_("✅ I understand — start"), Act.CONSENT, value=str(first)),)
    ]
    if subscribed is not None and channel != Channel.WEB:
        rows.append((announcements_option(subscribed),))
    return Screen(_fit(text), tuple(rows))


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
        where = _("You stopped in part {position} of {total}.").format(
            position=step.section_position, total=step.section_total
        )
    else:
        where = _("You had reached the review of your answers.")
    text = _("📝 You have an unfinished questionnaire.") + "\n" + where
    rows = (
        (_option(_("▶️ Continue"), Act.RESUME),),
        (_option(_("🔄 Start over"), Act.RESTART),),
    )
    return Screen(text, rows)


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


def stray_text_reply(*, channel: Channel = Channel.TELEGRAM) -> str:
    if channel == Channel.WEB:
        return _(
            "I can only take answers inside the questionnaire. Tap “Start over” at the top of "
            "the page to begin, or “Read replies” to read the replies to a report."
        )
    return _(
        "I can only take answers inside the questionnaire. Send /start to begin, "
        "or /help to see what I can do."
    )


def choose_language_text() -> str:
    return _("Choose your language:")


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
    if question.type == "grid":  # one row's answer: a choice, or an integer of the scale
        if isinstance(value, str) and value in question.choice_ids:
            return question.choice_label(value, locale)
        if isinstance(value, int):
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

PROGRESS_CELLS = 10


def progress_bar(fraction: float) -> str:
    """A short bar of the questions seen, for a chat message (the web draws its own):
    ten cells read at a glance on a small screen and never wrap."""
    filled = min(PROGRESS_CELLS, max(0, round(fraction * PROGRESS_CELLS)))
    return "▓" * filled + "░" * (PROGRESS_CELLS - filled)


def progress_of(step: QuestionStep) -> Progress:
    """The part of the questionnaire the cadre is in, and how far through it they are."""
    label = _("Part {position} of {total}").format(
        position=step.section_position, total=step.section_total
    )
    return Progress(step.section_position, step.section_total, label, fraction=step.fraction)


def _scale_line(q: Question, locale: str) -> str:
    return escape(
        _("{min} = {min_label} … {max} = {max_label}").format(
            min=q.min,
            max=q.max,
            min_label=q.text("min_label", locale=locale),
            max_label=q.text("max_label", locale=locale),
        )
    )


def _text_instruction(q: Question) -> str:
    """How to answer in words, and the one reminder that names are not wanted: said here, at
    every written answer, and nowhere else on the screen (the questionnaire's help texts
    describe the problem instead)."""
    return _(
        "✍️ Send your answer as a message (up to {max} characters). "
        "Please leave out names and phone numbers."
    ).format(max=q.max_length)


def question_screen(
    step: QuestionStep,
    questionnaire: Questionnaire,
    locale: str,
    *,
    notice: str | None = None,
    error: InputError | None = None,
    channel: Channel = Channel.TELEGRAM,
) -> Screen:
    """One question. A chat message gets a short progress bar and, for a grid, the numbered
    list of its rows (its keyboard goes by the numbers); a web page draws its own bar and
    shows each row's label beside its cells."""
    q = step.question
    section = questionnaire.section_of(q.id)
    lines: list[str] = []
    if channel == Channel.TELEGRAM:
        lines.append(progress_bar(step.fraction))
    lines += _PARTS.get(q, ("head", locale, current_locale()), _head_lines, q, locale)
    if q.type == "grid" and channel == Channel.TELEGRAM:
        lines.append("")
        lines += [
            _PARTS.get(q, ("row", locale, number, row.key), _row_line, number, row, locale)
            for number, row in enumerate(step.rows, start=1)
        ]
    elif q.type == "text":
        lines.append(_text_instruction(q))
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
    typed: TextInput | None = None
    if q.type == "text":
        typed = TextInput(InputKind.TEXT, q.max_length or ECHO_LIMIT)
    elif q.type == "number":
        bounds = [len(str(bound)) for bound in (q.min, q.max) if bound is not None]
        typed = TextInput(InputKind.NUMBER, max(bounds, default=12))
    return Screen(
        _fit("\n".join(lines)),
        question_rows(step, locale),
        title=section.title_for(locale),
        progress=progress_of(step),
        notices=(notice,) if notice else (),
        input=typed,
        grid=grid_rows(step, locale),
    )


def _head_lines(q: Question, locale: str) -> tuple[str, ...]:
    """The question's label, its help and a scale's legend, as the body's first lines."""
    lines = [f"<b>{escape(q.label_for(locale))}</b>"]
    help_text_ = q.help_for(locale)
    if help_text_:
        lines.append(f"<i>{escape(help_text_)}</i>")
    if q.type == "scale" or (q.type == "grid" and not q.cells_are_choices):
        lines.append(_scale_line(q, locale))
    return tuple(lines)


def _row_line(number: int, row: RowStep, locale: str) -> str:
    """A grid row in the body's numbered list (the keyboard goes by the numbers)."""
    return f"{number}. {escape(_shorten(row.row.label_for(locale), 120))}"


def grid_rows(step: QuestionStep, locale: str) -> tuple[GridRow, ...]:
    """A grid's offered rows, each with a cell per choice or per integer min..max."""
    q = step.question
    if q.type != "grid":
        return ()
    return tuple(
        _PARTS.get(
            q,
            ("grid", locale, number, row.key, row.required, type(row.current), row.current),
            _grid_row,
            q,
            number,
            row,
            locale,
        )
        for number, row in enumerate(step.rows, start=1)
    )


def _grid_row(q: Question, number: int, row: RowStep, locale: str) -> GridRow:
    if q.cells_are_choices:
        cells = tuple(
            Option(
                q.choice_label(choice.id, locale),
                Action(Act.CELL, row.key, choice.id),
                selected=row.current == choice.id,
            )
            for choice in q.choices
        )
    else:
        assert q.min is not None and q.max is not None
        cells = tuple(
            Option(str(value), Action(Act.CELL, row.key, str(value)), selected=row.current == value)
            for value in range(q.min, q.max + 1)
        )
    label = row.row.label_for(locale)
    return GridRow(number, label, cells, row.required, row.current is not None)


def _grid_navigation(step: QuestionStep, locale: str) -> list[tuple[Option, ...]]:
    """ "The rest: <fill choice>" while a row is open, and Done once the grid may be left."""
    q = step.question
    rows: list[tuple[Option, ...]] = []
    if q.fill is not None and any(row.current is None for row in step.rows):
        label = _("The rest: “{choice}”").format(choice=q.choice_label(q.fill, locale))
        rows.append((_option(label, Act.FILL, q.id),))
    if step.can_finish:
        rows.append((_option(_("✅ Done"), Act.DONE, q.id),))
    return rows


def question_rows(step: QuestionStep, locale: str) -> tuple[tuple[Option, ...], ...]:
    """The options below a question (a grid's cells are in `grid_rows`): its choices, Done,
    then Back, Skip, back to the review and Cancel. Only the choices offered now."""
    q = step.question
    rows: list[tuple[Option, ...]] = []
    if q.type in ("single", "multi"):
        act = Act.ANSWER if q.type == "single" else Act.TOGGLE
        ticked = set(step.pending)
        for choice_id in step.offered:
            selected = step.current == choice_id if act == Act.ANSWER else choice_id in ticked
            key = ("choice", locale, choice_id, selected)
            rows.append((_PARTS.get(q, key, _choice, q, act, choice_id, locale, selected),))
        if q.type == "multi":
            rows.append((_option(_("✅ Done"), Act.DONE, q.id),))
    elif q.type == "scale":
        assert q.min is not None and q.max is not None
        scale_row = [
            _PARTS.get(
                q,
                ("scale", value, step.current == value),
                _scale_point,
                q,
                value,
                step.current == value,
            )
            for value in range(q.min, q.max + 1)
        ]
        for start in range(0, len(scale_row), 6):
            rows.append(tuple(scale_row[start : start + 6]))
    elif q.type == "grid":
        rows += _grid_navigation(step, locale)
    nav: list[Option] = []
    if step.can_go_back:
        nav.append(_option(_("⬅️ Back"), Act.BACK, q.id))
    if step.can_skip:
        nav.append(_option(_("⏭ Skip"), Act.SKIP, q.id))
    if nav:
        rows.append(tuple(nav))
    if step.editing:
        rows.append((_option(_("📋 Back to review"), Act.REVIEW, q.id),))
    rows.append((_option(_("✖️ Cancel"), Act.CANCEL),))
    return tuple(rows)


BUTTON_LIMIT = 100  # Telegram's inline keyboard; the web lays out as many as it gets
EDITS_PER_ROW = 6


def format_item(item: ReviewItem, locale: str) -> str:
    """One item's answer (not escaped)."""
    return format_answer(item.question, item.value, locale)


def _review_lines(step: ReviewStep, locale: str, answer_limit: int) -> list[str]:
    """The review's lines: a heading per section, a grid's label once above its rows (each
    row named by its own label, which names the problem), every item numbered."""
    lines: list[str] = []
    number = 0
    for section, items in step.sections:
        lines += ["", f"<b>{escape(_shorten(section.title_for(locale), 60))}</b>"]
        grid_shown: str | None = None
        for item in items:
            number += 1
            answer = escape(_shorten(format_item(item, locale), answer_limit))
            if item.row is None:
                grid_shown = None
                label = escape(_shorten(item.question.label_for(locale), 40))
                lines.append(f"{number}. {label}\n   → {answer}")
                continue
            if grid_shown != item.question.id:
                grid_shown = item.question.id
                lines.append(f"<i>{escape(_shorten(item.question.label_for(locale), 60))}</i>")
            label = escape(_shorten(item.row.label_for(locale), 40))
            lines.append(f"{number}. {label} → {answer}")
    return lines


def _within(header: str, lines: list[str], budget: int) -> str:
    """Header and lines within `budget` characters, whole lines only (a cut never splits a
    tag or an entity), "…" where lines were left out."""
    text = header + "\n" + "\n".join(lines)
    if len(text) <= budget:
        return text
    kept = list(lines)
    while kept and len(header) + 1 + len("\n".join(kept)) + 2 > budget:
        kept.pop()
    return header + "\n" + "\n".join([*kept, "…"])


def _edit_options(step: ReviewStep) -> list[Option]:
    """An edit option per item (a grid's rows edit the grid); one per question where that
    would be more than a keyboard holds."""
    items = [item for _section, items in step.sections for item in items]
    edits = [
        _option(f"✏️{number}", Act.EDIT, item.key) for number, item in enumerate(items, start=1)
    ]
    room = BUTTON_LIMIT - 2  # Submit and Cancel
    if len(edits) <= room:
        return edits
    first_of: dict[str, int] = {}
    for number, item in enumerate(items, start=1):
        first_of.setdefault(item.question.id, number)
    edits = [_option(f"✏️{number}", Act.EDIT, qid) for qid, number in first_of.items()]
    return edits[:room]


def review_screen(step: ReviewStep, locale: str, *, notice: str | None = None) -> Screen:
    """Every relevant answer by section, numbered, with an edit option per item and Submit;
    long answers are shortened with "…" so that the message stays within Telegram's limit."""
    header = (
        _("📋 <b>Please check your answers</b>")
        + "\n"
        + _("Tap a number to change that answer, then submit.")
    )
    answer_limit = 120
    while True:
        lines = _review_lines(step, locale, answer_limit)
        text = header + "\n" + "\n".join(lines)
        if len(text) <= REVIEW_BUDGET or answer_limit <= 20:
            break
        answer_limit -= 20
    text = _within(header, lines, REVIEW_BUDGET)
    edits = _edit_options(step)
    rows: list[tuple[Option, ...]] = [
        tuple(edits[i : i + EDITS_PER_ROW]) for i in range(0, len(edits), EDITS_PER_ROW)
    ]
    rows.append((_option(_("📨 Submit"), Act.SUBMIT),))
    rows.append((_option(_("✖️ Cancel"), Act.CANCEL),))
    return Screen(text, tuple(rows), notices=(notice,) if notice else ())


# --- cancel, and a minute to change one's mind --------------------------------------------


def cancel_confirm_screen() -> Screen:
    """Asked once before a draft is discarded."""
    return Screen(
        _("Discard what you have filled in?"),
        (
            (_option(_("🗑 Discard"), Act.CANCEL_CONFIRM),),
            (_option(_("▶️ Keep going"), Act.CANCEL_KEEP),),
        ),
    )


def restore_option() -> Option:
    return _option(_("↩️ Restore what I filled in"), Act.RESTORE)


def cancelled_screen(*, channel: Channel = Channel.TELEGRAM) -> Screen:
    """Right after a cancel: the draft can still be restored for a minute."""
    if channel == Channel.WEB:
        text = _(
            "Cancelled. What you filled in is deleted for good in a minute; until then, "
            "“↩️ Restore what I filled in” brings it back. To begin again, tap “Start over” at "
            "the top of the page."
        )
    else:
        text = _(
            "Cancelled. What you filled in is deleted for good in a minute; until then, "
            "“↩️ Restore what I filled in” brings it back. Send /start to begin again."
        )
    return Screen(text, ((restore_option(),),))


def restore_gone_text(*, channel: Channel = Channel.TELEGRAM) -> str:
    if channel == Channel.WEB:
        return _(
            "Sorry, more than a minute has passed and it is deleted for good. Tap “Start over” "
            "at the top of the page to begin again."
        )
    return _(
        "Sorry, more than a minute has passed and it is deleted for good. Send /start to "
        "begin again."
    )


def restore_refused_text() -> str:
    return _("You have already started again, so the earlier answers cannot be brought back.")


def restored_text() -> str:
    return _("Restored. Carry on where you were.")


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


def preview_usage_text() -> str:
    return _("Usage: /questionnaire_preview QID vN")


def no_such_version_text(questionnaire_id: str, version: int) -> str:
    return _("No stored questionnaire {id} version {version}.").format(
        id=escape(questionnaire_id), version=version
    )


def clear_chat_option(first: int) -> Option:
    return _option(_("🧹 Clear this conversation"), Act.CLEAR_CHAT, value=str(first))


def receipt_screen(code: str, first: int, *, channel: Channel = Channel.TELEGRAM) -> Screen:
    """Shown protected: it cannot be forwarded, and one press deletes it."""
    if channel == Channel.WEB:
        return _web_receipt_screen(code, first)
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
    rows = (
        (
            _option(
                _("✅ I have saved it — delete this message"), Act.RECEIPT_SAVED, value=str(first)
            ),
        ),
        (clear_chat_option(first),),
    )
    return Screen(text, rows)


def _web_receipt_screen(code: str, first: int) -> Screen:
    """A page keeps no history once its tab is closed, but a screenshot or a WeChat message
    would: the code belongs on paper, and the follow-up is reached from the page itself."""
    text = (
        _("🧾 <b>Your receipt code</b>")
        + f"\n\n<code>{escape(code)}</code>\n\n"
        + _(
            "Write it down and keep it somewhere private: not as a screenshot, and not in a "
            "WeChat chat. The code is the only way to read the investigators' questions about "
            "your report and to answer them: come back in a few days, open the survey link "
            "and tap “Read replies” at the top of the page. Only a scrambled form of it is "
            "stored, so we cannot look it up or send it to you again."
        )
        + "\n\n"
        + _(
            "Once you have saved it, the first button removes the code from this page; the "
            "second clears the whole conversation from the page. Once you close the tab, "
            "nothing of it is left on your phone's screen."
        )
    )
    rows = (
        (
            _option(
                _("✅ I have saved it — remove it from the page"),
                Act.RECEIPT_SAVED,
                value=str(first),
            ),
        ),
        (clear_chat_option(first),),
    )
    return Screen(text, rows)


def receipt_deleted_screen(first: int, *, channel: Channel = Channel.TELEGRAM) -> Screen:
    if channel == Channel.WEB:
        text = _(
            "🧾 The receipt code is removed from this page. You can also clear the rest of "
            "this conversation."
        )
    else:
        text = _(
            "🧾 The receipt message is deleted. You can also clear the rest of this conversation."
        )
    return Screen(text, ((clear_chat_option(first),),))


def receipt_deleted_answer() -> str:
    return _("Deleted.")


def chat_cleared_text(*, channel: Channel = Channel.TELEGRAM) -> str:
    if channel == Channel.WEB:
        return _(
            "🧹 Done. The conversation is cleared from this page. Please close the tab too. "
            "Thank you!"
        )
    return _(
        "🧹 Done. The messages of this session that Telegram still allowed me to delete "
        "are gone. Thank you!"
    )


def limit_reached_text(limit: int, *, channel: Channel = Channel.TELEGRAM) -> str:
    """On the web a draft outlives the tab only with a resume code: point to it."""
    if channel == Channel.WEB:
        return _(
            "Thank you — you have already sent {limit} reports today, which is the daily "
            "limit. Please come back tomorrow to submit. To keep unfinished answers until "
            "then, tap “Continue later” at the top of the page and note the code it gives you."
        ).format(limit=limit)
    return _(
        "Thank you — you have already sent {limit} reports today, which is the daily limit. "
        "Your answers are kept as a draft for a while: please come back tomorrow to submit."
    ).format(limit=limit)


def cancelled_text(*, channel: Channel = Channel.TELEGRAM) -> str:
    if channel == Channel.WEB:
        return _(
            "Cancelled. Your unfinished answers have been deleted. To begin again, tap "
            "“Start over” at the top of the page."
        )
    return _("Cancelled. Your unfinished answers have been deleted. Send /start to begin again.")


def nothing_to_cancel_text(*, channel: Channel = Channel.TELEGRAM) -> str:
    if channel == Channel.WEB:
        return _(
            "There is nothing to cancel. Tap “Start over” at the top of the page to answer "
            "the questionnaire."
        )
    return _("There is nothing to cancel. Send /start to answer the questionnaire.")


def expired_button_text(*, channel: Channel = Channel.TELEGRAM) -> str:
    if channel == Channel.WEB:
        return _("This button has expired. Please tap “Start over” at the top of the page.")
    return _("This button has expired. Send /start to continue.")


def stale_button_text() -> str:
    return _("This button is from an older message; please use the latest question.")


def use_buttons_text() -> str:
    return _("Please answer this question with the buttons.")


def use_buttons_review_text() -> str:
    return _("Please use the buttons to change an answer or to submit.")


def receipt_in_answer_text(*, channel: Channel = Channel.TELEGRAM) -> str:
    if channel == Channel.WEB:
        return _(
            "🧾 This looks like a receipt code, so I removed the message at once and saved "
            "nothing from it. Never write it into an answer; to use it, tap “Read replies” at "
            "the top of the page once this questionnaire is submitted or cancelled."
        )
    return _(
        "🧾 This looks like a receipt code, so I deleted the message at once and saved "
        "nothing from it. Never write it into an answer; to use it, send /followup once this "
        "questionnaire is submitted or cancelled."
    )


def receipt_in_idle_chat_text(*, channel: Channel = Channel.TELEGRAM) -> str:
    if channel == Channel.WEB:
        return _(
            "🧾 This looks like a receipt code, so I removed the message at once. To read the "
            "replies to your report, tap “Read replies” at the top of the page and enter the "
            "code there."
        )
    return _(
        "🧾 This looks like a receipt code, so I deleted the message at once. To read the "
        "replies to your report, send /followup and then the code."
    )


def no_open_campaign_text(*, channel: Channel = Channel.TELEGRAM) -> str:
    """Campaigns are defined but none is open today."""
    if channel == Channel.WEB:
        return _(
            "Thank you for your interest. No survey is open right now; please come back when "
            "the next one opens. You can still read replies to earlier reports: tap “Read "
            "replies” at the top of the page."
        )
    return _(
        "Thank you for your interest. No survey is open right now; please come back when the "
        "next one opens. You can still read replies to earlier reports with /followup."
    )


def notice(text: str) -> Screen:
    """A short message with no options."""
    return Screen(text)
