"""What is wrong with a questionnaire file, said so that an admin can fix it without a developer."""

from __future__ import annotations

from dataclasses import dataclass

#: Problems of the file as a whole: too large, bad YAML, or a limit of the parser exceeded.
LIMIT_KINDS = ("too_large", "yaml_syntax", "too_deep", "number_too_large", "too_many_keys")


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem: which file, which question (if any), and what is wrong.

    Problems found before the questionnaire itself is read (file too large, YAML syntax,
    nesting, numbers or mappings beyond the limits) also carry a `kind` from `LIMIT_KINDS`
    and the 1-based `line`, so that the admin's chat can say them in the admin's language."""

    source: str
    question_id: str | None
    message: str
    kind: str | None = None
    line: int | None = None

    def __str__(self) -> str:
        if self.question_id is None:
            return f"{self.source}: {self.message}"
        return f"{self.source}: {self.question_id}: {self.message}"


class QuestionnaireError(Exception):
    """A questionnaire failed validation; `problems` lists every problem found, in file order."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        count = len(problems)
        head = "\n".join(str(problem) for problem in problems[:20])
        more = f"\n… and {count - 20} more" if count > 20 else ""
        plural = "s" if count != 1 else ""
        super().__init__(f"{count} problem{plural} in questionnaire:\n{head}{more}")
