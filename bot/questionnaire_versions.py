"""Adding a questionnaire version from YAML text: validate, then store (issue 6).

Shared by `python -m bot questionnaire add FILE` and the admin's YAML upload in the chat.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

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


async def add_version(
    repository: QuestionnaireVersionRepository, text: str, source: str, day: date
) -> VersionUpload:
    try:
        questionnaire = parse_questionnaire_text(text, source)
    except QuestionnaireError as error:
        return VersionUpload(None, problems=list(error.problems))
    result = await repository.add(questionnaire.id, questionnaire.version, text, day)
    return VersionUpload(result, questionnaire)
