"""An uploaded questionnaire cannot exhaust the bot: size, nesting, number and mapping limits,
each named in its own problem (with the line), parsing in a worker thread, and the CLI's
`questionnaire validate` applying the same limits."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path
from typing import Any

import pytest

from bot.questionnaire import QuestionnaireError, parse_questionnaire_text, validate_command
from bot.questionnaire.validate import MAX_DEPTH, MAX_MAPPING_KEYS
from bot.questionnaire_versions import parse_off_loop

SHIPPED = Path(__file__).parents[2] / "bot" / "questionnaires" / "formalism.yaml"

DEEP_FLOW = "id: x\nsections: " + "[" * 10_000 + "]" * 10_000 + "\n"
DEEP_BLOCK = "id: x\n" + "".join(f"{'  ' * level}k{level}:\n" for level in range(200))
HUGE_NUMBER = "id: x\nversion: " + "9" * 100_000 + "\n"
HUGE_FLOAT = "id: x\nversion: 1." + "5" * 100_000 + "\n"
MANY_KEYS = "id: x\n" + "".join(f"key{index}: 1\n" for index in range(20_000))


def problem_of(text: str) -> tuple[str | None, int | None, str]:
    with pytest.raises(QuestionnaireError) as caught:
        parse_questionnaire_text(text, "upload.yaml")
    [problem] = caught.value.problems
    return problem.kind, problem.line, problem.message


@pytest.mark.parametrize("text", [DEEP_FLOW, DEEP_BLOCK], ids=["flow", "block"])
def test_deep_nesting_is_refused_by_name(text: str) -> None:
    kind, line, message = problem_of(text)
    assert kind == "too_deep"
    assert f"nested more than {MAX_DEPTH} levels deep" in message
    assert line is not None and line >= 1


@pytest.mark.parametrize("text", [HUGE_NUMBER, HUGE_FLOAT], ids=["int", "float"])
def test_a_100000_digit_number_is_refused_by_name(text: str) -> None:
    kind, line, message = problem_of(text)
    assert (kind, line) == ("number_too_large", 2)
    assert "digits" in message


def test_20000_keys_are_refused_by_name() -> None:
    kind, line, message = problem_of(MANY_KEYS)
    assert kind == "too_many_keys"
    assert line == MAX_MAPPING_KEYS + 1  # stopped at the first key too many, not at the end
    assert f"more than {MAX_MAPPING_KEYS} keys" in message


def test_yaml_syntax_names_the_line() -> None:
    kind, line, message = problem_of("id: x\nsections: [a, b\nversion: 1\n")
    assert (kind, line) == ("yaml_syntax", 3)
    assert "line 3" in message


def test_the_shipped_questionnaire_is_within_every_limit() -> None:
    parse_questionnaire_text(SHIPPED.read_text(encoding="utf-8"), SHIPPED.name)


async def test_parsing_runs_in_a_worker_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    """The upload path hands the parse to `asyncio.to_thread`, so the event loop keeps
    serving cadres while a large file is read."""
    calls: list[Any] = []
    real = asyncio.to_thread

    async def spy(function: Any, /, *args: Any, **kwargs: Any) -> Any:
        calls.append(function)
        return await real(function, *args, **kwargs)

    monkeypatch.setattr("bot.questionnaire_versions.asyncio.to_thread", spy)
    questionnaire = await parse_off_loop(SHIPPED.read_text(encoding="utf-8"), SHIPPED.name)
    assert questionnaire.id == "formalism"
    with pytest.raises(QuestionnaireError):
        await parse_off_loop(MANY_KEYS, "upload.yaml")
    assert calls == [parse_questionnaire_text, parse_questionnaire_text]


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (DEEP_FLOW, "nested more than"),
        (HUGE_NUMBER, "100000 digits"),
        (MANY_KEYS, "keys in one mapping"),
        ("#" * (300 * 1024), "larger than 256 KiB"),
    ],
    ids=["deep", "number", "keys", "size"],
)
def test_the_cli_applies_the_same_limits(tmp_path: Path, text: str, words: str) -> None:
    path = tmp_path / "upload.yaml"
    path.write_text(text, encoding="utf-8")
    out = io.StringIO()
    assert validate_command(path, out) == 2
    assert words in out.getvalue()
