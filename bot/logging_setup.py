"""Logging that cannot leak: every handler gets the redacting filter."""

from __future__ import annotations

import logging

from bot.anonymity.logfilter import RedactingFilter, install_log_redaction


def configure_logging(level: str = "INFO") -> None:
    """Plain, timestamped logs on stderr; ids, names and answer text are never written."""
    root = logging.getLogger()
    if not any(getattr(h, "_qingfeng", False) for h in root.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        handler.addFilter(RedactingFilter())
        handler._qingfeng = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(level)
    install_log_redaction()
    # httpx logs every request URL at INFO, and robot URLs carry their keys.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    # aiosqlite logs every statement with its parameters at DEBUG.
    logging.getLogger("aiosqlite").setLevel(logging.INFO)
    # aiogram logs each handled update at INFO; it holds only update ids and durations.
    logging.getLogger("aiogram.event").setLevel(logging.WARNING if level != "DEBUG" else level)
