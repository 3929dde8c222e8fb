"""The report as Markdown, with each chart as a PNG file beside it (`FILE-1.png`, …).

Text from data is escaped as the digests escape it for robots: markup characters become their
full-width look-alikes, so no quote can open a link, a table cell or an HTML tag.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.digest.render import markdown_escape
from bot.report.content import Chart, Heading, Paragraph, Report, Table


@dataclass(frozen=True)
class MarkdownReport:
    """The Markdown text and the images it refers to, by file name (beside the .md)."""

    text: str
    images: tuple[tuple[str, bytes], ...]


def _one_line(text: str) -> str:
    return markdown_escape(" ".join(text.split()))


def _table(element: Table) -> list[str]:
    lines = []
    if element.caption:
        lines += [f"**{_one_line(element.caption)}**", ""]
    lines.append("| " + " | ".join(_one_line(cell) for cell in element.header) + " |")
    lines.append("|" + "---|" * len(element.header))
    lines += ["| " + " | ".join(_one_line(cell) for cell in row) + " |" for row in element.rows]
    return lines


def write_markdown(report: Report, image_stem: str) -> MarkdownReport:
    """The report in Markdown; chart N is `{image_stem}-N.png` (drawn here: CPU-bound)."""
    stem = image_stem.replace("/", "_").replace("\\", "_")
    blocks: list[list[str]] = [[f"# {_one_line(report.title)}"]]
    images: list[tuple[str, bytes]] = []
    for element in report.elements:
        if isinstance(element, Heading):
            blocks.append([f"{'#' * (element.level + 1)} {_one_line(element.text)}"])
        elif isinstance(element, Paragraph):
            text = _one_line(element.text)
            if element.kind == "item":
                line = f"- {text}"
            elif element.kind == "quote":
                line = f"> {text}"
            elif element.kind == "note":
                line = f"*{text}*"
            else:
                line = text
            blocks.append([line])
        elif isinstance(element, Table):
            blocks.append(_table(element))
        elif isinstance(element, Chart):
            name = f"{stem}-{len(images) + 1}.png"
            images.append((name, element.png()))
            blocks.append([f"![{_one_line(element.title)}]({name})"])
    return MarkdownReport("\n\n".join("\n".join(block) for block in blocks) + "\n", tuple(images))
