"""Exports of the raw answers for admins: CSV (UTF-8 with BOM) and XLSX.

See `bot.export.submissions` for what an export contains and, above all, what it leaves out,
and `bot.export.generalise` for how its quasi-identifiers are coarsened to K rows each.
"""

from bot.export.generalise import OTHER, GroupKey, Span, generalise
from bot.export.submissions import (
    CHUNK_SIZE,
    ExportFormat,
    ExportOptions,
    ExportPlan,
    ExportResult,
    export_columns,
    export_submissions,
    iter_export_rows,
    plan_export,
    plan_rows,
)

__all__ = [
    "CHUNK_SIZE",
    "OTHER",
    "ExportFormat",
    "ExportOptions",
    "ExportPlan",
    "ExportResult",
    "GroupKey",
    "Span",
    "export_columns",
    "export_submissions",
    "generalise",
    "iter_export_rows",
    "plan_export",
    "plan_rows",
]
