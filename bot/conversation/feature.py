"""The conversation feature, built once per process: the core and what a channel's handlers
need to reach it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypedDict

from bot.anonymity.pseudonym import Pseudonymizer
from bot.conversation.core import Conversation
from bot.conversation.ports import Followup, Sessions, Survey


class ConversationData(TypedDict):
    """Handler data: the core, and the pseudonymizer the Telegram channel derives the
    conversation key and the daily pseudonyms with."""

    conversation: Conversation
    pseudonymizer: Pseudonymizer


@dataclass(frozen=True)
class ConversationFeature:
    conversation: Conversation
    pseudonymizer: Pseudonymizer

    def handler_data(self) -> ConversationData:
        return {"conversation": self.conversation, "pseudonymizer": self.pseudonymizer}

    async def on_startup(self) -> None:
        """Nothing to start: the core keeps no state of its own, and the follow-up session
        store is started (and swept) by its owner, the cases feature."""

    async def on_shutdown(self) -> None:
        """Nothing to stop, for the same reason."""


def build_conversation(
    *,
    survey: Survey,
    followup: Followup,
    sessions: Sessions,
    pseudonymizer: Pseudonymizer,
    k_anonymity: int,
) -> ConversationFeature:
    core = Conversation(survey, followup, sessions, k_anonymity=k_anonymity)
    return ConversationFeature(core, pseudonymizer)
