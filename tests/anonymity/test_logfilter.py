"""Log redaction: ids, usernames, e-mails, phones and receipt codes never reach a log line."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from bot.anonymity.logfilter import RedactingFilter, install_log_redaction, redact

USER_ID = 987654321
CHAT_ID = -1001234567890
CODE = "7KQ4-M2XD-9TRW-PB3H-C6NE"


class RecordingHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def logger_and_output() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    output = io.StringIO()
    handler = logging.StreamHandler(output)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger(f"test.logfilter.{id(output)}")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    try:
        yield logger, output
    finally:
        logger.removeHandler(handler)


@pytest.fixture
def restore_logging() -> Iterator[None]:
    factory = logging.getLogRecordFactory()
    root = logging.getLogger()
    filters, handlers = list(root.filters), list(root.handlers)
    try:
        yield
    finally:
        logging.setLogRecordFactory(factory)
        root.filters[:] = filters
        for handler in root.handlers:
            if handler not in handlers:
                root.removeHandler(handler)


def test_ids_in_arguments_and_message_are_redacted(
    logger_and_output: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, output = logger_and_output
    logger.info("user %d in chat %s sent a message", USER_ID, CHAT_ID)
    logger.info(f"direct {USER_ID}")
    logger.info("mapping %(user)s", {"user": USER_ID})
    text = output.getvalue()
    assert str(USER_ID) not in text
    assert "1234567890" not in text
    assert text.count("[id]") == 4


@pytest.mark.parametrize(
    ("message", "secret"),
    [
        ("from @zhang_san_88", "zhang_san_88"),
        ("mail li.si@example.gov.cn failed", "li.si@example.gov.cn"),
        ("phone 138 0013 8000", "0013"),
        ("phone +86-138-0013-8000", "0013"),
        (f"receipt {CODE} looked up", "M2XD"),
        (f"receipt {CODE.replace('-', '').lower()} looked up", "m2xd"),
        ("id card 11010519491231002X", "1231002"),
        ("full-width １２３４５６７８９", "6789"),
    ],
)
def test_contact_details_and_codes_are_redacted(
    logger_and_output: tuple[logging.Logger, io.StringIO], message: str, secret: str
) -> None:
    logger, output = logger_and_output
    logger.warning(message)
    assert secret not in output.getvalue()


def test_ordinary_log_lines_survive(logger_and_output: tuple[logging.Logger, io.StringIO]) -> None:
    logger, output = logger_and_output
    logger.info("digest sent to %d groups in %d ms (2024-11-29)", 3, 1250)
    assert "digest sent to 3 groups in 1250 ms (2024-11-29)" in output.getvalue()


def test_tracebacks_are_redacted_and_frames_dropped(
    logger_and_output: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, output = logger_and_output
    capture = RecordingHandler()
    logger.addHandler(capture)
    try:
        try:
            raise RuntimeError(f"chat {CHAT_ID} not found for user {USER_ID}")
        except RuntimeError:
            logger.exception("send failed")
    finally:
        logger.removeHandler(capture)
    text = output.getvalue()
    assert "RuntimeError" in text
    assert str(USER_ID) not in text
    assert "1234567890" not in text
    assert capture.records[0].exc_info is None


def test_a_broken_format_string_does_not_echo_its_arguments(
    logger_and_output: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, output = logger_and_output
    logger.info("two placeholders %s %s", USER_ID)
    assert str(USER_ID) not in output.getvalue()


def test_global_install_covers_child_loggers_and_later_handlers(restore_logging: None) -> None:
    install_log_redaction()
    output = io.StringIO()
    handler = logging.StreamHandler(output)  # added after installation, no filter of its own
    child = logging.getLogger("aiogram.event.test_child")
    child.addHandler(handler)
    try:
        child.warning("update from user %s", USER_ID)
    finally:
        child.removeHandler(handler)
    assert str(USER_ID) not in output.getvalue()
    assert "[id]" in output.getvalue()


def test_install_on_named_loggers_filters_their_handlers(restore_logging: None) -> None:
    output = io.StringIO()
    logger = logging.getLogger("test.logfilter.named")
    logger.propagate = False
    handler = logging.StreamHandler(output)
    logger.addHandler(handler)
    try:
        install_log_redaction(["test.logfilter.named"])
        logger.warning("user %s", USER_ID)
    finally:
        logger.removeHandler(handler)
        logger.filters.clear()
    assert str(USER_ID) not in output.getvalue()


def test_redaction_is_idempotent() -> None:
    line = f"user {USER_ID} @someone a@b.cn {CODE} 138 0013 8000"
    once = redact(line)
    assert redact(once) == once
    assert once == "user [id] [username] [email] [receipt] [phone]"
