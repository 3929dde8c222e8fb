"""The closed sets of values stored in status-like columns, each defined once.

The CHECK constraints in `storage.tables` are built from these enums (`one_of`), and the
repositories and services use the members instead of string literals, so a value cannot be
misspelt in one place and a new value cannot reach the code without reaching the schema: a
test reads the constraints back from the migrated database and compares them with the enums.

This module imports nothing from the project, so the storage layer and the services can both
import it without circles.
"""

from __future__ import annotations

from enum import StrEnum


class StoredValues(StrEnum):
    """A closed set of values of one column."""

    @classmethod
    def has(cls, value: object) -> bool:
        """Whether `value` is one of the set (`in` refuses plain strings before Python 3.12)."""
        return value in cls._value2member_map_


class Role(StoredValues):
    """What a staff member may do: run the bot (admin) or follow reports up (investigator)."""

    ADMIN = "admin"
    INVESTIGATOR = "investigator"


class OutboxStatus(StoredValues):
    """Where one digest delivery to one destination stands."""

    PENDING = "pending"
    SENDING = "sending"  # leased by a worker
    SENT = "sent"
    FAILED = "failed"  # gave up after the last attempt
    CANCELLED = "cancelled"  # the destination went away before delivery


class OutboxChannel(StoredValues):
    """How a digest reaches its destination."""

    TELEGRAM = "telegram"
    WEBHOOK = "webhook"


class CaseStatus(StoredValues):
    """Where an investigation of one submission stands."""

    NEW = "new"
    VERIFYING = "verifying"
    VERIFIED = "verified"
    CLOSED = "closed"
    REJECTED = "rejected"


#: How a case status reads, by language: the words of discipline-inspection work, where a
#: report is 「反映」 (a 案件 is a formally opened case, which these are not). The Telegram
#: screens say the same through gettext (msgids: the "en" names, capitalised); a test keeps
#: the two in step. The stored values never change with these names.
CASE_STATUS_NAMES: dict[str, dict[CaseStatus, str]] = {
    "zh-CN": {
        CaseStatus.NEW: "待处理",
        CaseStatus.VERIFYING: "核实中",
        CaseStatus.VERIFIED: "已核实",
        CaseStatus.CLOSED: "已办结",
        CaseStatus.REJECTED: "不予采纳",
    },
    "en": {
        CaseStatus.NEW: "new",
        CaseStatus.VERIFYING: "checking",
        CaseStatus.VERIFIED: "verified",
        CaseStatus.CLOSED: "closed",
        CaseStatus.REJECTED: "not taken up",
    },
}


class FollowupOrigin(StoredValues):
    """Who wrote a follow-up message: the cadre or an investigator, and nothing more."""

    CADRE = "cadre"
    INVESTIGATOR = "investigator"


class CaseEventKind(StoredValues):
    """What happened to a case: its status changed, or a label was added or removed."""

    STATUS = "status"
    LABEL = "label"
    UNLABEL = "unlabel"


class BroadcastStatus(StoredValues):
    """Where a broadcast stands."""

    RUNNING = "running"
    PAUSED = "paused"
    CANCELLED = "cancelled"
    DONE = "done"


class RecipientStatus(StoredValues):
    """Where a broadcast stands for one subscriber."""

    PENDING = "pending"
    SENDING = "sending"  # claimed by the sender; an interruption leaves it unknown
    SENT = "sent"
    BLOCKED = "blocked"  # the subscriber blocked the bot
    FAILED = "failed"
    UNKNOWN = "unknown"  # interrupted while sending: maybe delivered, never resent
    SKIPPED = "skipped"  # cancelled or unsubscribed before its turn


class CampaignStatus(StoredValues):
    """Where a campaign stands."""

    PLANNED = "planned"
    OPEN = "open"
    CLOSED = "closed"


def one_of(column: str, values: type[StrEnum]) -> str:
    """The SQL condition `column IN ('a', 'b', …)` of a CHECK constraint, in member order."""
    listed = ", ".join(f"'{member.value}'" for member in values)
    return f"{column} IN ({listed})"
