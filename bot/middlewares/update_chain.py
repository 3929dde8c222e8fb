"""The outer update middlewares, in the one order that keeps every press answered in time.

Outermost first: replays dropped (webhook mode), the callback deadline, per-chat order in this
process, the limit on updates in their handlers, and only then aiogram's FSM middleware, which
takes the chat's lock in Redis when several instances share it. aiogram registers that FSM
middleware in the Dispatcher's constructor, ahead of anything added later, so it is moved
behind ours: the deadline then also counts the wait for another instance to let go of the
chat, and a chat waiting for its own earlier update here holds no place among the handlers.
"""

from __future__ import annotations

from aiogram import BaseMiddleware, Dispatcher

from bot.middlewares.callback_deadline import CallbackAnswerDeadline
from bot.middlewares.concurrency import ConcurrentUpdates
from bot.middlewares.ordering import ChatOrderingMiddleware


def install_update_middlewares(
    dp: Dispatcher,
    *,
    deadline: CallbackAnswerDeadline | None = None,
    concurrency: ConcurrentUpdates | None = None,
    replays: BaseMiddleware | None = None,
) -> None:
    """Register the outer update middlewares on `dp` in their order (see the module)."""
    chain = dp.update.outer_middleware
    chain.unregister(dp.fsm)
    if replays is not None:
        chain(replays)
    chain(deadline or CallbackAnswerDeadline())
    chain(ChatOrderingMiddleware())
    chain(concurrency or ConcurrentUpdates())
    chain(dp.fsm)
