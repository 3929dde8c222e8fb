"""Property tests: whatever the data, no digest shows a group smaller than K.

Two levels. The disclosure rules run on random raw counts (many cases, no database) and the
result is scanned — data and rendered text — for any count between 1 and K − 1, shown or
recoverable by subtraction. Then random submissions go through the real database, and the
SQL counts must equal the counts worked out in Python, so the rules see true figures.
"""

from __future__ import annotations

import random
import re
import secrets

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.anonymity.crypto import TextCipher
from bot.digest.aggregate import (
    DigestLayout,
    DigestQueries,
    RawCounts,
    aggregate_digest,
    fetch_raw_counts,
    summarise,
)
from bot.digest.render import render_markdown, render_plain, render_telegram
from bot.questionnaire import Questionnaire, load_questionnaire
from storage.database import Database
from storage.repositories import NewSubmission, SubmissionRepository
from tests.digest.conftest import FORMALISM_V1
from tests.digest.dataset import PREVIOUS_WEEK, WEEK
from tests.digest.records import (
    Record,
    assert_k_anonymous,
    normalised,
    records,
    reference_raw_counts,
)

QUESTIONNAIRE = load_questionnaire(FORMALISM_V1)

# Counts of people as the zh-CN text writes them: "12 人", "12 份", "区直部门 12（40%）".
PEOPLE_COUNTS = [
    re.compile(r"(\d+) 人"),
    re.compile(r"(\d+) 份"),
    re.compile(r" (\d+)（\d+%）"),
]


def scan_text_counts(text: str, k: int) -> None:
    for pattern in PEOPLE_COUNTS:
        for match in pattern.finditer(text):
            count = int(match.group(1))
            assert count == 0 or count >= k, f"text shows a count of {count} < k={k}: {match[0]!r}"


@settings(max_examples=300, deadline=None)
@given(items=records(max_size=60), k=st.integers(2, 8))
def test_no_digest_shows_or_implies_a_group_below_k(items: list[Record], k: int) -> None:
    questionnaire = QUESTIONNAIRE
    layout = DigestLayout.from_questionnaire(questionnaire)
    data = summarise(layout, WEEK, reference_raw_counts(items), k=k)

    assert_k_anonymous(data, items, layout)
    text = render_plain(data, questionnaire) + "\n".join(render_telegram(data, questionnaire))
    scan_text_counts(text, k)


@settings(max_examples=100, deadline=None)
@given(items=records(max_size=12), k=st.integers(2, 12))
def test_below_k_the_digest_is_the_same_whatever_arrived(items: list[Record], k: int) -> None:
    questionnaire = QUESTIONNAIRE
    current = [r for r in items if r.current]
    if len(current) >= k:
        current = current[: k - 1]
    layout = DigestLayout.from_questionnaire(questionnaire)
    data = summarise(layout, WEEK, reference_raw_counts(current), k=k)
    empty = summarise(layout, WEEK, RawCounts(submissions=0), k=k)

    assert data == empty
    assert render_telegram(data, questionnaire) == render_telegram(empty, questionnaire)
    assert render_markdown(data, questionnaire) == render_markdown(empty, questionnaire)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(items=records(max_size=30), k=st.integers(2, 6))
async def test_sql_counts_equal_python_counts(
    database: Database,
    cipher: TextCipher,
    questionnaire: Questionnaire,
    items: list[Record],
    k: int,
) -> None:
    # One database for all examples; a fresh campaign keeps each example's rows apart.
    campaign = secrets.token_hex(8)
    repository = SubmissionRepository(database, cipher)
    for item in items:
        await repository.store(
            NewSubmission(
                questionnaire_id=questionnaire.id,
                questionnaire_version=questionnaire.version,
                answers=item.answers(),
                text_question_ids=questionnaire.text_question_ids,
                day=WEEK.last_day if item.current else PREVIOUS_WEEK.first_day,
                receipt_hash=secrets.token_hex(32),
                campaign_id=campaign,
            )
        )
    layout = DigestLayout.from_questionnaire(questionnaire)
    queries = DigestQueries(layout, WEEK, campaign_id=campaign)
    expected = reference_raw_counts(items)

    async with database.engine.connect() as connection:
        raw = await fetch_raw_counts(connection, queries, k=k)
    data = await aggregate_digest(
        database, cipher, questionnaire, WEEK, k=k, campaign_id=campaign, rng=random.Random(0)
    )

    if expected.submissions >= k:
        assert normalised(raw, layout.counted_ids) == normalised(expected, layout.counted_ids)
    else:
        assert (raw.submissions, raw.previous_submissions) == (
            expected.submissions,
            expected.previous_submissions,
        )
    assert data == summarise(
        layout, WEEK, expected, k=k, campaign_id=campaign, comparison=queries.comparison
    )
    assert_k_anonymous(data, items, layout)
