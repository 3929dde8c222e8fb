"""Exports of the raw answers for admins: XLSX, CSV (UTF-8 with BOM) and SPSS .sav, each
with its codebook (a sheet of the XLSX; a ".codebook.csv" file beside the others).

See `bot.export.submissions` for what an export contains and, above all, what it leaves out,
and `bot.export.generalise` for how its quasi-identifiers are coarsened to K rows each.
"""

from bot.export.codebook import Column, codebook_rows, export_columns
from bot.export.generalise import OTHER, GroupKey, Span, generalise
from bot.export.submissions import (
    CHUNK_SIZE,
    EXPORT_FORMATS,
    CrosstabRow,
    ExportFormat,
    ExportOptions,
    ExportPlan,
    ExportResult,
    codebook_path,
    covered_days,
    crosstab_rows,
    export_crosstabs,
    export_submissions,
    iter_export_rows,
    plan_export,
    plan_rows,
)

__all__ = [
    "CHUNK_SIZE",
    "EXPORT_FORMATS",
    "OTHER",
    "Column",
    "CrosstabRow",
    "ExportFormat",
    "ExportOptions",
    "ExportPlan",
    "ExportResult",
    "GroupKey",
    "Span",
    "codebook_path",
    "codebook_rows",
    "covered_days",
    "crosstab_rows",
    "export_columns",
    "export_crosstabs",
    "export_submissions",
    "generalise",
    "iter_export_rows",
    "plan_export",
    "plan_rows",
]
