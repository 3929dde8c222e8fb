"""Exports of the raw answers for investigators: CSV (UTF-8 with BOM) and XLSX.

See `bot.export.submissions` for what an export contains and, above all, what it leaves out.
"""

from bot.export.submissions import (
    CHUNK_SIZE,
    ExportFormat,
    export_columns,
    export_submissions,
    iter_export_rows,
)

__all__ = ["CHUNK_SIZE", "ExportFormat", "export_columns", "export_submissions", "iter_export_rows"]
