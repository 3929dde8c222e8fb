"""Handler data has one typed definition (`bot.handler_data.HandlerData`), and the real
dispatcher keeps to it: every parameter of every registered handler, filter and start-up or
shut-down hook is one of its keys (or the event itself), and `dp.workflow_data` holds exactly
the keys of `WorkflowData`, each of the declared type."""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, get_type_hints

import pytest
from aiogram import Dispatcher, Router
from aiogram.dispatcher.event.handler import CallableObject, FilterObject, HandlerObject
from aiogram.dispatcher.middlewares.data import MiddlewareData
from aiogram.filters.logic import _InvertFilter, _OrFilter
from aiogram.fsm.storage.memory import MemoryStorage
from pydantic import SecretStr

from bot.app import Services, build_services, create_dispatcher
from bot.config import load_settings
from bot.handler_data import HandlerData, WorkflowData

HANDLER_KEYS = frozenset(HandlerData.__required_keys__ | HandlerData.__optional_keys__)
WORKFLOW_KEYS = frozenset(WorkflowData.__required_keys__ | WorkflowData.__optional_keys__)


@pytest.fixture
async def services(tmp_path: Path) -> AsyncIterator[Services]:
    settings = load_settings(
        data_dir=tmp_path, bot_token=SecretStr("1:test"), admin_ids=[1], fsm_storage="memory"
    )
    built = await build_services(settings)
    yield built
    await built.close()


@pytest.fixture
def dispatcher(services: Services) -> Dispatcher:
    return create_dispatcher(services, storage=MemoryStorage())


def _routers(router: Router) -> Iterator[Router]:
    yield router
    for child in router.sub_routers:
        yield from _routers(child)


def _filters(filters: list[FilterObject] | None) -> Iterator[FilterObject]:
    """Every filter, those inside `~f`, `or_f(...)` and `and_f(...)` included; not magic
    filters (`F.…`), which only see the event."""
    for item in filters or ():
        callback = item.callback
        if isinstance(callback, _InvertFilter):
            yield from _filters([callback.target])
        elif isinstance(callback, _OrFilter) or hasattr(callback, "targets"):
            yield from _filters(list(callback.targets))
        elif item.magic is None:
            yield item


def _names(callable_object: CallableObject, *, event_first: bool) -> set[str]:
    """The names a callable asks aiogram for (without the event passed positionally)."""
    parameters = list(inspect.signature(callable_object.callback).parameters.values())
    if event_first and parameters:
        parameters = parameters[1:]
    return {
        parameter.name
        for parameter in parameters
        if parameter.kind not in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD)
    }


def _callables(dp: Dispatcher) -> Iterator[tuple[str, CallableObject, bool]]:
    """(where, callable, whether the event comes first) for everything aiogram calls."""
    for router in _routers(dp):
        for update_type, observer in router.observers.items():
            root: HandlerObject = observer._handler
            for item in _filters(root.filters):
                yield f"{router.name}.{update_type} filter {item.callback!r}", item, True
            for handler in observer.handlers:
                name = getattr(handler.callback, "__qualname__", repr(handler.callback))
                yield f"{router.name}.{update_type} {name}", handler, True
                for item in _filters(handler.filters):
                    yield f"{router.name}.{update_type} {name} filter {item.callback!r}", item, True
    for hooks in (dp.startup, dp.shutdown):
        for hook in hooks.handlers:
            yield f"hook {hook.callback!r}", hook, False


def test_every_handler_parameter_is_typed_handler_data(dispatcher: Dispatcher) -> None:
    unknown = {
        where: sorted(names - HANDLER_KEYS)
        for where, item, event_first in _callables(dispatcher)
        if (names := _names(item, event_first=event_first)) - HANDLER_KEYS
    }
    assert unknown == {}


def test_the_walk_sees_the_routers_and_their_handlers(dispatcher: Dispatcher) -> None:
    """The check above covers the real handlers, the respondent's and follow-up's too."""
    names = {router.name for router in _routers(dispatcher)}
    assert {"respondent", "followup", "cases.staff", "staff.admin", "digest.admin"} <= names
    seen = {where.rsplit(" ", 1)[-1] for where, _, _ in _callables(dispatcher)}
    assert {"followup_command", "case_button", "export_command", "campaign_command"} <= seen


def test_the_dispatcher_provides_exactly_the_declared_workflow_data(
    dispatcher: Dispatcher,
) -> None:
    provided = set(dispatcher.workflow_data) - set(MiddlewareData.__optional_keys__)
    assert provided == WORKFLOW_KEYS
    hints: dict[str, Any] = get_type_hints(WorkflowData)
    wrong = {
        key: type(value).__name__
        for key, value in dispatcher.workflow_data.items()
        if key in hints
        and isinstance(hints[key], type)
        and not getattr(hints[key], "_is_protocol", False)  # checked by mypy instead
        and not isinstance(value, hints[key])
    }
    assert wrong == {}


def test_a_misspelled_parameter_is_caught(dispatcher: Dispatcher) -> None:
    """The check can fail: a handler asking for a name nobody provides is reported."""

    async def handler(message: object, staff_role: object) -> None: ...

    router = Router(name="misspelled")
    router.message.register(handler)
    [registered] = router.message.handlers
    assert _names(registered, event_first=True) - HANDLER_KEYS == {"staff_role"}
