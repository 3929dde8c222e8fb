"""Building a whole digest: every form, the chart, and a JSON round trip for storage."""

from __future__ import annotations

import random

import pytest

from bot.anonymity.crypto import TextCipher
from bot.digest.build import BuiltDigest, build_digest, format_digest_text
from bot.digest.render import render_telegram
from bot.questionnaire import Questionnaire
from storage.database import Database
from storage.repositories import SubmissionRepository
from tests.digest import dataset
from tests.digest.dataset import WEEK

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


async def test_a_built_digest_has_every_form_and_round_trips(
    database: Database, cipher: TextCipher, questionnaire: Questionnaire
) -> None:
    await dataset.store_dataset(database, cipher, questionnaire)

    built = await build_digest(database, cipher, questionnaire, WEEK, k=5, rng=random.Random(3))

    assert built.period_key == "weekly:2026-11-23"
    assert built.title == built.message.title == "清风周报｜2026-11-23 至 2026-11-29"
    plain_parts = render_telegram(built.data, questionnaire)
    assert built.telegram_parts[: len(plain_parts) - 1] == plain_parts[:-1]
    assert built.telegram_parts[len(plain_parts) - 1].startswith(plain_parts[-1])
    # The case-handling section: the week's own 12 submissions are new cases (not the 20
    # stored, which include another questionnaire and other weeks); no follow-ups yet.
    assert await SubmissionRepository(database, cipher).count() == 20
    assert "待处理 12 件" in built.telegram_parts[-1]
    assert "回访答复（本期）：少于 5 件" in built.telegram_parts[-1]
    assert "待处理 12 件" in built.message.plain
    assert "待处理 12 件" in built.message.markdown
    assert all(len(part) <= 4096 for part in built.telegram_parts)
    assert "本期收到反馈 12 份" in built.message.markdown
    assert "本期收到反馈 12 份" in built.message.plain
    assert built.message.chart_png is not None and built.message.chart_png.startswith(PNG_MAGIC)
    assert built.data.submissions == 12

    restored = BuiltDigest.from_json(built.to_json())
    assert restored == built
    assert restored.message.chart_png == built.message.chart_png


async def test_an_empty_period_still_gives_a_digest_with_a_chart(
    database: Database, cipher: TextCipher, questionnaire: Questionnaire
) -> None:
    built = await build_digest(database, cipher, questionnaire, WEEK, k=5)

    assert built.data.submissions is None
    assert len(built.telegram_parts) == 1
    assert "本期收到的反馈少于 5 份" in built.telegram_parts[0]
    assert built.message.chart_png is not None and built.message.chart_png.startswith(PNG_MAGIC)
    text = format_digest_text(built)
    assert text.startswith("清风周报｜2026-11-23 至 2026-11-29\n")
    assert "本期收到的反馈少于 5 份" in text and "[图表 PNG" in text


@pytest.mark.parametrize(
    "broken",
    ["{}", '{"schema": 1}', "[1, 2]", '{"schema": 7, "title": "x"}'],
)
def test_json_that_is_not_a_built_digest_is_refused(broken: str) -> None:
    with pytest.raises(ValueError):
        BuiltDigest.from_json(broken)
