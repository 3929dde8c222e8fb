"""The schema, in SQLAlchemy Core. Read it with the anonymity contract in mind.

* Nothing in `submissions` or `answers` names or points at a person: ids are random, the only
  time is a calendar day, free text is scrubbed and encrypted.
* `fsm_entries` and `rate_counters` are keyed by HMAC pseudonyms (the secret is not in the
  database) and expire.
* `subscribers` and `staff` are the only tables holding identities, and nothing links them to
  submissions.
* On SQLite every table is `WITHOUT ROWID`, so no hidden, insertion-ordered rowid records the
  order in which reports arrived.

The Alembic migrations in `storage/migrations/versions` must create exactly this; a test
compares the two on SQLite and PostgreSQL.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    UniqueConstraint,
    false,
)

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)

SUBMISSION_ID_LENGTH = 32  # 16 random bytes, hex
PSEUDONYM_LENGTH = 64  # HMAC-SHA256, hex
ROLES = ("admin", "investigator")

submissions = Table(
    "submissions",
    metadata,
    Column("id", String(SUBMISSION_ID_LENGTH), primary_key=True),
    Column("questionnaire_id", String(64), nullable=False),
    Column("questionnaire_version", Integer, nullable=False),
    Column("campaign_id", String(64), nullable=True),
    Column("day", Date, nullable=False),  # calendar day in TIMEZONE; never a time of day
    Column("receipt_hash", String(PSEUDONYM_LENGTH), nullable=False),
    UniqueConstraint("receipt_hash"),
    Index(None, "day"),
    sqlite_with_rowid=False,
)

answers = Table(
    "answers",
    metadata,
    Column(
        "submission_id",
        String(SUBMISSION_ID_LENGTH),
        ForeignKey("submissions.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("question_id", String(64), primary_key=True),
    Column("ordinal", Integer, primary_key=True, autoincrement=False),
    # The choice belongs to a list answer (multiple choice), even when only one was picked.
    Column("multi", Boolean, nullable=False, server_default=false()),
    Column("choice", String(128), nullable=True),
    Column("number", BigInteger, nullable=True),
    Column("text_enc", LargeBinary, nullable=True),  # scrubbed free text, AES-GCM
    CheckConstraint("ordinal >= 0", name="ordinal_not_negative"),
    CheckConstraint(
        "(CASE WHEN choice IS NULL THEN 0 ELSE 1 END)"
        " + (CASE WHEN number IS NULL THEN 0 ELSE 1 END)"
        " + (CASE WHEN text_enc IS NULL THEN 0 ELSE 1 END) = 1",
        name="exactly_one_value",
    ),
    Index(None, "question_id", "choice"),
    sqlite_with_rowid=False,
)

fsm_entries = Table(
    "fsm_entries",
    metadata,
    Column("key", String(PSEUDONYM_LENGTH), primary_key=True),
    Column("state", String(255), nullable=True),
    Column("data_enc", LargeBinary, nullable=True),  # AES-GCM JSON of the FSM data
    Column("expires_at", DateTime(timezone=False), nullable=False),  # naive UTC, quarter hours
    Index(None, "expires_at"),
    sqlite_with_rowid=False,
)

rate_counters = Table(
    "rate_counters",
    metadata,
    Column("key", String(PSEUDONYM_LENGTH), primary_key=True),  # daily pseudonym
    Column("day", Date, nullable=False),
    Column("count", Integer, nullable=False),
    Index(None, "day"),
    sqlite_with_rowid=False,
)

subscribers = Table(
    "subscribers",
    metadata,
    Column("chat_hash", String(PSEUDONYM_LENGTH), primary_key=True),
    Column("chat_id_enc", LargeBinary, nullable=False),
    Column("locale", String(16), nullable=False),
    Column("active", Boolean, nullable=False),
    Column("since_day", Date, nullable=False),
    sqlite_with_rowid=False,
)

staff = Table(
    "staff",
    metadata,
    Column("user_id", BigInteger, primary_key=True, autoincrement=False),
    Column("role", String(16), nullable=False),
    Column("added_day", Date, nullable=False),
    CheckConstraint("role IN ('admin', 'investigator')", name="known_role"),
    sqlite_with_rowid=False,
)

# --- Digests for investigators (issue 4) ----------------------------------------------------
# None of these tables can be joined to `submissions`; only `digest_groups` holds chat ids
# (of group chats that receive digests, never of respondents).

DIGEST_PERIOD_KEY_LENGTH = 40  # e.g. "daily:2026-11-28" or "weekly:2026-11-23"
OUTBOX_STATUSES = ("pending", "sending", "sent", "failed", "cancelled")
OUTBOX_CHANNELS = ("telegram", "webhook")

staff_invites = Table(
    "staff_invites",
    metadata,
    # SHA-256 of the normalised one-time code: the code itself is shown once and never stored.
    Column("code_hash", String(PSEUDONYM_LENGTH), primary_key=True),
    Column("expires_at", DateTime(timezone=False), nullable=False),  # naive UTC
    Index(None, "expires_at"),
    sqlite_with_rowid=False,
)

digest_groups = Table(
    "digest_groups",
    metadata,
    Column("chat_id", BigInteger, primary_key=True, autoincrement=False),  # a group, not a person
    Column("added_day", Date, nullable=False),
    sqlite_with_rowid=False,
)

digests = Table(
    "digests",
    metadata,
    Column("period_key", String(DIGEST_PERIOD_KEY_LENGTH), primary_key=True),
    Column("content_enc", LargeBinary, nullable=False),  # AES-GCM JSON of the built digest
    # Outbox rows were created for every destination of the time (set after enqueueing).
    Column("enqueued", Boolean, nullable=False, server_default=false()),
    sqlite_with_rowid=False,
)

digest_outbox = Table(
    "digest_outbox",
    metadata,
    Column(
        "period_key",
        String(DIGEST_PERIOD_KEY_LENGTH),
        ForeignKey("digests.period_key", ondelete="CASCADE"),
        primary_key=True,
    ),
    # An HMAC reference to the destination (see bot.delivery.outbox), never a chat id or URL.
    Column("destination", String(PSEUDONYM_LENGTH), primary_key=True),
    Column("channel", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("parts_done", Integer, nullable=False),  # messages known delivered (resume point)
    Column("next_attempt_at", DateTime(timezone=False), nullable=False),  # naive UTC
    Column("lease_token", String(32), nullable=True),
    Column("lease_until", DateTime(timezone=False), nullable=True),  # naive UTC
    Column("last_error", String(300), nullable=True),  # safe detail: no URL, secret or content
    CheckConstraint(
        "status IN ('pending', 'sending', 'sent', 'failed', 'cancelled')", name="known_status"
    ),
    CheckConstraint("channel IN ('telegram', 'webhook')", name="known_channel"),
    CheckConstraint("attempts >= 0 AND parts_done >= 0", name="counts_not_negative"),
    Index(None, "status", "next_attempt_at"),
    sqlite_with_rowid=False,
)
