"""What a digest says, computed in SQL and cut down to what k-anonymity allows.

The database does the counting (a handful of GROUP BY queries, see `DigestQueries`); Python
only applies the disclosure rules to a few hundred grouped counts (`summarise`). The result is
a frozen, JSON-serialisable `DigestData` tree: built digests are stored and retried verbatim.

Disclosure rules (K = K_ANONYMITY). Every count of people that the digest shows, or that a
reader can work out from what it shows, is either 0 or at least K:

1. **Small periods.** With fewer than K submissions the digest says only "fewer than K" and
   nothing else: no figure, group or example. Such a digest is identical whether 0 or K − 1
   reports came in, so a fixed rhythm of digests hides whether anyone reported at all.
2. **Cells.** A count between 1 and K − 1 is hidden. Within a partition whose total is known
   (the answers to one question, including "not answered", add up to the number of
   submissions) one hidden cell could be recovered by subtraction, so further cells are hidden,
   smallest first, until at least two are hidden and the hidden cells add up to 0 or at least K
   (complementary suppression).
3. **Shares.** The share meeting a problem often or very often splits the respondents into two
   groups; it is shown only when both are 0 or at least K. When it is shown, the cells inside
   each group are suppressed against that group's total, so no cell can be derived from the
   share. The change against the previous period needs the share of both periods.
4. **Means and percentiles** need at least K answers. A percentile (nearest rank) is shown
   only when at least K answers lie at or below it and at least K at or above it: otherwise it
   would describe the few people in the tail (for example a 90th percentile of 12 answers is
   the value of the top two). How many answers a figure rests on is given exactly only when
   that cannot uncover a small group: for the numbers, when those who did not answer are 0
   or at least K; for a mean impact, when the problem's whole distribution is shown and
   every sum of its cells that is at least the count exceeds it by 0 or at least K (those
   asked the impact are some of the cells' people, so no skipped group is 1 to K − 1).
   Otherwise the digest says "at least K".
5. **Breakdowns** (unit type, post level — the questionnaire's grouping questions — and "not
   answered" as a group of its own) appear only in weekly and campaign digests: a daily
   digest covers too few reports to split them by who wrote them. Groups of at least K are
   shown; smaller ones are merged into one "others (merged)" group without naming its
   members. If that group is still below K, the smallest shown groups are moved into it
   until it reaches K (it cannot simply be hidden: the total would give it away). A
   breakdown in which no group reaches K alone is not shown. The groups then form a table
   (group × meets a problem often or not) whose row totals (group sizes), column totals (the
   overall share) and grand total are published; its cells are suppressed by
   `suppress_table` (primary and complementary suppression), and a group's share is shown
   only when both its cells are.
6. **Measures** and **burden sources** (multiple choice, no published total) are listed
   only when at least K chose them. How the burden changed (single choice) is a partition
   like the deadline share (rule 2).
8. **Cross-tabulations** (each problem by each grouping question, where breakdowns are
   shown) use the breakdown's own groups, so every group is at least K and its size is the
   one the breakdown publishes. Each is a table (group × meets the problem often or not)
   whose row totals, column totals (the problem's overall share) and grand total are
   published, suppressed by `suppress_table` like the breakdown; a problem whose overall
   share is hidden has no cross-tab, nor has one whose suppression cannot hold or hides
   every share.
9. **The share writing a free text** (an example or a suggestion) is shown only when those
   who did and those who did not are each 0 or at least K.
10. **Examples** (up to three per problem, free text already scrubbed at storage and scrubbed
   again here) appear only when the period has at least K submissions; they carry no date,
   dates written inside them are masked, and they are picked at random. The texts typed for
   the measure "other" (up to three, shortened like examples) appear only when at least K
   chose "other". No text appears twice in one digest.

Texts that cannot be decrypted (a retired key, a damaged row) are skipped and counted
(`DigestData.undecryptable`); the digest goes on.

Known limits: a share of 0% or 100% says something about every respondent of a group of at
least K (homogeneity); digests of overlapping filters (a campaign and all submissions) can be
subtracted from one another. Neither is prevented here.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import random
import re
import types
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from fractions import Fraction
from typing import Any, Final, Literal, TypeVar, Union, get_args, get_origin, get_type_hints

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    case,
    exists,
    false,
    func,
    literal,
    or_,
    select,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.anonymity.crypto import DecryptionError, TextCipher
from bot.anonymity.scrubber import scrub
from bot.digest.period import Period
from bot.questionnaire import AnswerField, Questionnaire
from storage.database import Database
from storage.repositories.submissions import answer_text_context
from storage.tables import answers, submissions

logger = logging.getLogger(__name__)

SCHEMA_VERSION: Final = 1
NO_ANSWER: Final = "_none"
"""Cell / group id for "did not answer" (or answered with a choice this questionnaire lacks)."""
MERGED: Final = "_merged"
"""Group id of the merged small groups of a breakdown."""
HIGH_FREQUENCY: Final[tuple[str, ...]] = ("often", "very_often")
"""Frequency choice ids that count as meeting a problem "often or very often"."""
BREAKDOWN_QUESTIONS: Final[tuple[str, ...]] = ("unit_type", "post_level")
FIGURE_QUESTIONS: Final[tuple[str, ...]] = ("meetings_month", "inspections_month")
DEADLINE_QUESTION: Final = "deadline_share"
MEASURES_QUESTION: Final = "measures"
BURDEN_QUESTION: Final = "burden_source"
CHANGE_QUESTION: Final = "change_since"
FREQUENCY_GRID: Final = "freq"
"""The grid of version 2 whose rows pN are the problem types (answer keys "freq.pN")."""
IMPACT_GRID: Final = "impact"
"""The integer grid of version 2 whose row pN is problem N's impact (key "impact.pN")."""
EXAMPLES_PER_PROBLEM: Final = 3
OTHER_CHOICE: Final = "other"
MEASURES_OTHER_QUESTION: Final = "measures_other"
"""The text typed for the measure "other" (relevant only when "other" was chosen)."""
EXAMPLE_MAX_CHARS: Final = 80
_EXAMPLE_CANDIDATES: Final = 6  # fetched per problem, so blank texts can be skipped
_FREQUENCY_ID = re.compile(r"^p(\d+)_freq$")
_PROBLEM_ROW = re.compile(r"^p(\d+)$")
QUANTILES: Final[tuple[tuple[str, Fraction], ...]] = (
    ("median", Fraction(1, 2)),
    ("p90", Fraction(9, 10)),
)


# ---------------------------------------------------------------------------- the data tree


@dataclass(frozen=True)
class Cell:
    """One answer option's count. `count` and `share` (of all submissions) are None when the
    cell is hidden (rule 2)."""

    choice_id: str
    count: int | None
    share: float | None

    @property
    def hidden(self) -> bool:
        return self.count is None


@dataclass(frozen=True)
class ProblemFigures:
    """One of the problem types, in questionnaire order. `question_id` is the answer key of
    its frequency: a `pN_freq` question (version 1) or a row of the `freq` grid ("freq.pN")."""

    number: int
    question_id: str
    section_id: str
    often_share: float | None = None
    """Share of all submissions answering often or very often; None when hidden."""
    change_points: float | None = None
    """`often_share` minus the previous period's, in percentage points."""
    distribution: tuple[Cell, ...] = ()
    mean_impact: float | None = None
    impact_answers: int | None = None
    """How many answers `mean_impact` rests on; None when the mean is hidden, or when the
    exact count could uncover a small group (the digest then says "at least K")."""
    impact_max: int | None = None
    examples: tuple[str, ...] = ()
    previous_share: float | None = None
    """The comparison's `often_share` (the previous period, or for a campaign the previous
    campaign), shown beside this one; None when either share is hidden."""


@dataclass(frozen=True)
class NumberFigures:
    """Median and 90th percentile of a number question (None when not shown, rule 4)."""

    question_id: str
    median: int | None = None
    p90: int | None = None
    answers: int | None = None
    """How many answers the figures rest on; None when neither is shown, or when the
    exact count would give away a small group of non-answerers ("at least K")."""


@dataclass(frozen=True)
class RankedChoice:
    choice_id: str
    count: int
    share: float


@dataclass(frozen=True)
class GroupFigures:
    """One group of a breakdown: a choice id, `NO_ANSWER`, or `MERGED`."""

    group_id: str
    size: int
    any_often_share: float | None


@dataclass(frozen=True)
class Breakdown:
    question_id: str
    groups: tuple[GroupFigures, ...]


@dataclass(frozen=True)
class CrossGroup:
    """One group of a problem's cross-tabulation: the same groups as the breakdown (a
    choice id, `NO_ANSWER` or `MERGED`, each of at least K reports), and the share of the
    group meeting the problem often or more (None when suppressed)."""

    group_id: str
    size: int
    often_share: float | None


@dataclass(frozen=True)
class CrossTab:
    """Problem `problem` (frequency key `question_id`) by the grouping question
    `breakdown_id` (rule 8)."""

    breakdown_id: str
    problem: int
    question_id: str
    groups: tuple[CrossGroup, ...]


@dataclass(frozen=True)
class Comparison:
    """What the trend figures compare with: the previous period of the same kind, or for a
    campaign the campaign before it. `submissions` is None when that scope was below K."""

    kind: Literal["period", "campaign"]
    label: str
    """The previous period's key, or the previous campaign's title."""
    first_day: date
    last_day: date
    submissions: int | None = None
    campaign_id: str | None = None
    """The campaign counted (None: every submission of the days)."""


@dataclass(frozen=True)
class DigestData:
    """Everything a digest shows, already reduced to what k-anonymity allows.

    `submissions` is None when the period had fewer than `k` submissions; every other figure
    is then empty. JSON round-trips exactly (`to_json` / `from_json`).
    """

    period: Period
    questionnaire_id: str
    k: int
    campaign_id: str | None = None
    campaign_title: str | None = None
    """The campaign's own title, for the digest's title (the id when None)."""
    submissions: int | None = None
    any_often_share: float | None = None
    problems: tuple[ProblemFigures, ...] = ()
    numbers: tuple[NumberFigures, ...] = ()
    deadline_share: tuple[Cell, ...] = ()
    measures: tuple[RankedChoice, ...] = ()
    measures_other: tuple[str, ...] = ()
    """Up to three texts typed for the measure "other", only when at least K chose it."""
    burden_sources: tuple[RankedChoice, ...] = ()
    """Where the burden comes from (multiple choice): listed like the measures (rule 6)."""
    change_since: tuple[Cell, ...] = ()
    """How the burden changed: cells like `deadline_share` (rule 2)."""
    breakdowns: tuple[Breakdown, ...] = ()
    crosstabs: tuple[CrossTab, ...] = ()
    """Each problem by each grouping question, where breakdowns are shown (rule 8)."""
    comparison: Comparison | None = None
    """What `ProblemFigures.previous_share` and `change_points` compare with."""
    with_text_share: float | None = None
    """Share of the reports that wrote at least one free text (an example, a suggestion):
    shown when both they and the others are 0 or at least K."""
    undecryptable: int = 0
    """Stored texts the digest tried to read and could not decrypt (skipped)."""
    schema: int = SCHEMA_VERSION

    @property
    def enough(self) -> bool:
        """Whether the period reached K submissions (and so shows any figures at all)."""
        return self.submissions is not None

    def to_json(self) -> str:
        return json.dumps(to_jsonable(self), ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> DigestData:
        loaded = from_jsonable(cls, json.loads(text))
        if loaded.schema != SCHEMA_VERSION:
            raise ValueError(f"digest data schema {loaded.schema} is not {SCHEMA_VERSION}")
        return loaded


# ---------------------------------------------------------------------------- JSON helpers

_T = TypeVar("_T")


def to_jsonable(value: Any) -> Any:
    """Dataclasses → dicts, tuples → lists, dates → ISO strings; other values as they are."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, datetime):
        raise TypeError("digest data holds calendar days only, never a time")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [to_jsonable(item) for item in value]
    if isinstance(value, dict):
        return {str(key): to_jsonable(item) for key, item in value.items()}
    if value is None or isinstance(value, str | int | float):
        return value
    raise TypeError(f"cannot serialise {type(value).__name__}")


def from_jsonable(kind: type[_T], data: Any) -> _T:
    """Rebuild a value of `kind` (a dataclass tree as written by `to_jsonable`)."""
    result: _T = _decode(kind, data)
    return result


def _decode(kind: Any, data: Any) -> Any:
    origin = get_origin(kind)
    if kind is Any:
        return data
    if isinstance(kind, type) and dataclasses.is_dataclass(kind):
        if not isinstance(data, dict):
            raise ValueError(f"expected an object for {kind.__name__}")
        hints = get_type_hints(kind)
        values = {
            f.name: _decode(hints[f.name], data[f.name])
            for f in dataclasses.fields(kind)
            if f.init and f.name in data
        }
        return kind(**values)
    if origin in (Union, types.UnionType):
        options = get_args(kind)
        if data is None and type(None) in options:
            return None
        errors: list[str] = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _decode(option, data)
            except (TypeError, ValueError) as exc:
                errors.append(str(exc))
        raise ValueError("; ".join(errors) or f"no option of {kind} fits")
    if origin is tuple:
        args = get_args(kind)
        if not isinstance(data, list):
            raise ValueError("expected a list")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_decode(args[0], item) for item in data)
        return tuple(_decode(arg, item) for arg, item in zip(args, data, strict=True))
    if origin is list:
        (item_kind,) = get_args(kind)
        if not isinstance(data, list):
            raise ValueError("expected a list")
        return [_decode(item_kind, item) for item in data]
    if origin is Literal:
        if data not in get_args(kind):
            raise ValueError(f"{data!r} is not one of {get_args(kind)}")
        return data
    if kind is date:
        if not isinstance(data, str):
            raise ValueError("expected an ISO date")
        return date.fromisoformat(data)
    if kind is float:
        if isinstance(data, bool) or not isinstance(data, int | float):
            raise ValueError("expected a number")
        return float(data)
    if kind in (int, str, bool):
        if not isinstance(data, kind) or (kind is int and isinstance(data, bool)):
            raise ValueError(f"expected {kind.__name__}")
        return data
    raise TypeError(f"cannot decode into {kind!r}")


# ---------------------------------------------------------------------------- layout


@dataclass(frozen=True)
class ProblemType:
    """A problem type found in the questionnaire: its frequency (`pN_freq`, or the row
    "freq.pN") plus its optional companions (impact `pN_impact` or "impact.pN", example
    `pN_example`). `question_id` and `impact_id` are answer keys."""

    number: int
    question_id: str
    section_id: str
    choice_ids: tuple[str, ...]
    impact_id: str | None
    impact_max: int | None
    example_id: str | None
    earlier_ids: tuple[str, ...] = ()  # an earlier version's keys for this frequency


@dataclass(frozen=True)
class DigestLayout:
    """Which questions of a questionnaire feed which part of the digest."""

    questionnaire_id: str
    problems: tuple[ProblemType, ...]
    breakdowns: tuple[tuple[str, tuple[str, ...]], ...]  # (question id, its choice ids)
    numbers: tuple[str, ...]
    deadline: tuple[str, tuple[str, ...]] | None
    measures: tuple[str, tuple[str, ...]] | None
    burden: tuple[str, tuple[str, ...]] | None = None
    change: tuple[str, tuple[str, ...]] | None = None
    measures_other: str | None = None
    """The text question typed for the measure "other", when the measures offer it."""

    @classmethod
    def from_questionnaire(cls, questionnaire: Questionnaire) -> DigestLayout:
        """Derive the layout from the questionnaire's answer fields: problems are the
        single-choice `pN_freq` questions (version 1) or the rows pN of the `freq` grid
        (version 2), each with its impact (`pN_impact`, or the row "impact.pN") and its
        example (`pN_example`) when present; the other parts use the ids the shipped
        questionnaire documents, and are left out when a questionnaire lacks them.
        """
        problems: list[ProblemType] = []
        for answer_field in questionnaire.answer_fields:
            number = _problem_number(answer_field)
            if number is None:
                continue
            impact = _field_of_type(
                questionnaire, (f"p{number}_impact", f"{IMPACT_GRID}.p{number}"), ("scale",)
            )
            example = _field_of_type(questionnaire, (f"p{number}_example",), ("text",))
            problems.append(
                ProblemType(
                    number=number,
                    question_id=answer_field.key,
                    section_id=answer_field.section.id,
                    choice_ids=answer_field.choice_ids,
                    impact_id=impact.key if impact is not None else None,
                    impact_max=impact.max if impact is not None else None,
                    example_id=example.key if example is not None else None,
                    earlier_ids=(() if answer_field.same_as is None else (answer_field.same_as,)),
                )
            )

        def choices_of(
            question_id: str, kinds: tuple[str, ...]
        ) -> tuple[str, tuple[str, ...]] | None:
            found = _field_of_type(questionnaire, (question_id,), kinds)
            if found is None:
                return None
            return found.key, found.choice_ids

        breakdowns = tuple(
            item
            for item in (choices_of(qid, ("single",)) for qid in BREAKDOWN_QUESTIONS)
            if item is not None
        )
        numbers = tuple(
            qid
            for qid in FIGURE_QUESTIONS
            if _field_of_type(questionnaire, (qid,), ("number", "scale")) is not None
        )
        measures = choices_of(MEASURES_QUESTION, ("multi", "single"))
        other_text = _field_of_type(questionnaire, (MEASURES_OTHER_QUESTION,), ("text",))
        return cls(
            questionnaire_id=questionnaire.id,
            problems=tuple(problems),
            breakdowns=breakdowns,
            numbers=numbers,
            deadline=choices_of(DEADLINE_QUESTION, ("single",)),
            measures=measures,
            burden=choices_of(BURDEN_QUESTION, ("multi",)),
            change=choices_of(CHANGE_QUESTION, ("single",)),
            measures_other=(
                other_text.key
                if other_text is not None and measures is not None and OTHER_CHOICE in measures[1]
                else None
            ),
        )

    @property
    def frequency_ids(self) -> tuple[str, ...]:
        return tuple(problem.question_id for problem in self.problems)

    @property
    def earlier_keys(self) -> dict[str, str]:
        """An earlier version's frequency key → this version's (a grid row's `same_as`), so
        that the answers of a week on either version are counted as one problem's."""
        return {
            earlier: problem.question_id
            for problem in self.problems
            for earlier in problem.earlier_ids
        }

    @property
    def frequency_keys(self) -> tuple[str, ...]:
        """Every stored key counted as a problem's frequency, earlier versions' included."""
        return (*self.frequency_ids, *self.earlier_keys)

    @property
    def counted_ids(self) -> tuple[str, ...]:
        """Questions whose choices or numbers are counted for the current period."""
        ids: list[str] = list(self.frequency_keys)
        ids += [p.impact_id for p in self.problems if p.impact_id is not None]
        ids += list(self.numbers)
        ids += [
            part[0]
            for part in (self.deadline, self.measures, self.burden, self.change)
            if part is not None
        ]
        return tuple(ids)

    @property
    def example_ids(self) -> tuple[str, ...]:
        return tuple(p.example_id for p in self.problems if p.example_id is not None)


def _problem_number(answer_field: AnswerField) -> int | None:
    """N when this field is problem N's frequency: a single-choice `pN_freq` question, or
    the row pN of the `freq` choice grid; else None."""
    if answer_field.type != "single":
        return None
    if answer_field.row is None:
        match = _FREQUENCY_ID.match(answer_field.key)
    elif answer_field.question.id == FREQUENCY_GRID:
        match = _PROBLEM_ROW.match(answer_field.row.id)
    else:
        return None
    return int(match.group(1)) if match else None


def _field_of_type(
    questionnaire: Questionnaire, keys: Sequence[str], kinds: tuple[str, ...]
) -> AnswerField | None:
    """The first of `keys` the questionnaire stores, if its answers are of one of `kinds`."""
    for key in keys:
        if questionnaire.has_answer_field(key):
            found = questionnaire.answer_field(key)
            if found.type in kinds:
                return found
    return None


# ---------------------------------------------------------------------------- SQL


def submissions_in_scope(
    questionnaire_id: str, first_day: date, last_day: date, campaign_id: str | None
) -> ColumnElement[bool]:
    """The submissions of one questionnaire (every version) on these days, of one campaign
    or of all."""
    condition = and_(
        submissions.c.questionnaire_id == questionnaire_id,
        submissions.c.day >= first_day,
        submissions.c.day <= last_day,
    )
    if campaign_id is not None:
        condition = and_(condition, submissions.c.campaign_id == campaign_id)
    return condition


def with_breakdown_answers(layout: DigestLayout) -> tuple[Any, list[Any]]:
    """`submissions` outer-joined to each breakdown question's answer, and those answers as
    columns `group_0`, `group_1`… (None where not answered)."""
    joined: Any = submissions
    columns: list[Any] = []
    for index, (question_id, _choices) in enumerate(layout.breakdowns):
        alias = answers.alias(f"group_{index}")
        joined = joined.outerjoin(
            alias,
            and_(
                alias.c.submission_id == submissions.c.id,
                alias.c.question_id == question_id,
                alias.c.ordinal == 0,
            ),
        )
        columns.append(alias.c.choice.label(f"group_{index}"))
    return joined, columns


def default_comparison(period: Period, campaign_id: str | None) -> Comparison | None:
    """A daily or weekly digest compares with the period before it (same campaign filter); a
    campaign's digest compares only with a campaign named for it (`compare_with`)."""
    if period.kind == "campaign":
        return None
    before = period.previous()
    return Comparison("period", before.key, before.first_day, before.last_day, None, campaign_id)


class DigestQueries:
    """The aggregate queries one digest needs (also timed on their own by bench/digest.py)."""

    def __init__(
        self,
        layout: DigestLayout,
        period: Period,
        *,
        campaign_id: str | None,
        compare_with: Comparison | Literal["previous period"] | None = "previous period",
    ) -> None:
        self.layout = layout
        self.period = period
        self.campaign_id = campaign_id
        self.comparison = (
            default_comparison(period, campaign_id)
            if compare_with == "previous period"
            else compare_with
        )

    def _scope(self, first_day: date, last_day: date) -> ColumnElement[bool]:
        return submissions_in_scope(
            self.layout.questionnaire_id, first_day, last_day, self.campaign_id
        )

    @property
    def current_scope(self) -> ColumnElement[bool]:
        return self._scope(self.period.first_day, self.period.last_day)

    @property
    def compared_scope(self) -> ColumnElement[bool]:
        """The submissions the trend compares with (none when there is no comparison)."""
        if self.comparison is None:
            return false()
        return submissions_in_scope(
            self.layout.questionnaire_id,
            self.comparison.first_day,
            self.comparison.last_day,
            self.comparison.campaign_id,
        )

    def submission_counts(self) -> Select[Any]:
        """One row: submissions in the period and in the scope it is compared with."""
        in_current = self.current_scope
        return select(
            func.coalesce(func.sum(case((in_current, 1), else_=0)), 0).label("current"),
            func.coalesce(func.sum(case((in_current, 0), else_=1)), 0).label("previous"),
        ).where(or_(in_current, self.compared_scope))

    def crosstab(self) -> Select[Any]:
        """Submissions of the period counted by (breakdown answers…, meets any problem often).

        At most (choices + 1)² × 2 rows: the breakdowns, their per-group shares and the
        overall share all come from this one small table.
        """
        joined, columns = with_breakdown_answers(self.layout)
        if self.layout.frequency_ids:
            often = answers.alias("often")
            meets = exists().where(
                often.c.submission_id == submissions.c.id,
                often.c.question_id.in_(self.layout.frequency_keys),
                often.c.choice.in_(HIGH_FREQUENCY),
            )
            hit: Any = case((meets, 1), else_=0)
        else:
            hit = literal(0)
        per_submission = (
            select(*columns, hit.label("hit"))
            .select_from(joined)
            .where(self._scope(self.period.first_day, self.period.last_day))
            .subquery("per_submission")
        )
        keys = [per_submission.c[f"group_{i}"] for i in range(len(self.layout.breakdowns))]
        keys.append(per_submission.c.hit)
        return select(*keys, func.count().label("n")).group_by(*keys)

    def problem_crosstab(self) -> Select[Any]:
        """Submissions of the period counted by (breakdown answers…), with per problem how
        many of them meet it often or more, and how many wrote at least one free text. At
        most (choices + 1)² rows: every cross-tab and the text share come from it."""
        joined, columns = with_breakdown_answers(self.layout)
        for index, problem in enumerate(self.layout.problems):
            often = answers.alias(f"often_{index}")
            meets = exists().where(
                often.c.submission_id == submissions.c.id,
                often.c.question_id.in_((problem.question_id, *problem.earlier_ids)),
                often.c.choice.in_(HIGH_FREQUENCY),
            )
            columns.append(case((meets, 1), else_=0).label(f"often_{index}"))
        written = answers.alias("written")
        wrote = exists().where(
            written.c.submission_id == submissions.c.id, written.c.text_enc.is_not(None)
        )
        columns.append(case((wrote, 1), else_=0).label("wrote"))
        inner = (
            select(*columns).select_from(joined).where(self.current_scope).subquery("per_report")
        )
        keys = [inner.c[f"group_{i}"] for i in range(len(self.layout.breakdowns))]
        sums = [
            func.coalesce(func.sum(inner.c[f"often_{i}"]), 0).label(f"often_{i}")
            for i in range(len(self.layout.problems))
        ]
        wrote_sum = func.coalesce(func.sum(inner.c.wrote), 0).label("wrote")
        return select(*keys, func.count().label("n"), *sums, wrote_sum).group_by(*keys)

    def value_counts(self) -> Select[Any]:
        """Counts per (period, question, choice, number): every choice and number the digest
        uses in the period, and the frequency answers of the scope it is compared with."""
        current = self.current_scope
        in_current = case((current, 1), else_=0)
        earlier = self.layout.earlier_keys
        key: Any = (
            case(earlier, value=answers.c.question_id, else_=answers.c.question_id)
            if earlier
            else answers.c.question_id
        )
        inner = (
            select(
                in_current.label("current"),
                key.label("question_id"),
                answers.c.choice,
                answers.c.number,
            )
            .select_from(answers.join(submissions, submissions.c.id == answers.c.submission_id))
            .where(
                or_(current, self.compared_scope),
                answers.c.question_id.in_(self.layout.counted_ids),
                answers.c.text_enc.is_(None),
                or_(current, answers.c.question_id.in_(self.layout.frequency_keys)),
            )
            .subquery("counted")
        )
        keys = [inner.c.current, inner.c.question_id, inner.c.choice, inner.c.number]
        return select(*keys, func.count().label("n")).group_by(*keys)

    def example_candidates(self, start_ids: Mapping[str, str]) -> Select[Any]:
        """A few encrypted texts per text question of `start_ids` (a random start id each),
        starting at that random point.

        Submission ids are uniformly random, so the answers whose id follows a random start
        id (wrapping round) are a random pick that says nothing about when they arrived.
        """
        ids = tuple(start_ids)
        start = case(
            {question_id: start_ids[question_id] for question_id in ids},
            value=answers.c.question_id,
        )
        wrapped = case((answers.c.submission_id >= start, 0), else_=1)
        rank = (
            func.row_number()
            .over(partition_by=answers.c.question_id, order_by=(wrapped, answers.c.submission_id))
            .label("rank")
        )
        inner = (
            select(
                answers.c.submission_id,
                answers.c.question_id,
                answers.c.ordinal,
                answers.c.text_enc,
                rank,
            )
            .select_from(answers.join(submissions, submissions.c.id == answers.c.submission_id))
            .where(
                self._scope(self.period.first_day, self.period.last_day),
                answers.c.question_id.in_(ids),
                answers.c.text_enc.is_not(None),
            )
            .subquery("ranked")
        )
        return (
            select(
                inner.c.submission_id,
                inner.c.question_id,
                inner.c.ordinal,
                inner.c.text_enc,
                inner.c.rank,
            )
            .where(inner.c.rank <= _EXAMPLE_CANDIDATES)
            .order_by(inner.c.question_id, inner.c.rank)
        )


# ---------------------------------------------------------------------------- raw counts


@dataclass(frozen=True)
class RawCounts:
    """What the queries return, before any disclosure rule (never shown, never stored)."""

    submissions: int
    previous_submissions: int = 0
    crosstab: tuple[tuple[tuple[str | None, ...], bool, int], ...] = ()
    """(answer to each breakdown question or None, meets a problem often, count)."""
    values: Mapping[str, Mapping[str | int, int]] = field(default_factory=dict)
    previous_values: Mapping[str, Mapping[str | int, int]] = field(default_factory=dict)
    by_problem: tuple[ProblemCounts, ...] = ()
    """Per combination of breakdown answers: how many meet each problem often or more."""


@dataclass(frozen=True)
class ProblemCounts:
    """One row of `DigestQueries.problem_crosstab`: the answers to the breakdown questions
    (None: not answered), the number of reports, per problem (layout order) how many of them
    meet it often or more, and how many wrote a free text."""

    groups: tuple[str | None, ...]
    reports: int
    often: tuple[int, ...]
    wrote: int


async def fetch_raw_counts(
    connection: AsyncConnection, queries: DigestQueries, *, k: int
) -> RawCounts:
    """Run the count queries (only the first when the period is below K)."""
    row = (await connection.execute(queries.submission_counts())).one()
    current, previous = int(row.current), int(row.previous)
    if current < k:
        return RawCounts(submissions=current, previous_submissions=previous)
    crosstab: list[tuple[tuple[str | None, ...], bool, int]] = []
    width = len(queries.layout.breakdowns)
    for item in await connection.execute(queries.crosstab()):
        crosstab.append((tuple(item[:width]), bool(item[width]), int(item[width + 1])))
    values: dict[str, Counter[str | int]] = defaultdict(Counter)
    previous_values: dict[str, Counter[str | int]] = defaultdict(Counter)
    for item in await connection.execute(queries.value_counts()):
        target = values if item.current else previous_values
        value: str | int | None = item.choice if item.choice is not None else item.number
        if value is None:
            continue
        target[item.question_id][value if isinstance(value, str) else int(value)] += int(item.n)
    problems = len(queries.layout.problems)
    by_problem = tuple(
        ProblemCounts(
            groups=tuple(item[:width]),
            reports=int(item[width]),
            often=tuple(int(hit) for hit in item[width + 1 : width + 1 + problems]),
            wrote=int(item[width + 1 + problems]),
        )
        for item in await connection.execute(queries.problem_crosstab())
    )
    # Counting the crosstab gives the same total in the same snapshot; prefer it so that
    # every partition below adds up exactly.
    total = sum(count for _, _, count in crosstab)
    return RawCounts(
        submissions=total,
        previous_submissions=previous,
        crosstab=tuple(crosstab),
        values=dict(values),
        previous_values=dict(previous_values),
        by_problem=by_problem,
    )


# ---------------------------------------------------------------------------- disclosure rules


def is_safe_count(count: int, k: int) -> bool:
    """A count may be shown (or be derivable) only when it is 0 or at least K."""
    return count == 0 or count >= k


def suppress_partition(counts: Sequence[int], k: int) -> frozenset[int]:
    """Indices of the cells to hide in a partition whose total is published (rule 2).

    Primary: every count from 1 to K − 1. Complementary: while a single cell is hidden, or the
    hidden cells add up to between 1 and K − 1, also hide the smallest visible non-zero cell.
    If that cannot reach a safe state (only when the total itself is unsafe), hide all.
    """
    hidden = {index for index, count in enumerate(counts) if 0 < count < k}

    def exposed() -> bool:
        return bool(hidden) and (
            len(hidden) == 1 or not is_safe_count(sum(counts[i] for i in hidden), k)
        )

    while exposed():
        candidates = [i for i, count in enumerate(counts) if i not in hidden and count > 0]
        if not candidates:
            return frozenset(range(len(counts)))
        hidden.add(min(candidates, key=lambda i: (counts[i], i)))
    return frozenset(hidden)


@dataclass(frozen=True)
class TableSuppression:
    """The cells `suppress_table` hides, as (row, column) pairs."""

    hidden: frozenset[tuple[int, int]]
    complete: bool
    """False when even hiding every cell leaves a cell determined or a line's hidden cells
    below K: only possible when a published total is itself between 1 and K − 1, and then
    that total must be hidden too."""


def _line_problem(
    table: Sequence[Sequence[int]], hidden: set[tuple[int, int]], k: int
) -> list[tuple[int, int]] | None:
    """The cells of the first row or column whose hidden cells a reader could work out from
    its published total: exactly one hidden cell, or hidden cells adding up to 1…K − 1."""
    rows, columns = len(table), len(table[0])
    lines = [[(i, j) for j in range(columns)] for i in range(rows)]
    lines += [[(i, j) for i in range(rows)] for j in range(columns)]
    for line in lines:
        inside = [cell for cell in line if cell in hidden]
        if inside and (
            len(inside) == 1 or not is_safe_count(sum(table[i][j] for i, j in inside), k)
        ):
            return line
    return None


def can_move(
    table: Sequence[Sequence[int]], hidden: set[tuple[int, int]], cell: tuple[int, int]
) -> bool:
    """Whether the hidden `cell` can take another value while every published cell and total
    stays as it is and no cell goes below zero.

    Changing cells by ±1 around a cycle of hidden cells (alternately in one row and one
    column) keeps every row and column total. `cell` can go up by one when such a cycle leads
    from its column back to its row through hidden cells, each step down a column taking 1
    from a cell that has at least 1; it can go down (if it is at least 1) along a cycle the
    other way round. A search over rows and columns finds such a cycle when there is one.
    """
    row, column = cell

    def reachable(start: tuple[str, int], goal: tuple[str, int]) -> bool:
        seen = {start}
        todo = [start]
        while todo:
            kind, index = todo.pop()
            if (kind, index) == goal:
                return True
            for i, j in hidden:
                if (i, j) == cell:
                    continue
                if kind == "r" and i == index:
                    step = ("c", j)  # add 1 to (i, j)
                elif kind == "c" and j == index and table[i][j] >= 1:
                    step = ("r", i)  # take 1 from (i, j)
                else:
                    continue
                if step not in seen:
                    seen.add(step)
                    todo.append(step)
        return False

    if reachable(("c", column), ("r", row)):
        return True
    return table[row][column] >= 1 and reachable(("r", row), ("c", column))


def suppress_table(table: Sequence[Sequence[int]], k: int) -> TableSuppression:
    """Cells to hide in a table of counts whose row, column and grand totals are published.

    Primary: every count from 1 to K − 1. Complementary, repeated until nothing is wrong:
    a row or column with exactly one hidden cell, or with hidden cells adding up to 1…K − 1,
    gets its smallest visible non-zero cell hidden too (a visible zero when it has none);
    a hidden cell that no cycle of hidden cells can move (`can_move`: its value would follow
    from the published figures) gets the smallest visible non-zero cell of its row or
    column, else of the table, hidden too. Each round hides one more cell, so it ends; at
    the end every hidden cell has at least two completions consistent with what is
    published, and every line's hidden cells add up to 0 or at least K.
    """
    if not table or not table[0]:
        return TableSuppression(frozenset(), True)
    if any(len(row) != len(table[0]) for row in table):
        raise ValueError("every row of the table needs the same number of cells")
    cells = [(i, j) for i in range(len(table)) for j in range(len(table[0]))]
    hidden = {(i, j) for i, j in cells if 0 < table[i][j] < k}

    def pick(candidates: Sequence[tuple[int, int]]) -> tuple[int, int] | None:
        visible = [cell for cell in candidates if cell not in hidden]
        nonzero = [cell for cell in visible if table[cell[0]][cell[1]] > 0]
        pool = nonzero or visible
        return min(pool, key=lambda c: (table[c[0]][c[1]], c)) if pool else None

    while True:
        line = _line_problem(table, hidden, k)
        choice: tuple[int, int] | None
        if line is not None:
            choice = pick(line)
        else:
            stuck = next((c for c in sorted(hidden) if not can_move(table, hidden, c)), None)
            if stuck is None:
                return TableSuppression(frozenset(hidden), True)
            near = [c for c in cells if c[0] == stuck[0] or c[1] == stuck[1]]
            choice = pick([c for c in near if table[c[0]][c[1]] > 0]) or pick(cells)
        if choice is None:
            return TableSuppression(frozenset(cells), False)
        hidden.add(choice)


def _share(count: int, total: int) -> float:
    return count / total if total else 0.0


def _problem_figures(
    problem: ProblemType, raw: RawCounts, k: int, examples: Sequence[str]
) -> ProblemFigures:
    total = raw.submissions
    chosen = raw.values.get(problem.question_id, {})
    counts = [int(chosen.get(choice, 0)) for choice in problem.choice_ids]
    counts.append(total - sum(counts))  # not answered (or an unknown choice)
    cell_ids = [*problem.choice_ids, NO_ANSWER]
    high = [i for i, choice in enumerate(cell_ids) if choice in HIGH_FREQUENCY]
    rest = [i for i in range(len(cell_ids)) if i not in high]
    often = sum(counts[i] for i in high)
    share_shown = is_safe_count(often, k) and is_safe_count(total - often, k)
    if share_shown:
        hidden = {high[i] for i in suppress_partition([counts[j] for j in high], k)}
        hidden |= {rest[i] for i in suppress_partition([counts[j] for j in rest], k)}
    else:
        hidden = set(suppress_partition(counts, k))
    distribution = tuple(
        Cell(cell_id, None, None)
        if index in hidden
        else Cell(cell_id, counts[index], _share(counts[index], total))
        for index, cell_id in enumerate(cell_ids)
        if cell_id != NO_ANSWER or counts[index] > 0
    )
    often_share = _share(often, total) if share_shown else None

    change: float | None = None
    previous_share: float | None = None
    previous_total = raw.previous_submissions
    if often_share is not None and previous_total >= k:
        before = raw.previous_values.get(problem.question_id, {})
        previous_often = sum(int(before.get(choice, 0)) for choice in HIGH_FREQUENCY)
        if is_safe_count(previous_often, k) and is_safe_count(previous_total - previous_often, k):
            previous_share = _share(previous_often, previous_total)
            change = (often_share - previous_share) * 100

    mean: float | None = None
    mean_answers: int | None = None
    if problem.impact_id is not None:
        impacts = raw.values.get(problem.impact_id, {})
        answered = sum(impacts.values())
        if answered >= k:
            mean = sum(int(v) * c for v, c in impacts.items()) / answered
            if not hidden and count_is_safe_beside(
                answered, [counts[i] for i in range(len(cell_ids))], k
            ):
                mean_answers = answered
    return ProblemFigures(
        number=problem.number,
        question_id=problem.question_id,
        section_id=problem.section_id,
        often_share=often_share,
        change_points=change,
        distribution=distribution,
        mean_impact=mean,
        impact_answers=mean_answers,
        impact_max=problem.impact_max,
        examples=tuple(examples),
        previous_share=previous_share,
    )


def count_is_safe_beside(count: int, published: Sequence[int], k: int) -> bool:
    """Whether `count` (people answering a follow-up question) may be shown next to the
    published cells of the partition that decides who is asked it.

    Those asked are the people of some of the cells, so the ones who skipped it are a sum of
    cells minus `count`. Every sum of cells at least `count` must exceed it by 0 or at least
    K, whichever cells are the asked ones; else it could name, say, the one person who met a
    problem often and left its impact empty."""
    sums = {0}
    for value in published:
        sums |= {total + value for total in sums}
    return all(is_safe_count(total - count, k) for total in sums if total >= count)


def nearest_rank(sorted_counts: Sequence[tuple[int, int]], fraction: Fraction) -> int:
    """The nearest-rank percentile of values given as ascending (value, count) pairs."""
    total = sum(count for _, count in sorted_counts)
    rank = max(1, math.ceil(fraction * total))
    seen = 0
    for value, count in sorted_counts:
        seen += count
        if seen >= rank:
            return value
    raise ValueError("no values")


def _number_figures(question_id: str, raw: RawCounts, k: int) -> NumberFigures:
    observed = raw.values.get(question_id, {})
    pairs = sorted((int(value), count) for value, count in observed.items() if count > 0)
    total = sum(count for _, count in pairs)
    if total < k:
        return NumberFigures(question_id)
    shown: dict[str, int | None] = {}
    for name, fraction in QUANTILES:
        value = nearest_rank(pairs, fraction)
        at_or_below = sum(count for v, count in pairs if v <= value)
        at_or_above = sum(count for v, count in pairs if v >= value)
        shown[name] = value if at_or_below >= k and at_or_above >= k else None
    exact = is_safe_count(raw.submissions - total, k) and any(
        value is not None for value in shown.values()
    )
    return NumberFigures(
        question_id,
        median=shown["median"],
        p90=shown["p90"],
        answers=total if exact else None,
    )


def _choice_cells(
    question_id: str, choice_ids: Sequence[str], raw: RawCounts, k: int
) -> tuple[Cell, ...]:
    total = raw.submissions
    chosen = raw.values.get(question_id, {})
    counts = [int(chosen.get(choice, 0)) for choice in choice_ids]
    counts.append(total - sum(counts))
    cell_ids = [*choice_ids, NO_ANSWER]
    hidden = suppress_partition(counts, k)
    return tuple(
        Cell(cell_id, None, None)
        if index in hidden
        else Cell(cell_id, counts[index], _share(counts[index], total))
        for index, cell_id in enumerate(cell_ids)
        if cell_id != NO_ANSWER or counts[index] > 0
    )


def _measures(
    question_id: str, choice_ids: Sequence[str], raw: RawCounts, k: int
) -> tuple[RankedChoice, ...]:
    chosen = raw.values.get(question_id, {})
    ranked = sorted(
        ((choice, int(chosen.get(choice, 0))) for choice in choice_ids),
        key=lambda item: (-item[1], choice_ids.index(item[0])),
    )
    return tuple(
        RankedChoice(choice, count, _share(count, raw.submissions))
        for choice, count in ranked
        if count >= k
    )


@dataclass
class _Group:
    ids: list[str]
    size: int
    often: int
    merged: bool = False


def _breakdown_rows(
    index: int, choice_ids: Sequence[str], raw: RawCounts, k: int
) -> list[_Group] | None:
    """The groups of one grouping question as a breakdown shows them: each of at least K,
    the smaller ones merged (rule 5); None when no group reaches K on its own."""
    sizes: Counter[str] = Counter()
    often: Counter[str] = Counter()
    for answers_given, meets, count in raw.crosstab:
        group_id = _group_of(answers_given[index], choice_ids)
        sizes[group_id] += count
        if meets:
            often[group_id] += count
    order = [*choice_ids, NO_ANSWER]
    groups = [_Group([g], sizes[g], often[g]) for g in order if sizes[g] > 0]
    shown = [group for group in groups if group.size >= k]
    merged = _Group([], 0, 0)
    for group in groups:
        if group.size < k:
            merged = _Group(
                merged.ids + group.ids, merged.size + group.size, merged.often + group.often
            )
    while 0 < merged.size < k and shown:
        smallest = min(shown, key=lambda g: (g.size, order.index(g.ids[0])))
        shown.remove(smallest)
        merged = _Group(
            merged.ids + smallest.ids, merged.size + smallest.size, merged.often + smallest.often
        )
    if not shown:
        return None  # no group reaches K on its own: the breakdown would only repeat the total
    if merged.size:
        merged.merged = True
        return [*shown, merged]
    return shown


def _group_of(answer: str | None, choice_ids: Sequence[str]) -> str:
    return answer if answer is not None and answer in choice_ids else NO_ANSWER


def _group_id(group: _Group) -> str:
    return MERGED if group.merged else group.ids[0]


def _breakdown(question_id: str, rows: Sequence[_Group], k: int) -> tuple[Breakdown, bool]:
    """The breakdown by one grouping question, and whether its suppression held with the
    overall share published (False: the caller must hide that share too)."""
    suppression = suppress_table([[group.often, group.size - group.often] for group in rows], k)
    hidden = {row for row, _column in suppression.hidden}
    breakdown = Breakdown(
        question_id=question_id,
        groups=tuple(
            GroupFigures(
                group_id=_group_id(group),
                size=group.size,
                any_often_share=None if i in hidden else _share(group.often, group.size),
            )
            for i, group in enumerate(rows)
        ),
    )
    return breakdown, suppression.complete


def _crosstabs(
    index: int,
    question_id: str,
    choice_ids: Sequence[str],
    rows: Sequence[_Group],
    layout: DigestLayout,
    raw: RawCounts,
    k: int,
) -> list[CrossTab]:
    """Each problem by one grouping question, over the breakdown's own groups (rule 8)."""
    row_of = {group_id: i for i, group in enumerate(rows) for group_id in group.ids}
    made: list[CrossTab] = []
    for p, problem in enumerate(layout.problems):
        often = [0] * len(rows)
        for counted in raw.by_problem:
            often[row_of[_group_of(counted.groups[index], choice_ids)]] += counted.often[p]
        total_often = sum(often)
        if not (is_safe_count(total_often, k) and is_safe_count(raw.submissions - total_often, k)):
            continue  # the problem's own share is hidden: so is every part of it
        table = [[hits, group.size - hits] for hits, group in zip(often, rows, strict=True)]
        suppression = suppress_table(table, k)
        if not suppression.complete:
            continue
        hidden = {row for row, _column in suppression.hidden}
        if len(hidden) == len(rows):
            continue  # every share suppressed: the table would say nothing
        made.append(
            CrossTab(
                breakdown_id=question_id,
                problem=problem.number,
                question_id=problem.question_id,
                groups=tuple(
                    CrossGroup(
                        group_id=_group_id(group),
                        size=group.size,
                        often_share=None if i in hidden else _share(often[i], group.size),
                    )
                    for i, group in enumerate(rows)
                ),
            )
        )
    return made


def _with_text_share(raw: RawCounts, k: int) -> float | None:
    wrote = sum(counted.wrote for counted in raw.by_problem)
    if not raw.by_problem or not (
        is_safe_count(wrote, k) and is_safe_count(raw.submissions - wrote, k)
    ):
        return None
    return _share(wrote, raw.submissions)


def other_texts_shown(layout: DigestLayout, raw: RawCounts, k: int) -> bool:
    """Texts typed for the measure "other" are shown only when at least K chose "other"."""
    if layout.measures is None or layout.measures_other is None or raw.submissions < k:
        return False
    return int(raw.values.get(layout.measures[0], {}).get(OTHER_CHOICE, 0)) >= k


def carries_breakdowns(period: Period, campaign_id: str | None) -> bool:
    """Breakdowns by unit type and post level appear in weekly and campaign digests only."""
    return period.kind in ("weekly", "campaign") or campaign_id is not None


def summarise(
    layout: DigestLayout,
    period: Period,
    raw: RawCounts,
    *,
    k: int,
    campaign_id: str | None = None,
    campaign_title: str | None = None,
    examples: Mapping[str, Sequence[str]] | None = None,
    comparison: Comparison | None = None,
) -> DigestData:
    """Apply the disclosure rules to raw counts (pure: no database, no randomness).
    `comparison` names what the raw previous counts are of."""
    if k < 1:
        raise ValueError("k must be at least 1")
    base = DigestData(
        period=period,
        questionnaire_id=layout.questionnaire_id,
        k=k,
        campaign_id=campaign_id,
        campaign_title=campaign_title,
    )
    if raw.submissions < k:
        # The same data for 0 and for K − 1 submissions: nothing here may depend on `raw`.
        return dataclasses.replace(
            base,
            problems=tuple(
                ProblemFigures(p.number, p.question_id, p.section_id, impact_max=p.impact_max)
                for p in layout.problems
            ),
        )
    total = raw.submissions
    found = examples or {}
    problems = tuple(
        _problem_figures(
            problem,
            raw,
            k,
            found.get(problem.example_id, ()) if problem.example_id is not None else (),
        )
        for problem in layout.problems
    )
    any_often = sum(count for _, meets, count in raw.crosstab if meets)
    any_often_shown = is_safe_count(any_often, k) and is_safe_count(total - any_often, k)
    breakdowns: list[Breakdown] = []
    crosstabs: list[CrossTab] = []
    if carries_breakdowns(period, campaign_id):
        for index, (question_id, choices) in enumerate(layout.breakdowns):
            rows = _breakdown_rows(index, choices, raw, k)
            if rows is None:
                continue
            breakdown, complete = _breakdown(question_id, rows, k)
            breakdowns.append(breakdown)
            any_often_shown = any_often_shown and complete
            crosstabs += _crosstabs(index, question_id, choices, rows, layout, raw, k)
    return dataclasses.replace(
        base,
        submissions=total,
        any_often_share=_share(any_often, total) if any_often_shown else None,
        problems=problems,
        numbers=tuple(_number_figures(qid, raw, k) for qid in layout.numbers),
        deadline_share=(
            _choice_cells(layout.deadline[0], layout.deadline[1], raw, k)
            if layout.deadline is not None
            else ()
        ),
        measures=(
            _measures(layout.measures[0], layout.measures[1], raw, k)
            if layout.measures is not None
            else ()
        ),
        measures_other=(
            tuple(found.get(layout.measures_other, ())[:EXAMPLES_PER_PROBLEM])
            if other_texts_shown(layout, raw, k) and layout.measures_other is not None
            else ()
        ),
        burden_sources=(
            _measures(layout.burden[0], layout.burden[1], raw, k)
            if layout.burden is not None
            else ()
        ),
        change_since=(
            _choice_cells(layout.change[0], layout.change[1], raw, k)
            if layout.change is not None
            else ()
        ),
        breakdowns=tuple(breakdowns),
        crosstabs=tuple(crosstabs),
        comparison=(
            None
            if comparison is None
            else dataclasses.replace(
                comparison,
                submissions=raw.previous_submissions if raw.previous_submissions >= k else None,
            )
        ),
        with_text_share=_with_text_share(raw, k),
    )


# ---------------------------------------------------------------------------- examples

_DATE_PATTERNS: Final[tuple[tuple[re.Pattern[str], str], ...]] = (
    (re.compile(r"\d{2,4}\s*[-/.年]\s*\d{1,2}\s*[-/.月]\s*\d{1,2}(?:\s*[日号])?"), "某日"),
    (re.compile(r"\d{2,4}\s*年\s*\d{1,2}\s*月(?:份)?"), "某月"),
    (re.compile(r"\d{1,2}\s*月\s*\d{1,2}\s*[日号]"), "某日"),
    (re.compile(r"(?<![\d.])\d{1,2}[:：]\d{2}(?![\d])"), "某时"),
)


def shorten_example(text: str, max_chars: int = EXAMPLE_MAX_CHARS) -> str:
    """Scrub (again), mask written dates and times, collapse whitespace, cut to `max_chars`."""
    cleaned = scrub(text).text
    for pattern, placeholder in _DATE_PATTERNS:
        cleaned = pattern.sub(placeholder, cleaned)
    cleaned = " ".join(cleaned.split())
    if len(cleaned) > max_chars:
        cleaned = cleaned[: max_chars - 1].rstrip() + "…"
    return cleaned


@dataclass(frozen=True)
class Examples:
    """Shortened examples per example question, and how many texts could not be decrypted."""

    texts: dict[str, tuple[str, ...]]
    undecryptable: int = 0


async def fetch_examples(
    connection: AsyncConnection,
    queries: DigestQueries,
    cipher: TextCipher,
    rng: random.Random,
    *,
    other_texts: bool = False,
) -> Examples:
    """Up to `EXAMPLES_PER_PROBLEM` shortened examples per example question (and, with
    `other_texts`, per the text typed for the measure "other"), in random order. A text that
    cannot be decrypted is skipped and counted; a text already picked (for any question) is
    skipped, so that no quote appears twice in one digest."""
    ids = queries.layout.example_ids
    if other_texts and queries.layout.measures_other is not None:
        ids = (*ids, queries.layout.measures_other)
    if not ids:
        return Examples({})
    start_ids = {question_id: f"{rng.getrandbits(128):032x}" for question_id in ids}
    picked: dict[str, list[str]] = defaultdict(list)
    seen: set[str] = set()
    undecryptable = 0
    for row in await connection.execute(queries.example_candidates(start_ids)):
        if len(picked[row.question_id]) >= EXAMPLES_PER_PROBLEM:
            continue
        context = answer_text_context(row.submission_id, row.question_id, row.ordinal)
        try:
            plain = cipher.decrypt(row.text_enc, context=context)
        except DecryptionError:
            undecryptable += 1  # a retired key or a damaged row: skip it, go on
            continue
        text = shorten_example(plain)
        if text and text not in seen:
            seen.add(text)
            picked[row.question_id].append(text)
    if undecryptable:
        # A count only: no id, no question, nothing that points at the row.
        logger.warning("digest: %d stored text(s) could not be decrypted, skipped", undecryptable)
    result: dict[str, tuple[str, ...]] = {}
    for question_id, texts in picked.items():
        rng.shuffle(texts)
        result[question_id] = tuple(texts)
    return Examples(result, undecryptable)


# ---------------------------------------------------------------------------- entry point


async def aggregate_digest(
    db: Database,
    cipher: TextCipher,
    questionnaire: Questionnaire,
    period: Period,
    *,
    k: int,
    campaign_id: str | None = None,
    campaign_title: str | None = None,
    rng: random.Random | None = None,
    compare_with: Comparison | Literal["previous period"] | None = "previous period",
) -> DigestData:
    """The k-anonymous figures of one period, read in one consistent snapshot; the trend
    compares with `compare_with` (by default the previous period of the same kind)."""
    if k < 1:
        raise ValueError("k must be at least 1")
    layout = DigestLayout.from_questionnaire(questionnaire)
    queries = DigestQueries(layout, period, campaign_id=campaign_id, compare_with=compare_with)
    chooser = rng if rng is not None else random.SystemRandom()
    async with db.engine.connect() as connection:
        if db.dialect == "postgresql":
            # Every partition must add up: read all counts from one snapshot.
            connection = await connection.execution_options(
                isolation_level="REPEATABLE READ", postgresql_readonly=True
            )
        # On SQLite the whole block is one (deferred) read transaction, hence one snapshot.
        raw = await fetch_raw_counts(connection, queries, k=k)
        examples = Examples({})
        if raw.submissions >= k:
            examples = await fetch_examples(
                connection, queries, cipher, chooser, other_texts=other_texts_shown(layout, raw, k)
            )
    data = summarise(
        layout,
        period,
        raw,
        k=k,
        campaign_id=campaign_id,
        campaign_title=campaign_title,
        examples=examples.texts,
        comparison=queries.comparison,
    )
    return dataclasses.replace(data, undecryptable=examples.undecryptable)


async def count_submissions(
    db: Database, questionnaire: Questionnaire, period: Period, *, campaign_id: str | None = None
) -> int:
    """How many submissions a digest of `period` would count (the step rule compares it)."""
    queries = DigestQueries(
        DigestLayout.from_questionnaire(questionnaire), period, campaign_id=campaign_id
    )
    async with db.engine.connect() as connection:
        row = (await connection.execute(queries.submission_counts())).one()
    return int(row.current)
