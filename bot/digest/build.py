"""Building one digest: aggregate, render every form, draw the chart.

A built digest is stored and then delivered (and retried) verbatim, so `BuiltDigest` is a
frozen value that round-trips through JSON, the chart as base64.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import random
from dataclasses import dataclass, field, replace
from typing import Any, Final, Literal

from bot.anonymity.crypto import TextCipher
from bot.cases.digest_section import (
    CaseFigures,
    case_counts,
    case_section_html,
    render_case_section,
)
from bot.delivery.webhooks import DigestMessage
from bot.digest.aggregate import (
    Comparison,
    DigestData,
    DigestLayout,
    RawCounts,
    aggregate_digest,
    from_jsonable,
    summarise,
    to_jsonable,
)
from bot.digest.chart import render_problem_chart
from bot.digest.period import Period
from bot.digest.render import (
    chart_axis,
    chart_footnote,
    chart_rows,
    chart_title,
    digest_title,
    render_message,
    render_telegram,
)
from bot.questionnaire import Questionnaire
from storage.database import Database

BUILT_SCHEMA_VERSION: Final = 1
TELEGRAM_LIMIT: Final = 4096


@dataclass(frozen=True)
class BuiltDigest:
    """A digest ready to send: Telegram parts, the webhook message, and the data behind them."""

    period_key: str
    title: str
    telegram_parts: list[str]
    message: DigestMessage = field(repr=False)
    data: DigestData = field(repr=False)
    locale: str = "zh-CN"

    def to_json(self) -> str:
        """JSON with the chart as base64; `from_json` gives back an equal value."""
        chart = self.message.chart_png
        payload: dict[str, Any] = {
            "schema": BUILT_SCHEMA_VERSION,
            "period_key": self.period_key,
            "title": self.title,
            "locale": self.locale,
            "telegram_parts": list(self.telegram_parts),
            "message": {
                "title": self.message.title,
                "markdown": self.message.markdown,
                "plain": self.message.plain,
                "chart_png_base64": (
                    base64.b64encode(chart).decode("ascii") if chart is not None else None
                ),
            },
            "data": to_jsonable(self.data),
        }
        return json.dumps(payload, ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> BuiltDigest:
        """Read what `to_json` wrote; ValueError when it is not a built digest."""
        try:
            payload = json.loads(text)
            if payload.get("schema") != BUILT_SCHEMA_VERSION:
                raise ValueError(f"built digest schema {payload.get('schema')!r} is unknown")
            message = payload["message"]
            chart_text = message["chart_png_base64"]
            chart = base64.b64decode(chart_text, validate=True) if chart_text is not None else None
            parts = payload["telegram_parts"]
            if not isinstance(parts, list) or not all(isinstance(p, str) for p in parts):
                raise ValueError("telegram_parts must be a list of strings")
            return cls(
                period_key=str(payload["period_key"]),
                title=str(payload["title"]),
                telegram_parts=parts,
                message=DigestMessage(
                    title=str(message["title"]),
                    markdown=str(message["markdown"]),
                    plain=str(message["plain"]),
                    chart_png=chart,
                ),
                data=from_jsonable(DigestData, payload["data"]),
                locale=str(payload.get("locale", "zh-CN")),
            )
        except (KeyError, TypeError, AttributeError, binascii.Error) as exc:
            raise ValueError(f"not a built digest: {exc}") from exc


async def build_digest(
    db: Database,
    cipher: TextCipher,
    questionnaire: Questionnaire,
    period: Period,
    *,
    k: int,
    locale: str = "zh-CN",
    campaign_id: str | None = None,
    campaign_title: str | None = None,
    rng: random.Random | None = None,
    include_cases: bool = True,
    compare_with: Comparison | Literal["previous period"] | None = "previous period",
) -> BuiltDigest:
    """Aggregate `period`, render it in `locale` and draw the chart (in a worker thread).

    A period with fewer than K submissions still gives a digest, with the same fixed text,
    the same hidden case section and an all-suppressed chart whether or not anything arrived.
    """
    data = await aggregate_digest(
        db,
        cipher,
        questionnaire,
        period,
        k=k,
        campaign_id=campaign_id,
        campaign_title=campaign_title,
        rng=rng,
        compare_with=compare_with,
    )
    figures: CaseFigures | None = None
    if include_cases and data.enough:
        figures = await case_counts(
            db, period, questionnaire_id=questionnaire.id, campaign_id=campaign_id
        )
    return await render_built(
        data, questionnaire, locale=locale, cases=figures if include_cases else _NO_SECTION
    )


def placeholder_data(
    questionnaire: Questionnaire,
    period: Period,
    *,
    k: int,
    campaign_id: str | None = None,
    campaign_title: str | None = None,
) -> DigestData:
    """The data of a period below K: fixed, computed without reading anything."""
    layout = DigestLayout.from_questionnaire(questionnaire)
    return summarise(
        layout,
        period,
        RawCounts(submissions=0),
        k=k,
        campaign_id=campaign_id,
        campaign_title=campaign_title,
    )


async def build_placeholder(
    questionnaire: Questionnaire,
    period: Period,
    *,
    k: int,
    locale: str = "zh-CN",
    campaign_id: str | None = None,
    campaign_title: str | None = None,
) -> BuiltDigest:
    """What a running period shows before its first step: the below-K digest, identical
    whatever arrived (no database is read)."""
    data = placeholder_data(
        questionnaire, period, k=k, campaign_id=campaign_id, campaign_title=campaign_title
    )
    return await render_built(data, questionnaire, locale=locale, cases=None)


class _NoSection:
    """Marker: leave the case section out altogether."""


_NO_SECTION: Final = _NoSection()


async def render_built(
    data: DigestData,
    questionnaire: Questionnaire,
    *,
    locale: str,
    cases: CaseFigures | _NoSection | None,
) -> BuiltDigest:
    """Every form of a digest from its data: Telegram parts, webhook message, chart. `cases`
    None writes the hidden case section (the digest itself is below K)."""
    chart = await asyncio.to_thread(
        render_problem_chart,
        chart_rows(data, questionnaire, locale=locale),
        title=chart_title(data, locale=locale, questionnaire=questionnaire),
        locale=locale,
        footnote=chart_footnote(data, locale=locale),
        axis=chart_axis(data, questionnaire, locale=locale),
    )
    parts = render_telegram(data, questionnaire, locale=locale)
    message = render_message(data, questionnaire, locale=locale, chart_png=chart)
    if not isinstance(cases, _NoSection):
        parts, message = _with_case_section(
            cases, parts, message, k=data.k, locale=locale, campaign=data.period.kind == "campaign"
        )
    return BuiltDigest(
        period_key=data.period.key,
        title=digest_title(data, locale=locale),
        telegram_parts=parts,
        message=message,
        data=data,
        locale=locale,
    )


def _with_case_section(
    figures: CaseFigures | None,
    parts: list[str],
    message: DigestMessage,
    *,
    k: int,
    locale: str,
    campaign: bool,
) -> tuple[list[str], DigestMessage]:
    """Append the case-handling counts (cases by status, follow-ups answered; below K shown
    as "fewer than K"; all hidden when the digest is) to every form of the digest."""
    html = case_section_html(figures, k=k, locale=locale, campaign=campaign)
    lines = "\n".join(render_case_section(figures, k=k, locale=locale, campaign=campaign))
    parts = list(parts)
    if parts and len(parts[-1]) + 2 + len(html) <= TELEGRAM_LIMIT:
        parts[-1] = parts[-1] + "\n\n" + html
    else:
        parts.append(html)
    return parts, replace(
        message,
        markdown=message.markdown + "\n\n" + lines,
        plain=message.plain + "\n\n" + lines,
    )


def format_digest_text(built: BuiltDigest) -> str:
    """The digest as console text (`python -m bot digest --print`)."""
    chart = built.message.chart_png
    chart_note = (
        (
            f"[图表 PNG，{len(chart) // 1024} KB]"
            if built.locale.startswith("zh")
            else f"[chart PNG, {len(chart) // 1024} KB]"
        )
        if chart is not None
        else ""
    )
    lines = [built.title, "=" * min(40, len(built.title) * 2), "", built.message.plain]
    if chart_note:
        lines += ["", chart_note]
    return "\n".join(lines) + "\n"
