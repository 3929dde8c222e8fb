"""aiogram Routers, one module per role or feature. Thin: read the update, call `bot/`, reply."""

from aiogram import Router

from handlers import common, errors, respondent


def all_routers() -> list[Router]:
    """Routers in the order they must see updates (catch-alls last)."""
    return [errors.router, respondent.router, common.router]
