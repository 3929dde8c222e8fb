"""The campaign report for investigators: a Word (or Markdown) document built from the
campaign's released digest data and the quotes staff marked (`python -m bot report`,
`/report ID`)."""

from bot.report.content import Report, build_report, report_title
from bot.report.markdown_writer import MarkdownReport, write_markdown
from bot.report.service import ReportService


def write_docx(report: Report) -> bytes:
    """The report as a Word document (`bot.report.docx_writer`). python-docx and lxml are
    loaded on the first report, not when the bot starts: about 7 MB that a bot serving
    cadres does not need."""
    from bot.report.docx_writer import write_docx as write

    return write(report)


__all__ = [
    "MarkdownReport",
    "Report",
    "ReportService",
    "build_report",
    "report_title",
    "write_docx",
    "write_markdown",
]
