"""Breakdowns by unit type and post level: weekly and campaign digests only, suppressed as a
table with published margins; texts that cannot be decrypted are skipped and counted."""

from __future__ import annotations

import logging
import random
import secrets
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select, update

from bot.anonymity.crypto import TextCipher
from bot.digest.aggregate import DigestLayout, aggregate_digest, summarise
from bot.digest.build import build_digest
from bot.digest.period import Period
from bot.digest.render import render_plain
from bot.questionnaire import Questionnaire, load_questionnaire
from storage.database import Database
from storage.repositories import SubmissionRepository
from storage.repositories.submissions import answer_text_context
from storage.tables import answers
from tests.digest import dataset
from tests.digest.conftest import FORMALISM_V1
from tests.digest.dataset import WEEK
from tests.digest.records import Record, assert_k_anonymous, records, reference_raw_counts
from tests.digest.test_table_suppression import determined_cells

K = 5
DAY = Period("daily", date(2026, 11, 24), date(2026, 11, 24))
QUESTIONNAIRE = load_questionnaire(FORMALISM_V1)


def test_the_grouping_questions_are_the_questionnaires_context_questions() -> None:
    layout = DigestLayout.from_questionnaire(QUESTIONNAIRE)
    assert [question_id for question_id, _choices in layout.breakdowns] == [
        "unit_type",
        "post_level",
    ]
    assert {q.id for q in QUESTIONNAIRE.sections[0].questions} == {"unit_type", "post_level"}


async def test_a_daily_digest_has_no_breakdown_but_a_campaign_digest_has(
    database: Database, cipher: TextCipher, questionnaire: Questionnaire
) -> None:
    repository = SubmissionRepository(database, cipher)
    for index in range(12):
        await dataset.store(
            repository, questionnaire, dataset.current_answers(index), DAY.first_day
        )
        await dataset.store(
            repository,
            questionnaire,
            dataset.current_answers(index),
            DAY.first_day,
            campaign_id="spring",
        )

    daily = await aggregate_digest(database, cipher, questionnaire, DAY, k=K)
    campaign = await aggregate_digest(
        database, cipher, questionnaire, DAY, k=K, campaign_id="spring"
    )
    weekly = await aggregate_digest(database, cipher, questionnaire, WEEK, k=K)

    assert daily.submissions == 24 and daily.breakdowns == ()
    assert "分组情况" not in render_plain(daily, questionnaire)
    assert "区直部门" not in render_plain(daily, questionnaire)
    assert [b.question_id for b in campaign.breakdowns] == ["unit_type", "post_level"]
    assert [b.question_id for b in weekly.breakdowns] == ["unit_type", "post_level"]
    assert "分组情况" in render_plain(weekly, questionnaire)


@settings(max_examples=200, deadline=None)
@given(items=records(max_size=40), k=st.integers(2, 6))
def test_a_published_breakdown_never_determines_a_hidden_share(items: list[Record], k: int) -> None:
    """Rebuild the table a breakdown publishes (group × meets a problem often or not, with
    the group sizes and, when shown, the overall share as margins): no hidden cell follows."""
    layout = DigestLayout.from_questionnaire(QUESTIONNAIRE)
    data = summarise(layout, WEEK, reference_raw_counts(items), k=k)
    assert_k_anonymous(data, items, layout)
    daily = summarise(layout, DAY, reference_raw_counts(items), k=k)
    assert daily.breakdowns == ()
    current = [r for r in items if r.current]
    for breakdown in data.breakdowns:
        attribute = "unit" if breakdown.question_id == "unit_type" else "post"
        named = {g.group_id for g in breakdown.groups} - {"_merged"}
        table = []
        hidden = set()
        for row, group in enumerate(breakdown.groups):
            members = [
                r
                for r in current
                if ((getattr(r, attribute) or "_none") == group.group_id)
                or (group.group_id == "_merged" and (getattr(r, attribute) or "_none") not in named)
            ]
            often = sum(r.meets_a_problem_often for r in members)
            assert len(members) == group.size
            table.append([often, group.size - often])
            if group.any_often_share is None:
                hidden |= {(row, 0), (row, 1)}
        if data.any_often_share is not None and hidden:
            # Margins published (group sizes, overall share): no hidden cell follows.
            assert determined_cells(table, frozenset(hidden)) == set()


async def test_an_undecryptable_text_is_skipped_counted_and_reported(
    database: Database,
    cipher: TextCipher,
    questionnaire: Questionnaire,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await dataset.store_dataset(database, cipher, questionnaire)
    # The one p2 example, as if written under a key that has since been retired.
    async with database.engine.begin() as connection:
        row = (
            await connection.execute(
                select(answers.c.submission_id, answers.c.ordinal).where(
                    answers.c.question_id == "p2_example"
                )
            )
        ).one()
        retired = TextCipher(secrets.token_bytes(32))
        blob = retired.encrypt(
            "旧密钥下的文字", context=answer_text_context(row.submission_id, "p2_example", 0)
        )
        await connection.execute(
            update(answers)
            .where(answers.c.submission_id == row.submission_id)
            .where(answers.c.question_id == "p2_example")
            .values(text_enc=blob)
        )

    with caplog.at_level(logging.WARNING):
        built = await build_digest(database, cipher, questionnaire, WEEK, k=K, rng=random.Random(2))

    assert built.data.undecryptable == 1
    p2 = next(p for p in built.data.problems if p.question_id == "p2_freq")
    assert p2.examples == ()
    assert len(next(p for p in built.data.problems if p.question_id == "p1_freq").examples) == 3
    assert "1 条内容无法解密，已跳过。" in built.message.plain
    assert any("1 条内容无法解密，已跳过。" in part for part in built.telegram_parts)
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert any("could not be decrypted" in message for message in warnings)
    assert not any(row.submission_id in message for message in warnings)
    assert not any("p2_example" in message for message in warnings)
