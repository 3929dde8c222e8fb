"""The questionnaire: YAML data validated into pydantic models, the condition language, and
the pure engine that walks a respondent through it. No Telegram and no I/O in here apart from
reading a questionnaire file."""

from bot.questionnaire.conditions import (
    AnswerValue,
    Condition,
    ConditionSyntaxError,
    format_condition,
    parse_condition,
)
from bot.questionnaire.engine import (
    Draft,
    DraftMismatchError,
    Engine,
    InputError,
    Outcome,
    QuestionStep,
    ReviewItem,
    ReviewStep,
    RowStep,
    Step,
)
from bot.questionnaire.model import (
    AnswerField,
    Choice,
    Question,
    Questionnaire,
    QuestionType,
    Row,
    Section,
    row_key,
)
from bot.questionnaire.problems import Problem, QuestionnaireError
from bot.questionnaire.validate import (
    collect_problems,
    load_questionnaire,
    parse_questionnaire,
    parse_questionnaire_text,
    summarize,
    validate_command,
)

__all__ = [
    "AnswerField",
    "AnswerValue",
    "Choice",
    "Condition",
    "ConditionSyntaxError",
    "Draft",
    "DraftMismatchError",
    "Engine",
    "InputError",
    "Outcome",
    "Problem",
    "Question",
    "QuestionStep",
    "QuestionType",
    "Questionnaire",
    "QuestionnaireError",
    "ReviewItem",
    "ReviewStep",
    "Row",
    "RowStep",
    "Section",
    "Step",
    "collect_problems",
    "format_condition",
    "load_questionnaire",
    "parse_condition",
    "parse_questionnaire",
    "parse_questionnaire_text",
    "row_key",
    "summarize",
    "validate_command",
]
