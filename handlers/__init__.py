"""aiogram Routers, one module per role or feature. Thin: read the update, call `bot/`, reply.

Each module offers `create_router()`: a Router can belong to one Dispatcher only, and tests
(and a restart) build several. A staff feature's router holds a role-filtered router
(`bot.staff.filters`) followed by the polite refusals for everyone else.
"""

from collections.abc import Callable
from typing import Any

from aiogram import Router
from aiogram.dispatcher.event.handler import FilterObject

from handlers import (
    broadcast,
    campaign,
    cases,
    common,
    digest,
    errors,
    followup,
    report,
    respondent,
    staff,
)


def all_routers() -> list[Router]:
    """Fresh routers in the order they must see updates (catch-alls last), their plain
    filters run in place (`run_filters_inline`)."""
    routers = [
        respondent.create_answer_router(),  # the cadre's buttons and typed answers, first
        errors.create_router(),
        followup.create_router(),  # /followup by receipt code; state-filtered
        cases.create_router(),  # /cases and /audit for staff; state-filtered
        respondent.create_router(),
        staff.create_router(),  # staff and digest groups
        digest.create_router(),  # /digest and /export for investigators
        broadcast.create_router(),  # /broadcast for admins
        campaign.create_router(),  # /campaign for admins
        report.create_router(),  # /report ID for staff
        common.create_router(),
    ]
    for router in routers:
        run_filters_inline(router)
    return routers


def run_filters_inline(router: Router) -> None:
    """Make `router`'s (and its sub-routers') plain filters run in the event loop.

    aiogram runs every callable that is not a coroutine function in a worker thread, and
    that includes each magic filter (`F.text`, `F.chat.type == …`): a thread round trip per
    filter per update, most of a message's routing time. Ours are pure and take microseconds,
    so they are called in place instead (same arguments, same result)."""
    for observer in router.observers.values():
        # The observer's own filters (`router.message.filter(...)`) sit on its root handler.
        root = getattr(observer, "_handler", None)
        for handler in (*observer.handlers, *(() if root is None else (root,))):
            for item in handler.filters or ():
                _inline(item)
    for sub_router in router.sub_routers:
        run_filters_inline(sub_router)


def _inline(item: FilterObject) -> None:
    if item.awaitable:
        return
    plain: Callable[..., Any] = item.callback

    async def in_place(*args: Any, **kwargs: Any) -> Any:
        return plain(*args, **kwargs)

    item.callback = in_place  # `params` still name what the plain callable takes
    item.awaitable = True
