"""The one typed definition of what a handler (or a filter) may receive by name.

`WorkflowData` is what the app puts into `dp.workflow_data`: the process's shared pieces and
each feature's fragment (`StaffData`, `DigestData`, … from the feature's own package).
`HandlerData` adds what aiogram's middlewares provide (`MiddlewareData`, `I18nData`), the
locale picked by `LocaleMiddleware`, what filters hand over (`callback_data`, `command`) and
what the cadre's routers' middleware hands over (`telegram_chat`). A handler parameter is one
of these names or the event itself (tests/app/test_handler_data.py checks every handler).
"""

from __future__ import annotations

from typing import NotRequired, TypedDict

from aiogram.dispatcher.middlewares.data import I18nData, MiddlewareData
from aiogram.filters import CommandObject
from aiogram.filters.callback_data import CallbackData

from bot.broadcast.runtime import BroadcastData
from bot.campaigns.feature import CampaignData
from bot.cases import CaseData
from bot.clock import WallClock
from bot.config import Settings
from bot.conversation.feature import ConversationData
from bot.digest.scheduler import DigestData
from bot.questionnaire import Questionnaire
from bot.respondent.feature import RespondentData
from bot.staff.feature import StaffData
from handlers.conversation_bridge import TelegramChat
from storage.repositories import SubmissionRepository, SubscriberRepository


class CoreData(TypedDict):
    """The process's shared pieces that handlers of several features read."""

    settings: Settings
    questionnaire: Questionnaire  # the configured one (campaigns may run stored versions)
    submissions: SubmissionRepository
    subscribers: SubscriberRepository
    clock: WallClock  # the process's clock (a fake one in tests)


class WorkflowData(
    CoreData,
    RespondentData,
    StaffData,
    CampaignData,
    DigestData,
    CaseData,
    ConversationData,
    BroadcastData,
):
    """Exactly the keys of `dp.workflow_data`."""


class HandlerData(MiddlewareData, I18nData, WorkflowData, total=False):
    """Every name a handler or filter may ask for."""

    locale: str  # LocaleMiddleware: the language this update is answered in
    callback_data: NotRequired[CallbackData]  # a `CallbackData.filter()` of the handler
    command: NotRequired[CommandObject]  # a `Command` filter of the handler
    telegram_chat: NotRequired[TelegramChat]  # the cadre's routers: their way into the core
