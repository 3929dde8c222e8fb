"""The cadre's whole conversation, for any channel: events in, effects out.

Consent, one question at a time, review, submit, receipt, clear; resume, cancel, an admin's
preview of a stored version; the follow-up by receipt code. The questionnaire engine decides
what comes next, the survey and follow-up services store, `bot.conversation.screens` says it.

Nothing the cadre types is left in the chat: a typed answer is deleted once read, and the
stored (scrubbed) answer is shown instead; a message holding a receipt code is deleted at
once. An edit is applied (scrubbed again) only to the answer just given; any other edit is
refused, and an edited message is deleted like a typed one.

The state of a questionnaire in progress is JSON kept through `Cadre.state` (the channel's
pseudonymous, encrypted, expiring storage): the draft, the current screen's reference, the
first message of the session, the campaign, the preview flag and the last typed answer. An
open follow-up lives only in the `Sessions` store (memory or Redis).

Cancel asks once; a discarded draft leaves the state at once and is kept for a minute in this
process's memory only (`bot.conversation.restore`), for the cancelled screen's restore button.

Screen tracking: while buttons are pressed (a grid's cells too) the current screen is replaced
in place; after a typed answer the next one is shown below, then the old one retired. The
channel reports the reference of every `Show(current=True)` it carried out with
`screen_shown`; a press on any other screen is stale.
"""

from __future__ import annotations

from typing import Any

from bot.anonymity.receipt import contains_receipt
from bot.anonymity.scrubber import scrub
from bot.conversation import followup_screens as fs
from bot.conversation import screens
from bot.conversation.model import (
    Act,
    Action,
    AnswerPress,
    Cadre,
    Command,
    ConversationKey,
    DeleteMessage,
    DeleteSession,
    Edit,
    Effect,
    Event,
    Media,
    MessageRef,
    Press,
    Replace,
    Retire,
    Screen,
    Show,
    Start,
    Text,
)
from bot.conversation.ports import (
    Answered,
    Followup,
    FollowupSession,
    LimitReached,
    Opened,
    ReceiptRefused,
    Sessions,
    Step,
    Survey,
    TooManyTries,
)
from bot.conversation.restore import CancelledDrafts
from bot.i18n.text import use_locale
from bot.questionnaire.engine import Draft, Engine, InputError, Outcome, QuestionStep, ReviewStep

DRAFT_KEY = "draft"
MESSAGE_KEY = "msg"  # the current screen's reference
FIRST_KEY = "first"  # where "clear this conversation" starts
CAMPAIGN_KEY = "campaign"  # the campaign the draft was started in
PREVIEW_KEY = "preview"  # an admin's preview walk: Submit stores nothing
# The last typed answer while it is still the current one: the cadre's message, the
# question, and the draft as it was before that answer (so an edit can be applied instead).
TYPED_KEY = "typed"

SURVEY_ACTS = frozenset(
    {
        Act.ANSWER,
        Act.TOGGLE,
        Act.CELL,
        Act.FILL,
        Act.DONE,
        Act.SKIP,
        Act.BACK,
        Act.EDIT,
        Act.REVIEW,
        Act.SUBMIT,
        Act.CANCEL,
        Act.CANCEL_CONFIRM,
        Act.CANCEL_KEEP,
        Act.RESTORE,
    }
)
"""The questionnaire's own buttons (a channel routes them to the core). `RESTORE` is pressed
when there is no draft any more, and is handled before the others."""

# Kept only while the draft is in the state: not restored with it.
_NOT_RESTORED = (MESSAGE_KEY, TYPED_KEY)


def _number(value: str, default: MessageRef) -> MessageRef:
    return int(value) if value.isdigit() else default


def _quiet(screen: Screen) -> Show:
    """A follow-up message: no link is fetched for a preview."""
    return Show(screen, link_previews=False)


class Conversation:
    """One instance serves every cadre of every channel; it keeps nothing between events
    except through `Cadre.state`, the follow-up `Sessions`, and for one minute a cancelled
    draft in `cancelled` (this process's memory only)."""

    def __init__(
        self,
        survey: Survey,
        followup: Followup,
        sessions: Sessions,
        *,
        k_anonymity: int,
        cancelled: CancelledDrafts | None = None,
    ) -> None:
        self.survey = survey
        self.followup = followup
        self.sessions = sessions
        self.k_anonymity = k_anonymity
        self.cancelled = CancelledDrafts() if cancelled is None else cancelled

    async def handle(self, event: Event, cadre: Cadre) -> list[Effect]:
        """What the channel is to do about `event`, in order."""
        with use_locale(cadre.locale):
            match event:
                case Start():
                    return await self._start(event, cadre)
                case Press():
                    return await self._press(event, cadre)
                case Text():
                    return await self._text(event, cadre)
                case Edit():
                    return await self._edit(event, cadre)
                case Media():
                    return await self._media(event, cadre)
                case Command():
                    return await self._command(event, cadre)

    async def screen_shown(self, cadre: Cadre, ref: MessageRef) -> None:
        """The channel showed the current screen (a `Show(current=True)`) as `ref`."""
        data = await cadre.state.load()
        if DRAFT_KEY not in data:
            return
        data[MESSAGE_KEY] = ref
        await cadre.state.save(data)

    async def followup_open(self, key: ConversationKey) -> Step | None:
        """The step of this conversation's open follow-up, if one is open."""
        session = await self.sessions.get(key)
        return None if session is None else session.step

    # --- the questionnaire ------------------------------------------------------------------

    @staticmethod
    def _screen(
        engine: Engine,
        step: QuestionStep | ReviewStep,
        cadre: Cadre,
        *,
        notice: str | None = None,
        error: InputError | None = None,
    ) -> Screen:
        if isinstance(step, ReviewStep):
            return screens.review_screen(step, cadre.locale, notice=notice)
        return screens.question_screen(
            step,
            engine.questionnaire,
            cadre.locale,
            notice=notice,
            error=error,
            channel=cadre.channel,
        )

    @staticmethod
    def _at_bottom(data: dict[str, Any], screen: Screen) -> list[Effect]:
        """Show this screen below the cadre's message, then retire the previous current one:
        the next question is there before the old one's buttons go."""
        effects: list[Effect] = [Show(screen, current=True)]
        previous = data.get(MESSAGE_KEY)
        if isinstance(previous, int):
            effects.append(Retire(previous))
        return effects

    async def _begin(
        self, cadre: Cadre, engine: Engine, first: MessageRef, **kept: Any
    ) -> list[Effect]:
        outcome = engine.start()
        await cadre.state.save({DRAFT_KEY: outcome.draft.to_json(), FIRST_KEY: first, **kept})
        return [Show(self._screen(engine, outcome.step, cadre), current=True)]

    async def _start(self, event: Start, cadre: Cadre) -> list[Effect]:
        """Welcome (or offer to resume); a follow-up still open ends. Subscribes nobody."""
        await self.sessions.drop(cadre.key)
        data = await cadre.state.load()
        draft = await self.survey.draft_in(data)
        if draft is not None:
            step = self.survey.engine_of(draft).step(draft)
            return [Show(screens.resume_screen(step))]
        if data:
            await cadre.state.clear()
        engine = await self.survey.engine_now()
        welcome = screens.welcome_screen(
            engine.questionnaire,
            cadre.locale,
            self.k_anonymity,
            event.ref,
            subscribed=event.subscribed,
            channel=cadre.channel,
            minutes=engine.estimated_minutes(),
        )
        return [Show(welcome)]

    async def _press(self, event: Press, cadre: Cadre) -> list[Effect]:
        act = event.action.act
        if act == Act.CONSENT:
            return await self._consent(event, cadre)
        if act in (Act.RESUME, Act.RESTART):
            return await self._resume_or_restart(event, cadre)
        if act == Act.RESTORE:
            return await self._restore(event, cadre)
        if act in SURVEY_ACTS:
            return await self._survey_press(event, cadre)
        if act == Act.RECEIPT_SAVED:
            first = _number(event.action.value, event.ref)
            return [
                DeleteMessage(),
                AnswerPress(screens.receipt_deleted_answer()),
                Show(screens.receipt_deleted_screen(first, channel=cadre.channel)),
            ]
        if act == Act.CLEAR_CHAT:
            await self.sessions.drop(cadre.key)  # "clear" during a follow-up closes it
            first = _number(event.action.value, event.ref)
            cleared = screens.chat_cleared_text(channel=cadre.channel)
            return [AnswerPress(cleared), DeleteSession(first)]
        if act in (Act.FOLLOWUP_ANSWER, Act.FOLLOWUP_REFRESH, Act.FOLLOWUP_END):
            return await self._followup_press(event, cadre)
        return [AnswerPress(screens.expired_button_text(channel=cadre.channel))]

    async def _consent(self, event: Press, cadre: Cadre) -> list[Effect]:
        data = await cadre.state.load()
        if await self.survey.draft_in(data) is not None:
            return [AnswerPress(screens.stale_button_text())]
        accepting, campaign_id = await self.survey.availability()
        if not accepting:
            return [
                AnswerPress(),
                Show(screens.notice(screens.no_open_campaign_text(channel=cadre.channel))),
            ]
        if await self.survey.limit_reached(cadre):
            limit = screens.limit_reached_text(self.survey.max_per_day, channel=cadre.channel)
            return [AnswerPress(), Show(screens.notice(limit))]
        first = _number(event.action.value, event.ref)
        engine = await self.survey.engine_now()
        kept = {} if campaign_id is None else {CAMPAIGN_KEY: campaign_id}
        shown = await self._begin(cadre, engine, first, **kept)
        return [Retire(event.ref), *shown, AnswerPress()]

    async def _resume_or_restart(self, event: Press, cadre: Cadre) -> list[Effect]:
        data = await cadre.state.load()
        draft = await self.survey.draft_in(data)
        if draft is None:
            return [AnswerPress(screens.expired_button_text(channel=cadre.channel))]
        effects: list[Effect] = [Retire(event.ref)]
        engine = self.survey.engine_of(draft)  # a restart stays on the draft's version
        if event.action.act == Act.RESTART:
            previous = data.get(MESSAGE_KEY)
            if isinstance(previous, int):
                effects.append(Retire(previous))
            # A restarted preview stays a preview, a campaign's draft stays in it.
            kept = {key: data[key] for key in (CAMPAIGN_KEY, PREVIEW_KEY) if key in data}
            first = data.get(FIRST_KEY)
            start_at = first if isinstance(first, int) else 0
            effects += await self._begin(cadre, engine, start_at, **kept)
        else:
            screen = self._screen(engine, engine.step(draft), cadre)
            effects += self._at_bottom(data, screen)
        effects.append(AnswerPress())
        return effects

    @staticmethod
    def _apply(engine: Engine, draft: Draft, action: Action) -> Outcome:
        question = action.question or None
        match action.act:
            case Act.ANSWER:
                return engine.answer(draft, action.value, question_id=question)
            case Act.TOGGLE:
                return engine.toggle(draft, action.value, question_id=question)
            case Act.CELL:  # question: the row's key "grid.row"
                grid = action.question.split(".", 1)[0] or None
                return engine.answer_cell(draft, action.question, action.value, question_id=grid)
            case Act.FILL:
                return engine.fill(draft, question_id=question)
            case Act.DONE:
                return engine.confirm(draft, question_id=question)
            case Act.SKIP:
                return engine.skip(draft, question_id=question)
            case Act.BACK:
                return engine.back(draft)
            case Act.EDIT:
                return engine.edit(draft, action.question)
            case _:
                return engine.to_review(draft)

    async def _survey_press(self, event: Press, cadre: Cadre) -> list[Effect]:
        data = await cadre.state.load()
        draft = await self.survey.draft_in(data)
        if draft is None:
            return [
                AnswerPress(screens.expired_button_text(channel=cadre.channel)),
                Retire(event.ref),
            ]
        if event.ref != data.get(MESSAGE_KEY):
            return [AnswerPress(screens.stale_button_text())]
        engine = self.survey.engine_of(draft)
        match event.action.act:
            case Act.CANCEL:  # asked once: the draft goes only on "discard"
                return [Replace(screens.cancel_confirm_screen()), AnswerPress()]
            case Act.CANCEL_KEEP:
                return [Replace(self._screen(engine, engine.step(draft), cadre)), AnswerPress()]
            case Act.CANCEL_CONFIRM:
                return [*await self._discard(cadre, data), AnswerPress()]
            case Act.SUBMIT:
                return await self._submit(event, cadre, draft, data)
        outcome = self._apply(engine, draft, event.action)
        if outcome.error is not None:
            if outcome.error.code == "stale":
                return [AnswerPress(screens.stale_button_text())]
            return [AnswerPress(screens.error_text(outcome.error), alert=True)]
        # A button moves past the last typed answer: an edit of it is no longer taken.
        data.update({DRAFT_KEY: outcome.draft.to_json(), TYPED_KEY: None})
        await cadre.state.save(data)
        return [Replace(self._screen(engine, outcome.step, cadre)), AnswerPress()]

    async def _submit(
        self, event: Press, cadre: Cadre, draft: Draft, data: dict[str, Any]
    ) -> list[Effect]:
        if not isinstance(self.survey.engine_of(draft).step(draft), ReviewStep):
            return [AnswerPress(screens.stale_button_text())]
        if data.get(PREVIEW_KEY) is True:  # an admin's preview: no submission, no limit used
            await cadre.state.clear()
            return [Replace(screens.notice(screens.preview_submitted_text())), AnswerPress()]
        campaign = data.get(CAMPAIGN_KEY)
        result = await self.survey.submit(
            draft, cadre, campaign_id=campaign if isinstance(campaign, str) else None
        )
        if isinstance(result, LimitReached):
            limit = screens.limit_reached_text(result.limit, channel=cadre.channel)
            return [AnswerPress(limit, alert=True)]
        await cadre.state.clear()  # the draft is gone before anything else happens
        first = data.get(FIRST_KEY)
        receipt = screens.receipt_screen(
            result.receipt_code,
            first if isinstance(first, int) and first else event.ref,
            channel=cadre.channel,
        )
        return [
            Replace(screens.notice(screens.submitted_text())),
            Show(receipt, protect=True),
            AnswerPress(),
        ]

    async def _text(self, event: Text, cadre: Cadre) -> list[Effect]:
        session = await self.sessions.get(cadre.key)
        if session is not None:
            return await self._followup_text(event, cadre, session)
        effects: list[Effect] = [DeleteMessage()]  # read: nothing typed stays in the chat
        data = await cadre.state.load()
        draft = await self.survey.draft_in(data)
        if draft is None:
            await cadre.state.clear()
            reply = (
                screens.receipt_in_idle_chat_text(channel=cadre.channel)
                if contains_receipt(event.body)
                else screens.stray_text_reply(channel=cadre.channel)
            )
            return [*effects, Show(screens.notice(reply))]
        engine = self.survey.engine_of(draft)
        step = engine.step(draft)
        if contains_receipt(event.body):
            refusal = screens.receipt_in_answer_text(channel=cadre.channel)
            effects.append(Show(screens.notice(refusal)))
            return effects + self._at_bottom(data, self._screen(engine, step, cadre))
        if isinstance(step, ReviewStep):
            effects.append(Show(screens.notice(screens.use_buttons_review_text())))
            return effects + self._at_bottom(data, self._screen(engine, step, cadre))
        question = step.question
        if question.type in ("single", "multi", "grid"):
            screen = self._screen(engine, step, cadre, notice=screens.use_buttons_text())
            return effects + self._at_bottom(data, screen)
        masked: tuple[str, ...] = ()
        value = event.body
        if question.type == "text":
            scrubbed = scrub(value)
            value, masked = scrubbed.text, scrubbed.masked
        outcome = engine.answer(draft, value, question_id=question.id)
        if outcome.error is not None:
            if outcome.error.code == "too_long":
                copy = screens.too_long_copy_text(outcome.error, value)
                effects.append(Show(screens.notice(copy)))
            screen = self._screen(engine, step, cadre, error=outcome.error)
            return effects + self._at_bottom(data, screen)
        stored = outcome.draft.answers.get(question.id)
        typed = {"m": event.ref, "q": question.id, "before": draft.to_json()}
        await cadre.state.save({**data, DRAFT_KEY: outcome.draft.to_json(), TYPED_KEY: typed})
        effects.append(Show(screens.notice(screens.recorded_text(str(stored), masked))))
        return effects + self._at_bottom(data, self._screen(engine, outcome.step, cadre))

    @staticmethod
    def _editable_answer(
        data: dict[str, Any], ref: MessageRef, draft: Draft, engine: Engine
    ) -> tuple[Draft, str] | None:
        """The draft before the edited message's answer and its question, when that message
        is the last typed answer and nothing has moved on since; otherwise None."""
        typed = data.get(TYPED_KEY)
        if not isinstance(typed, dict) or typed.get("m") != ref:
            return None
        question_id = typed.get("q")
        if not isinstance(question_id, str) or not engine.questionnaire.has_question(question_id):
            return None
        try:
            before = Draft.from_json(typed.get("before"))
        except ValueError:
            return None
        current = draft.answers.get(question_id)
        if not engine.accepts(before) or current is None:
            return None
        replayed = engine.answer(before, current, question_id=question_id)
        if replayed.error is not None or replayed.draft != draft:
            return None
        return before, question_id

    async def _edit(self, event: Edit, cadre: Cadre) -> list[Effect]:
        """While answering: replaces the answer just given, scrubbed again; any other edit is
        refused, and the edited message is deleted either way. Outside the questionnaire an
        edit changes nothing; a receipt code in it is deleted."""
        data = await cadre.state.load()
        if not data:
            if contains_receipt(event.body):
                idle = screens.receipt_in_idle_chat_text(channel=cadre.channel)
                return [DeleteMessage(), Show(screens.notice(idle))]
            return [Show(screens.notice(screens.idle_edit_text()))]
        effects: list[Effect] = [DeleteMessage()]
        draft = await self.survey.draft_in(data)
        if draft is None:
            return [*effects, Show(screens.notice(screens.edit_not_taken_text()))]
        engine = self.survey.engine_of(draft)
        editable = self._editable_answer(data, event.ref, draft, engine)
        if contains_receipt(event.body) or editable is None or not event.text:
            refusal = (
                screens.receipt_in_answer_text(channel=cadre.channel)
                if contains_receipt(event.body)
                else screens.edit_not_taken_text()
            )
            effects.append(Show(screens.notice(refusal)))
            return effects + self._at_bottom(data, self._screen(engine, engine.step(draft), cadre))
        before, question_id = editable
        question = engine.questionnaire.question(question_id)
        masked: tuple[str, ...] = ()
        value = event.body
        if question.type == "text":
            scrubbed = scrub(value)
            value, masked = scrubbed.text, scrubbed.masked
        outcome = engine.answer(before, value, question_id=question_id)
        if outcome.error is not None:
            effects.append(Show(screens.notice(screens.edit_refused_text(outcome.error))))
            return effects + self._at_bottom(data, self._screen(engine, engine.step(draft), cadre))
        await cadre.state.save({**data, DRAFT_KEY: outcome.draft.to_json()})
        stored = outcome.draft.answers.get(question_id)
        effects.append(Show(screens.notice(screens.edit_recorded_text(str(stored), masked))))
        return effects + self._at_bottom(data, self._screen(engine, outcome.step, cadre))

    async def _media(self, event: Media, cadre: Cadre) -> list[Effect]:
        """Voice, photos, files, stickers, locations, contacts: removed from the chat,
        explained kindly, and the question is asked again. In a follow-up: text only."""
        session = await self.sessions.get(cadre.key)
        if session is not None:
            await self.sessions.put(cadre.key, session)
            return [_quiet(screens.notice(fs.text_only_text()))]
        effects: list[Effect] = [
            DeleteMessage(),
            Show(screens.notice(screens.media_refusal(event.kind))),
        ]
        data = await cadre.state.load()
        draft = await self.survey.draft_in(data)
        if draft is not None:
            engine = self.survey.engine_of(draft)
            screen = self._screen(engine, engine.step(draft), cadre)
            effects += self._at_bottom(data, screen)
        return effects

    async def _command(self, event: Command, cadre: Cadre) -> list[Effect]:
        if event.name == "cancel":
            return await self._cancel(cadre)
        if event.name == "followup":
            return await self._followup_command(event, cadre)
        if event.name == "questionnaire_preview":
            return await self._preview(event, cadre)
        return []

    async def _cancel(self, cadre: Cadre) -> list[Effect]:
        session = await self.sessions.get(cadre.key)
        if session is not None:
            return await self._end(cadre, session.first_message_id)
        data = await cadre.state.load()
        if not data:
            return [Show(screens.notice(screens.nothing_to_cancel_text(channel=cadre.channel)))]
        if await self.survey.draft_in(data) is None:  # nothing that could be restored
            await cadre.state.clear()
            return [Show(screens.notice(screens.cancelled_text(channel=cadre.channel)))]
        return self._at_bottom(data, screens.cancel_confirm_screen())

    async def _discard(self, cadre: Cadre, data: dict[str, Any]) -> list[Effect]:
        """The draft leaves the state; for a minute this process remembers it, in memory
        only, so that the cancelled screen can bring it back."""
        await cadre.state.clear()
        kept = {key: value for key, value in data.items() if key not in _NOT_RESTORED}
        self.cancelled.put(cadre.key, kept)
        return [Replace(screens.cancelled_screen(channel=cadre.channel))]

    async def _restore(self, event: Press, cadre: Cadre) -> list[Effect]:
        """Put a draft cancelled less than a minute ago back, at the question it was on."""
        kept = self.cancelled.take(cadre.key)
        data = await cadre.state.load()
        if await self.survey.draft_in(data) is not None:
            return [AnswerPress(screens.restore_refused_text()), Retire(event.ref)]
        draft = None if kept is None else await self.survey.draft_in(kept)
        if kept is None or draft is None:
            gone = screens.restore_gone_text(channel=cadre.channel)
            return [AnswerPress(gone), Retire(event.ref)]
        await cadre.state.save({**kept, MESSAGE_KEY: event.ref})
        engine = self.survey.engine_of(draft)
        screen = self._screen(engine, engine.step(draft), cadre)
        return [Replace(screen), AnswerPress(screens.restored_text())]

    async def _preview(self, event: Command, cadre: Cadre) -> list[Effect]:
        """`questionnaire_preview QID vN`: walk a stored version; nothing is stored.

        Only admins may preview, and the channel delivers this command to nobody else
        (Telegram: a router filtered with `IsAdmin`); the core checks no roles."""
        words = event.args.split()
        version = words[1].removeprefix("v") if len(words) == 2 else ""
        if not version.isdigit():
            return [Show(screens.notice(screens.preview_usage_text()))]
        engine = await self.survey.engine_for(words[0], int(version))
        if engine is None:
            missing = screens.no_such_version_text(words[0], int(version))
            return [Show(screens.notice(missing))]
        data = await cadre.state.load()
        effects: list[Effect] = []
        previous = data.get(MESSAGE_KEY)
        if isinstance(previous, int):
            effects.append(Retire(previous))
        questionnaire = engine.questionnaire
        started = screens.preview_started_text(questionnaire.id, questionnaire.version)
        effects.append(Show(screens.notice(started)))
        effects += await self._begin(cadre, engine, event.ref, **{PREVIEW_KEY: True})
        return effects

    # --- the follow-up ----------------------------------------------------------------------

    async def _followup_command(self, event: Command, cadre: Cadre) -> list[Effect]:
        code = event.args.strip()
        effects: list[Effect] = [DeleteMessage()] if code else []  # the code must not stay
        data = await cadre.state.load()
        if data.get(DRAFT_KEY):
            first_text = fs.finish_survey_first_text(channel=cadre.channel)
            return [*effects, _quiet(screens.notice(first_text))]
        await self.sessions.drop(cadre.key)
        if code:
            return effects + await self._open(cadre, code, event.ref)
        await self.sessions.put(cadre.key, FollowupSession(Step.CODE, event.ref))
        return [_quiet(screens.notice(fs.ask_code_text(channel=cadre.channel)))]

    async def _open(self, cadre: Cadre, code: str, first: MessageRef) -> list[Effect]:
        result = await self.followup.open(cadre, code)
        if isinstance(result, TooManyTries):
            await self.sessions.drop(cadre.key)
            return [_quiet(screens.notice(fs.too_many_tries_text(result.limit)))]
        if not isinstance(result, Opened):
            await self.sessions.put(cadre.key, FollowupSession(Step.CODE, first))
            return [_quiet(screens.notice(fs.wrong_code_text(channel=cadre.channel)))]
        session = FollowupSession(Step.READING, first, result.receipt_hash)
        return await self._show_report(cadre, session)

    async def _show_report(self, cadre: Cadre, session: FollowupSession) -> list[Effect]:
        hashed = session.receipt_hash
        report = None if hashed is None else await self.followup.report(hashed)
        if report is None:
            await self.sessions.drop(cadre.key)
            return [_quiet(screens.notice(fs.report_gone_text()))]
        await self.sessions.put(cadre.key, session)
        screen = fs.cadre_report_screen(report.summary, report.thread, session.first_message_id)
        return [_quiet(screen)]

    async def _end(self, cadre: Cadre, first: MessageRef) -> list[Effect]:
        await self.sessions.drop(cadre.key)
        return [_quiet(fs.session_ended_screen(first, channel=cadre.channel))]

    async def _followup_press(self, event: Press, cadre: Cadre) -> list[Effect]:
        session = await self.sessions.get(cadre.key)
        if session is None or session.receipt_hash is None:
            return [AnswerPress(fs.session_ended_text(channel=cadre.channel), alert=True)]
        effects: list[Effect] = [Retire(event.ref), AnswerPress()]
        first, hashed = session.first_message_id, session.receipt_hash
        if event.action.act == Act.FOLLOWUP_END:
            return effects + await self._end(cadre, first)
        if event.action.act == Act.FOLLOWUP_ANSWER:
            await self.sessions.put(cadre.key, FollowupSession(Step.WRITING, first, hashed))
            return [*effects, _quiet(fs.write_answer_screen(first, channel=cadre.channel))]
        reading = FollowupSession(Step.READING, first, hashed)
        return effects + await self._show_report(cadre, reading)

    async def _followup_text(
        self, event: Text, cadre: Cadre, session: FollowupSession
    ) -> list[Effect]:
        if session.step == Step.CODE:
            opened = await self._open(cadre, event.body, session.first_message_id)
            return [DeleteMessage(), *opened]  # the code must not stay in the chat
        refused: list[Effect] = [
            DeleteMessage(),
            _quiet(screens.notice(fs.receipt_in_followup_text())),
        ]
        if contains_receipt(event.body):
            await self.sessions.put(cadre.key, session)
            return refused
        if session.receipt_hash is None:
            return await self._end(cadre, session.first_message_id)
        result = await self.followup.answer(session.receipt_hash, event.body)
        if isinstance(result, ReceiptRefused):  # a code the quick check above did not see
            await self.sessions.put(cadre.key, session)
            return refused
        if not isinstance(result, Answered):
            await self.sessions.drop(cadre.key)
            return [_quiet(screens.notice(fs.report_gone_text()))]
        saved = _quiet(screens.notice(fs.answer_saved_text(result.masked)))
        reading = FollowupSession(Step.READING, session.first_message_id, session.receipt_hash)
        return [saved, *await self._show_report(cadre, reading)]
