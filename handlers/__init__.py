"""aiogram Routers, one module per role or feature. Thin: read the update, call `bot/`, reply.

Each module offers `create_router()`: a Router can belong to one Dispatcher only, and tests
(and a restart) build several. A staff feature's router holds a role-filtered router
(`bot.staff.filters`) followed by the polite refusals for everyone else.
"""

from aiogram import Router

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
    """Fresh routers in the order they must see updates (catch-alls last)."""
    return [
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
