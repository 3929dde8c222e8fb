"""The report through the real services on a real database: released figures, only the
quotes staff marked and nothing next to them, a group below K never named, and a campaign
below K with no figure and no quote at all."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path

import pytest
from docx import Document

from bot.app import Services, build_services
from bot.config import load_settings
from bot.report import Report, ReportService, write_docx
from bot.report.content import Paragraph, Table

from .seed import MARKED_EXAMPLE, MARKED_SUGGESTION, UNMARKED, add_report, seed_campaign

NOW = datetime(2026, 11, 20, 4, 0, tzinfo=UTC)


@pytest.fixture
async def services(tmp_path: Path) -> AsyncIterator[Services]:
    built = await build_services(load_settings(data_dir=tmp_path / "data"), now=lambda: NOW)
    try:
        yield built
    finally:
        await built.close()


def _reports(services: Services) -> ReportService:
    return ReportService(
        services.digests.service,
        services.campaigns.service,
        services.survey,
        services.submissions,
        services.questionnaire,
        today=lambda: NOW.date(),
    )


def _docx_text(report: Report) -> tuple[list[str], str]:
    document = Document(BytesIO(write_docx(report)))
    quotes = [p.text for p in document.paragraphs if p.style and p.style.name == "Quote"]
    cells = [c.text for t in document.tables for row in t.rows for c in row.cells]
    return quotes, "\n".join([*(p.text for p in document.paragraphs), *cells])


async def test_released_figures_and_only_the_marked_quotes(services: Services) -> None:
    seeded = await seed_campaign(services.database, services.cipher, services.questionnaire)
    reports = _reports(services)
    campaign = await reports.campaign(seeded.campaign.id)
    assert campaign is not None

    report = await reports.report(campaign)
    quotes, text = _docx_text(report)

    assert "共收到匿名反馈 12 份。" in text
    assert quotes == [f"“{MARKED_EXAMPLE}”", f"“{MARKED_SUGGESTION}”"]
    assert UNMARKED not in text
    # Nothing beside a quote: it is a paragraph of its own holding only the text.
    labels = ("镇（街道）", "一般干部", "2026-11-")
    assert not any(label in quote for quote in quotes for label in labels)
    # The two reports of their own unit type are merged, never named.
    assert "村（社区）" not in text
    tables = [e for e in report.elements if isinstance(e, Table)]
    assert tables and all(row[0] != "村（社区）" for t in tables for row in t.rows)
    # The released step: asked again with one more report, the figures stay the same.
    await add_report(
        services.submissions, services.questionnaire, campaign.id, {"freq.p1": "often"}
    )
    assert await reports.report(campaign) == report


async def test_a_campaign_below_k_shows_no_figure_and_no_quote(services: Services) -> None:
    seeded = await seed_campaign(
        services.database, services.cipher, services.questionnaire, title="小范围", reports=4
    )
    report = await _reports(services).report(seeded.campaign)
    quotes, text = _docx_text(report)

    assert quotes == []
    assert MARKED_SUGGESTION not in text and MARKED_EXAMPLE not in text
    assert "本次调研收到的反馈少于 5 份" in text
    assert not any(isinstance(e, Table) for e in report.elements) and not report.charts
    assert "4 份" not in text
    assert all("%" not in e.text for e in report.elements[:4] if isinstance(e, Paragraph))


async def test_no_such_campaign(services: Services) -> None:
    assert await _reports(services).campaign("9999") is None
