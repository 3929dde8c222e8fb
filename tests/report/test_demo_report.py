"""The report the demo writes from its own database: read back with python-docx, the sections
in order with every problem under its area, tables and the chart present, every group it
shows at least K, and the quotes exactly the texts the demo's investigator marked, bare."""

from __future__ import annotations

import re
from collections.abc import Callable
from io import BytesIO
from pathlib import Path

import pytest
from docx import Document

from bot.app import build_services
from bot.config import load_settings
from bot.digest.aggregate import shorten_example
from bot.harness.demo import REPORT_FILE, run_demo
from bot.report.content import QUOTE_MAX_CHARS

K = 5


async def _marked_texts(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> set[str]:
    """The texts marked quotable in the demo's database, as the report may shorten them."""
    monkeypatch.setenv("DATA_DIR", str(data_dir))
    for name in ("BOT_TOKEN", "TELEGRAM_API_URL", "DATABASE_URL", "DIGEST_WEBHOOKS"):
        monkeypatch.delenv(name, raising=False)
    services = await build_services(load_settings())
    try:
        (campaign,) = await services.campaigns.service.list()
        quotes = await services.submissions.quotable_texts(
            services.questionnaire.id,
            campaign_id=campaign.id,
            first_day=campaign.opens_day,
            last_day=campaign.closes_day,
        )
    finally:
        await services.close()
    return {shorten_example(quote.text, QUOTE_MAX_CHARS) for quote in quotes}


async def test_the_demo_writes_a_report_from_its_own_reports(
    tmp_path: Path,
    migrated_data_dir: Callable[[Path], Path],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data_dir = migrated_data_dir(tmp_path / "demo")
    status = await run_demo(keep=data_dir, cadres=30, web_cadres=6, seed=11)
    out = capsys.readouterr().out
    assert status == 0, out
    marked = re.search(r"(\d+) texts marked quotable", out)
    assert marked and int(marked.group(1)) > 0, out
    assert re.search(r"python -m bot report --campaign \d{4} --out report\.docx", out), out

    document = Document(BytesIO((data_dir / REPORT_FILE).read_bytes()))
    styled = [(p.style.name if p.style else "", p.text) for p in document.paragraphs]
    assert styled[0][0] == "Title" and styled[0][1].startswith("关于基层减负专项调研（演示）")
    headings = [(style, text) for style, text in styled if style.startswith("Heading")]
    assert [text for style, text in headings if style == "Heading 1"] == [
        "一、调研基本情况",
        "二、形式主义、官僚主义的具体表现",
        "三、意见建议",
        "附：方法与匿名保护说明",
    ]
    areas = [text for style, text in headings if style == "Heading 2"]
    assert [area[:3] for area in areas[:4]] == ["（一）", "（二）", "（三）", "（四）"]
    # Every problem heading sits under an area heading, in the problems' own order.
    problems: list[int] = []
    seen_area = False
    for style, text in headings:
        seen_area = seen_area or style == "Heading 2"
        if style == "Heading 3":
            assert seen_area, text
            problems.append(int(text.split(".", 1)[0]))
    assert problems == sorted(problems) and len(problems) >= 9

    assert document.tables and document.inline_shapes
    for table in document.tables:
        header = [cell.text for cell in table.rows[0].cells]
        if header[:2] != ["分组", "份数"]:
            continue
        for row in table.rows[1:]:
            assert int(row.cells[1].text) >= K, [cell.text for cell in row.cells]

    quotes = [text for style, text in styled if style == "Quote"]
    assert quotes, "the demo marked texts, so the report quotes some"
    marked_texts = await _marked_texts(data_dir, monkeypatch)
    for quote in quotes:
        # The bare text in quotation marks: no unit, post, day or anything else beside it.
        assert quote.startswith("“") and quote.endswith("”"), quote
        assert quote[1:-1] in marked_texts, quote
