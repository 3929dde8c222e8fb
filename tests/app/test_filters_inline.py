"""Our routers' plain filters run in the event loop, not in aiogram's worker threads."""

from __future__ import annotations

import threading
from typing import Any

from aiogram import Bot, Dispatcher, F, Router
from aiogram.types import Message, Update

from handlers import all_routers, run_filters_inline

TOKEN = "42:INLINEFILTERTEST"


def _update() -> Update:
    return Update.model_validate(
        {
            "update_id": 1,
            "message": {
                "message_id": 7,
                "date": 0,
                "text": "每周三次",
                "chat": {"id": 5, "type": "private"},
                "from": {"id": 5, "is_bot": False, "first_name": "干部"},
            },
        }
    )


async def _threads_seen(inline: bool) -> tuple[set[int], list[str]]:
    seen: set[int] = set()
    handled: list[str] = []

    def plain(message: Any) -> bool:
        seen.add(threading.get_ident())
        return True

    router = Router()
    router.message.filter(F.func(plain))  # the router's own filter
    nested = Router()

    async def typed(message: Message) -> None:
        handled.append(message.text or "")

    nested.message.register(typed, F.text, F.func(plain))  # a handler's filters
    router.include_router(nested)
    if inline:
        run_filters_inline(router)
    dispatcher = Dispatcher()
    dispatcher.include_router(router)
    await dispatcher.feed_update(Bot(TOKEN), _update())
    return seen, handled


async def test_plain_filters_run_in_the_event_loop_and_still_decide() -> None:
    seen, handled = await _threads_seen(inline=True)
    assert seen == {threading.get_ident()}
    assert handled == ["每周三次"]


async def test_without_it_aiogram_runs_them_in_worker_threads() -> None:
    """The control: the check above would notice a filter left to a worker thread."""
    seen, handled = await _threads_seen(inline=False)
    assert threading.get_ident() not in seen
    assert handled == ["每周三次"]


def test_every_router_of_the_bot_is_left_without_a_threaded_filter() -> None:
    def threaded(router: Router) -> list[str]:
        found = []
        for observer in router.observers.values():
            root = getattr(observer, "_handler", None)
            for handler in (*observer.handlers, *(() if root is None else (root,))):
                found += [repr(f.callback) for f in handler.filters or () if not f.awaitable]
        for sub_router in router.sub_routers:
            found += threaded(sub_router)
        return found

    routers = all_routers()
    assert routers
    assert [found for router in routers for found in threaded(router)] == []
