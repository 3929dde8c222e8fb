"""The campaign report for investigators: a Word (or Markdown) document built from the
campaign's released digest data and the quotes staff marked (`python -m bot report`,
`/report ID`)."""

from bot.report.content import Report, build_report, report_title
from bot.report.docx_writer import write_docx
from bot.report.markdown_writer import MarkdownReport, write_markdown
from bot.report.service import ReportService

__all__ = [
    "MarkdownReport",
    "Report",
    "ReportService",
    "build_report",
    "report_title",
    "write_docx",
    "write_markdown",
]
