"""Logs never hold ids, names or answer text: redact every record before any handler sees it.

Log files are read by more people, kept longer and copied further than the database, and a
Telegram id in a log line next to a timestamp is enough to tie a person to a submission. The
filter formats each record, then replaces receipt-like codes, e-mail addresses, phone numbers,
@usernames and every run of five or more digits (Telegram user and chat ids, ID-card and card
numbers). Tracebacks are formatted and redacted too, and their frame objects (which hold local
variables) are dropped from the record. Names cannot be recognised in general, so code must
simply never log them; this filter is the safety net, not the policy.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Callable, Iterable
from typing import Any

from bot.anonymity.receipt import redact_receipts

_EMAIL = re.compile(r"[\w.%+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE = re.compile(r"(?<!\d)(?:(?:\+|00)?86[ -]?)?1[3-9]\d(?:[ -]?\d{4}){2}(?!\d)")
_USERNAME = re.compile(r"(?<![\w.@])@[A-Za-z][A-Za-z0-9_]{3,}")
_LONG_DIGITS = re.compile(r"\d{5,}")
_MARKER = "_qingfeng_redacting"


def redact(text: str) -> str:
    """`text` with codes, e-mails, phones, @usernames and ≥ 5-digit runs replaced."""
    text = redact_receipts(unicodedata.normalize("NFKC", text))
    text = _EMAIL.sub("[email]", text)
    text = _PHONE.sub("[phone]", text)
    text = _USERNAME.sub("[username]", text)
    return _LONG_DIGITS.sub("[id]", text)


def redact_record(record: logging.LogRecord) -> None:
    """Replace the record's message, arguments, traceback and stack with redacted text."""
    try:
        message = record.getMessage()
    except Exception:  # a bad format string: logging would echo the raw args on stderr
        message = f"{record.msg!s} (unformattable log arguments)"
    record.msg = redact(message)
    record.args = ()
    if record.exc_info and record.exc_info[0] is not None:
        if not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        record.exc_info = None
    if record.exc_text:
        record.exc_text = redact(record.exc_text)
    if record.stack_info:
        record.stack_info = redact(record.stack_info)


class RedactingFilter(logging.Filter):
    """A filter for handlers or loggers; it never drops a record, it only redacts it."""

    def filter(self, record: logging.LogRecord) -> bool:
        redact_record(record)
        return True


def install_log_redaction(logger_names: Iterable[str] | None = None) -> RedactingFilter:
    """Install redaction globally (default) or on the named loggers and their handlers.

    With no names, the log-record factory itself is wrapped, so every record from every
    library is redacted no matter which handler (added now or later) writes it, and the
    root logger's current handlers get the filter as well. A filter on a *logger* alone would
    not see records propagated from its children, hence the handlers.
    """
    redacting = RedactingFilter()
    if logger_names is None:
        factory = logging.getLogRecordFactory()
        if not getattr(factory, _MARKER, False):
            logging.setLogRecordFactory(_redacting_factory(factory))
        loggers = [logging.getLogger()]
    else:
        loggers = [logging.getLogger(name) for name in logger_names]
    for logger in loggers:
        logger.addFilter(redacting)
        for handler in logger.handlers:
            handler.addFilter(redacting)
    return redacting


def _redacting_factory(
    factory: Callable[..., logging.LogRecord],
) -> Callable[..., logging.LogRecord]:
    def make_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = factory(*args, **kwargs)
        redact_record(record)
        return record

    setattr(make_record, _MARKER, True)
    return make_record
