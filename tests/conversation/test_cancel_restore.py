"""Cancel asks once; a cancelled draft can be brought back for a minute, from this process's
memory only (never the conversation's state), and is then gone for good."""

from __future__ import annotations

import asyncio

from bot.conversation.core import DRAFT_KEY, MESSAGE_KEY
from bot.conversation.feature import build_conversation
from bot.conversation.model import (
    Act,
    Action,
    AnswerPress,
    ConversationKey,
    Press,
    Replace,
    Retire,
    Show,
)
from bot.conversation.restore import CancelledDrafts, Sweeper
from tests.conversation import test_core
from tests.conversation.test_core import KEY, Chat, Services, _chat, _consent

services = test_core.services  # the fixture: real services on a migrated SQLite database


async def _at_the_grid(services: Services) -> Chat:
    chat = _chat(services)
    await _consent(chat)
    await chat.press(Act.ANSWER, "town")
    await chat.press(Act.CELL, "often")
    assert chat.question() == "freq"
    return chat


async def test_cancel_asks_and_keep_going_brings_the_question_back(services: Services) -> None:
    chat = await _at_the_grid(services)
    draft = (await chat.states.stored(KEY))[DRAFT_KEY]
    on = await chat.press(Act.CANCEL)
    asked = chat.screen(on)
    assert asked.body == "Discard what you have filled in?"
    assert [o.action.act for o in asked.options] == [Act.CANCEL_CONFIRM, Act.CANCEL_KEEP]
    assert [o.label for o in asked.options] == ["🗑 Discard", "▶️ Keep going"]
    assert (await chat.states.stored(KEY))[DRAFT_KEY] == draft  # nothing deleted yet
    await chat.press(Act.CANCEL_KEEP)
    assert chat.newest_with_options() == on and chat.question() == "freq"
    assert chat.screen().grid[0].answered  # where it was
    assert (await chat.states.stored(KEY))[DRAFT_KEY] == draft


async def test_confirming_deletes_the_draft_and_offers_it_back_for_a_minute(
    services: Services,
) -> None:
    chat = await _at_the_grid(services)
    on = await chat.press(Act.CANCEL)
    await chat.press(Act.CANCEL_CONFIRM)
    cancelled = chat.screen(on)
    assert "Cancelled" in cancelled.body and "in a minute" in cancelled.body
    assert [o.action.act for o in cancelled.options] == [Act.RESTORE]
    assert cancelled.options[0].label == "↩️ Restore what I filled in"
    assert await chat.states.stored(KEY) == {}  # nothing of it in the state
    assert chat.core.cancelled.holds(KEY)

    services.clock[0] += 59
    await chat.press(Act.RESTORE, on=on)
    assert chat.answers[-1].text == "Restored. Carry on where you were."
    assert chat.question() == "freq" and chat.newest_with_options() == on
    assert chat.screen().grid[0].answered  # the question where it was
    stored = await chat.states.stored(KEY)
    assert stored[DRAFT_KEY]["cursor"] == "freq" and stored[MESSAGE_KEY] == on
    assert not chat.core.cancelled.holds(KEY)  # taken once
    await chat.press(Act.FILL)  # the restored screen is the current one
    await chat.press(Act.DONE)
    assert chat.question() == "impact"


async def test_slash_cancel_asks_below_and_the_old_question_retires(services: Services) -> None:
    chat = await _at_the_grid(services)
    old = chat.newest_with_options()
    effects = await chat.command("cancel")
    assert [type(e) for e in effects] == [Show, Retire]
    shown = effects[0]
    assert isinstance(shown, Show) and shown.current
    assert effects[1] == Retire(old)
    await chat.press(Act.CANCEL_CONFIRM)
    assert await chat.states.stored(KEY) == {}


async def test_after_a_minute_the_draft_is_gone_and_the_button_says_so(
    services: Services,
) -> None:
    chat = await _at_the_grid(services)
    on = await chat.press(Act.CANCEL)
    await chat.press(Act.CANCEL_CONFIRM)
    services.clock[0] += 61
    effects = await chat._run(Press(chat.screen(on).options[0].action, on), on)
    assert effects == [
        AnswerPress(
            "Sorry, more than a minute has passed and it is deleted for good. "
            "Send /start to begin again."
        ),
        Retire(on),
    ]
    assert await chat.states.stored(KEY) == {}
    assert len(chat.core.cancelled) == 0


async def test_a_new_draft_is_not_overwritten_by_a_restore(services: Services) -> None:
    chat = await _at_the_grid(services)
    on = await chat.press(Act.CANCEL)
    await chat.press(Act.CANCEL_CONFIRM)
    await chat.start()
    await chat.press(Act.CONSENT)
    fresh = (await chat.states.stored(KEY))[DRAFT_KEY]
    effects = await chat._run(Press(chat.screen(on).options[0].action, on), on)
    assert isinstance(effects[0], AnswerPress) and effects[0].text is not None
    assert "already started again" in effects[0].text
    assert (await chat.states.stored(KEY))[DRAFT_KEY] == fresh
    assert not chat.core.cancelled.holds(KEY)


async def test_a_stale_confirm_is_refused(services: Services) -> None:
    chat = await _at_the_grid(services)
    on = await chat.press(Act.CANCEL)
    await chat.command("cancel")  # asked again below: the first is no longer current
    effects = await chat._run(Press(Action(Act.CANCEL_CONFIRM), on), on)
    assert [type(e) for e in effects] == [AnswerPress]
    assert (await chat.states.stored(KEY))[DRAFT_KEY]


def test_the_store_sweeps_out_what_ran_out() -> None:
    now = [0.0]
    drafts = CancelledDrafts(clock=lambda: now[0])
    one, two = ConversationKey("one"), ConversationKey("two")
    drafts.put(one, {"draft": {"a": 1}})
    now[0] = 30
    drafts.put(two, {"draft": {"b": 2}})
    now[0] = 60
    assert drafts.sweep() == 1 and len(drafts) == 1
    assert drafts.take(one) is None
    now[0] = 89
    assert drafts.take(two) == {"draft": {"b": 2}}
    assert drafts.take(two) is None  # taken once
    drafts.put(one, {"draft": {}})
    now[0] = 200
    drafts.put(two, {"draft": {}})  # a put sweeps too
    assert len(drafts) == 1


def test_the_store_keeps_a_copy() -> None:
    drafts = CancelledDrafts(clock=lambda: 0.0)
    data: dict[str, object] = {"draft": {"answers": {}}}
    drafts.put(ConversationKey("k"), data)
    data["draft"] = None
    assert drafts.take(ConversationKey("k")) == {"draft": {"answers": {}}}


async def test_the_sweeper_runs_until_stopped() -> None:
    now = [0.0]
    drafts = CancelledDrafts(clock=lambda: now[0])
    drafts.put(ConversationKey("k"), {"draft": {}})
    sweeper = Sweeper(drafts, interval=0.001)
    sweeper.start()
    assert sweeper.running
    now[0] = 61
    for _ in range(100):
        await asyncio.sleep(0.002)
        if len(drafts) == 0:
            break
    assert len(drafts) == 0  # nobody touched the store: the job swept it
    drafts.put(ConversationKey("k"), {"draft": {}})
    await sweeper.stop()
    assert not sweeper.running and len(drafts) == 0  # nothing outlives the process's work


async def test_the_feature_starts_and_stops_the_sweep(services: Services) -> None:
    feature = build_conversation(
        survey=services.survey,
        followup=services.followup,
        sessions=services.sessions,
        pseudonymizer=services.pseudonymizer,
        k_anonymity=5,
    )
    assert feature.sweeper.drafts is feature.conversation.cancelled
    assert not feature.sweeper.running
    await feature.on_startup()
    assert feature.sweeper.running
    await feature.on_shutdown()
    assert not feature.sweeper.running


async def test_nothing_of_the_cancelled_draft_is_written_anywhere_but_memory(
    services: Services,
) -> None:
    chat = await _at_the_grid(services)
    await chat.press(Act.CANCEL)
    effects = await chat._run(
        Press(chat.screen().options[0].action, chat.newest_with_options()),
        chat.newest_with_options(),
    )
    assert isinstance(effects[0], Replace)
    assert await chat.states.stored(KEY) == {}
    assert await services.sessions.get(KEY) is None
    assert await services.submissions.count() == 0
