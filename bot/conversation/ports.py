"""What the core asks of the services below it, and what they answer.

The core owns these shapes; the survey service (`bot.respondent.survey`), the follow-up
service (`bot.cases.followup`) and the follow-up session store (`bot.cases.sessions`) fit
them, so the core imports neither storage nor a service.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any, Protocol

from bot.conversation.model import Cadre, ConversationKey, MessageRef
from bot.questionnaire.engine import Draft, Engine

# --- the questionnaire ----------------------------------------------------------------------


@dataclass(frozen=True)
class Submitted:
    receipt_code: str


@dataclass(frozen=True)
class LimitReached:
    limit: int


SubmitResult = Submitted | LimitReached


class Survey(Protocol):
    """Questionnaire versions, the daily limit and the submission."""

    @property
    def max_per_day(self) -> int: ...

    async def draft_in(self, data: dict[str, Any]) -> Draft | None: ...

    def engine_of(self, draft: Draft) -> Engine: ...

    async def engine_now(self) -> Engine: ...

    async def engine_for(self, questionnaire_id: str, version: int) -> Engine | None: ...

    async def availability(self) -> tuple[bool, str | None]: ...

    async def limit_reached(self, cadre: Cadre) -> bool: ...

    async def submit(
        self, draft: Draft, cadre: Cadre, *, campaign_id: str | None = None
    ) -> SubmitResult: ...


# --- follow-up by receipt code --------------------------------------------------------------


@dataclass(frozen=True)
class Opened:
    receipt_hash: str


@dataclass(frozen=True)
class WrongCode:
    pass


@dataclass(frozen=True)
class TooManyTries:
    limit: int


OpenResult = Opened | WrongCode | TooManyTries


class ReportSummary(Protocol):
    @property
    def day(self) -> date: ...

    @property
    def status(self) -> str: ...


class ThreadEntry(Protocol):
    @property
    def origin(self) -> str: ...  # a FollowupOrigin value

    @property
    def day(self) -> date: ...

    @property
    def text(self) -> str: ...


@dataclass(frozen=True)
class Report:
    summary: ReportSummary
    thread: Sequence[ThreadEntry]


@dataclass(frozen=True)
class Answered:
    masked: tuple[str, ...]


@dataclass(frozen=True)
class ReceiptRefused:
    pass


@dataclass(frozen=True)
class ReportGone:
    pass


AnswerResult = Answered | ReceiptRefused | ReportGone


class Followup(Protocol):
    async def open(self, cadre: Cadre, text: str) -> OpenResult: ...

    async def report(self, hashed: str) -> Report | None: ...

    async def answer(self, hashed: str, text: str) -> AnswerResult: ...


class Step(StrEnum):
    CODE = "code"  # waiting for the receipt code
    READING = "reading"  # a report is open
    WRITING = "writing"  # the next text is the cadre's answer


@dataclass(frozen=True)
class FollowupSession:
    """One open follow-up. `first_message_id` is where "clear this chat" starts deleting."""

    step: Step
    first_message_id: MessageRef
    receipt_hash: str | None = None

    def to_json(self) -> str:
        return json.dumps(
            {"s": self.step.value, "f": self.first_message_id, "h": self.receipt_hash},
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, raw: str) -> FollowupSession:
        data: dict[str, Any] = json.loads(raw)
        hashed = data.get("h")
        return cls(
            step=Step(str(data["s"])),
            first_message_id=int(data["f"]),
            receipt_hash=hashed if isinstance(hashed, str) else None,
        )


class Sessions(Protocol):
    """Where an open follow-up lives: memory or Redis, never SQL or the conversation state."""

    async def get(self, key: ConversationKey) -> FollowupSession | None: ...

    async def put(self, key: ConversationKey, session: FollowupSession) -> None: ...

    async def drop(self, key: ConversationKey) -> None: ...
