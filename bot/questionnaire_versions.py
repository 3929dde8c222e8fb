"""Adding a questionnaire version from YAML text: validate, then store.

Shared by `python -m bot questionnaire add FILE` and the admin's YAML upload in the chat.
Parsing runs in a worker thread: a hostile upload within the limits still costs a little CPU,
and the bot's event loop keeps answering cadres meanwhile.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy.ext.asyncio import AsyncConnection

from bot.questionnaire import Questionnaire, QuestionnaireError, parse_questionnaire_text
from bot.questionnaire.problems import Problem
from storage.repositories.questionnaire_versions import (
    AddResult,
    QuestionnaireVersionRepository,
)


@dataclass(frozen=True)
class VersionUpload:
    result: AddResult | None  # None when the YAML is invalid
    questionnaire: Questionnaire | None = None
    problems: list[Problem] = field(default_factory=list)


async def parse_off_loop(text: str, source: str) -> Questionnaire:
    """`parse_questionnaire_text` in a worker thread (raises `QuestionnaireError`)."""
    return await asyncio.to_thread(parse_questionnaire_text, text, source)


async def add_version(
    repository: QuestionnaireVersionRepository,
    text: str,
    source: str,
    day: date,
    *,
    connection: AsyncConnection | None = None,
) -> VersionUpload:
    """Validate `text` (off the event loop) and store it; pass `connection` to store it in
    the caller's transaction (the admin's upload writes its audit entry in the same one)."""
    try:
        questionnaire = await parse_off_loop(text, source)
    except QuestionnaireError as error:
        return VersionUpload(None, problems=list(error.problems))
    result = await repository.add(
        questionnaire.id, questionnaire.version, text, day, connection=connection
    )
    return VersionUpload(result, questionnaire)
