"""The conversation feature, built once per process: the core and what a channel's handlers
need to reach it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypedDict

from bot.anonymity.pseudonym import Pseudonymizer
from bot.conversation.core import Conversation
from bot.conversation.ports import Followup, Sessions, Survey
from bot.conversation.restore import CancelledDrafts, Sweeper


class ConversationData(TypedDict):
    """Handler data: the core, and the pseudonymizer the Telegram channel derives the
    conversation key and the daily pseudonyms with."""

    conversation: Conversation
    pseudonymizer: Pseudonymizer


@dataclass(frozen=True)
class ConversationFeature:
    conversation: Conversation
    pseudonymizer: Pseudonymizer
    sweeper: Sweeper

    def handler_data(self) -> ConversationData:
        return {"conversation": self.conversation, "pseudonymizer": self.pseudonymizer}

    async def on_startup(self) -> None:
        """Start sweeping the drafts cancelled a moment ago (kept a minute, in memory), so
        one nobody comes back for goes on time. The follow-up session store is started (and
        swept) by its owner, the cases feature."""
        self.sweeper.start()

    async def on_shutdown(self) -> None:
        """Stop the sweep and forget every cancelled draft still kept."""
        await self.sweeper.stop()


def build_conversation(
    *,
    survey: Survey,
    followup: Followup,
    sessions: Sessions,
    pseudonymizer: Pseudonymizer,
    k_anonymity: int,
) -> ConversationFeature:
    cancelled = CancelledDrafts()
    core = Conversation(survey, followup, sessions, k_anonymity=k_anonymity, cancelled=cancelled)
    return ConversationFeature(core, pseudonymizer, Sweeper(cancelled))
