"""Sample digests for delivery tests: realistic Chinese text in controllable sizes."""

from __future__ import annotations

import io

from PIL import Image

from bot.delivery.webhooks import DigestMessage

CONTENT_MARKER = "内部摘要标记Q7"


def digest_lines(count: int) -> list[str]:
    """Numbered Markdown lines of mixed Chinese, ASCII and punctuation (3-byte heavy)."""
    return [
        f"- 第{i:04d}条：以会议落实会议、以文件落实文件，填表报数“层层加码” {CONTENT_MARKER} ✅"
        for i in range(count)
    ]


def make_digest(
    lines: int = 5, *, title: str = "清风周报 2025-W14", chart: bytes | None = None
) -> DigestMessage:
    body = digest_lines(lines)
    return DigestMessage(
        title=title,
        markdown="\n".join(body),
        plain="\n".join(line.removeprefix("- ") for line in body),
        chart_png=chart,
    )


def small_png(width: int = 64, height: int = 32) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (42, 111, 151)).save(buffer, format="PNG")
    return buffer.getvalue()
