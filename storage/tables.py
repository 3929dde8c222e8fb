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

from bot.statuses import (
    BroadcastStatus,
    CampaignStatus,
    CaseEventKind,
    CaseStatus,
    FollowupOrigin,
    OutboxChannel,
    OutboxStatus,
    RecipientStatus,
    Role,
    one_of,
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
STAFF_NAME_LENGTH = 129  # Telegram's first name (64) and last name (64), a space between

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
    # Staff marked this free text as fit to quote (scrubbed, without its author's unit or level).
    Column("quotable", Boolean, nullable=False, server_default=false()),
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
    # The name Telegram gave when the member joined (staff are identified on purpose).
    Column("full_name", String(STAFF_NAME_LENGTH), nullable=True),
    CheckConstraint(one_of("role", Role), name="known_role"),
    sqlite_with_rowid=False,
)

# --- Digests for investigators -------------------------------------------------------------------
# None of these tables can be joined to `submissions`; only `digest_groups` holds chat ids
# (of group chats that receive digests, never of respondents).

DIGEST_PERIOD_KEY_LENGTH = 40  # e.g. "daily:2026-11-28" or "weekly:2026-11-23"

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
    CheckConstraint(one_of("status", OutboxStatus), name="known_status"),
    CheckConstraint(one_of("channel", OutboxChannel), name="known_channel"),
    CheckConstraint("attempts >= 0 AND parts_done >= 0", name="counts_not_negative"),
    Index(None, "status", "next_attempt_at"),
    sqlite_with_rowid=False,
)

# The figures of a running period as last released to staff (`/digest`): one row per view
# scope (a period key, or a period key, "@" and a campaign id), replaced only once K more
# reports arrived. No time of day; `version` is random and changes with every step, so two
# processes cannot both release a step (compare-and-swap).
DIGEST_SNAPSHOT_KEY_LENGTH = DIGEST_PERIOD_KEY_LENGTH + 1 + 64

digest_snapshots = Table(
    "digest_snapshots",
    metadata,
    Column("scope_key", String(DIGEST_SNAPSHOT_KEY_LENGTH), primary_key=True),
    Column("version", String(32), nullable=False),
    Column("content_enc", LargeBinary, nullable=False),  # AES-GCM JSON of the released digest
    sqlite_with_rowid=False,
)

# --- Cases, anonymous follow-up and the audit log ------------------------------------------------
# One case per submission (same random key, cascade). Nothing here identifies the cadre: a
# follow-up row records only whether the cadre or an investigator wrote it. `ref` is a short
# random reference shown to staff (never the receipt code, never a sequence). `seq` numbers
# rows *within one case* only. `audit_log` is the one table here that holds an identity: the
# staff member who acted (staff are not anonymous); it never names a cadre.

CASE_REF_LENGTH = 8

cases = Table(
    "cases",
    metadata,
    Column(
        "submission_id",
        String(SUBMISSION_ID_LENGTH),
        ForeignKey("submissions.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("ref", String(CASE_REF_LENGTH), nullable=False),
    Column("status", String(16), nullable=False),
    Column("labels", String(512), nullable=False, server_default=""),  # "\n"-joined, sorted
    Column("last_activity_day", Date, nullable=False),  # retention counts from here
    UniqueConstraint("ref"),
    CheckConstraint(one_of("status", CaseStatus), name="known_status"),
    Index(None, "status"),
    Index(None, "last_activity_day"),
    sqlite_with_rowid=False,
)

case_events = Table(
    "case_events",
    metadata,
    Column(
        "submission_id",
        String(SUBMISSION_ID_LENGTH),
        ForeignKey("cases.submission_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("day", Date, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("value", String(64), nullable=False),
    CheckConstraint(one_of("kind", CaseEventKind), name="known_kind"),
    sqlite_with_rowid=False,
)

followup_messages = Table(
    "followup_messages",
    metadata,
    Column(
        "submission_id",
        String(SUBMISSION_ID_LENGTH),
        ForeignKey("cases.submission_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("day", Date, nullable=False),
    Column("origin", String(16), nullable=False),  # 'cadre' or 'investigator', nothing more
    Column("text_enc", LargeBinary, nullable=False),  # scrubbed, AES-GCM
    CheckConstraint(one_of("origin", FollowupOrigin), name="known_origin"),
    Index(None, "origin", "day"),
    sqlite_with_rowid=False,
)

case_notes = Table(
    "case_notes",
    metadata,
    Column(
        "submission_id",
        String(SUBMISSION_ID_LENGTH),
        ForeignKey("cases.submission_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("day", Date, nullable=False),
    Column("text_enc", LargeBinary, nullable=False),  # internal, never shown to the cadre
    sqlite_with_rowid=False,
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", String(SUBMISSION_ID_LENGTH), primary_key=True),  # random
    Column("day", Date, nullable=False),
    Column("actor_user_id", BigInteger, nullable=False, autoincrement=False),  # staff only
    Column("action", String(32), nullable=False),
    Column("subject", String(64), nullable=False),  # e.g. a case ref; never a cadre
    Index(None, "day"),
    sqlite_with_rowid=False,
)

# --- Broadcasts ----------------------------------------------------------------------------------
# A broadcast goes to subscribers; its recipients are named only by `chat_hash`, the same HMAC
# pseudonym as `subscribers.chat_hash` (the chat id to send to is decrypted from there at send
# time). Nothing here can be joined to `submissions`, and nothing records who opened what.

broadcasts = Table(
    "broadcasts",
    metadata,
    Column("id", String(SUBMISSION_ID_LENGTH), primary_key=True),  # random
    Column("created_day", Date, nullable=False),
    Column("status", String(16), nullable=False),
    Column("locale", String(16), nullable=True),  # audience: one language, or NULL for all
    Column("paid", Boolean, nullable=False, server_default=false()),
    # AES-GCM JSON {"text": HTML, "photo": file_id or null}.
    Column("content_enc", LargeBinary, nullable=False),
    # AES-GCM JSON of where the admin's progress message is (a staff chat, never a cadre's).
    Column("progress_ref_enc", LargeBinary, nullable=True),
    Column("total", Integer, nullable=False),
    # Totals of a finished broadcast, written when its recipient rows are purged (NULL before).
    Column("sent_count", Integer, nullable=True),
    Column("blocked_count", Integer, nullable=True),
    Column("failed_count", Integer, nullable=True),
    Column("unknown_count", Integer, nullable=True),
    Column("skipped_count", Integer, nullable=True),
    CheckConstraint(one_of("status", BroadcastStatus), name="known_status"),
    Index(None, "status"),
    sqlite_with_rowid=False,
)

broadcast_recipients = Table(
    "broadcast_recipients",
    metadata,
    Column(
        "broadcast_id",
        String(SUBMISSION_ID_LENGTH),
        ForeignKey("broadcasts.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("chat_hash", String(PSEUDONYM_LENGTH), primary_key=True),  # = subscribers.chat_hash
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("retry_at", DateTime(timezone=False), nullable=True),  # naive UTC; 5xx backoff
    Column("error", String(200), nullable=True),  # Telegram's reason; no id, no content
    CheckConstraint(one_of("status", RecipientStatus), name="known_status"),
    CheckConstraint("attempts >= 0", name="attempts_not_negative"),
    Index(None, "broadcast_id", "status", "chat_hash"),  # claims walk it in order
    sqlite_with_rowid=False,
)

# --- Campaigns -----------------------------------------------------------------------------------
# A campaign opens one questionnaire version between two days. `submissions.campaign_id` holds
# the id of the campaign a submission was made in (no foreign key: submissions predate it).

campaigns = Table(
    "campaigns",
    metadata,
    Column("id", String(16), primary_key=True),  # random, short enough to type
    Column("title", String(200), nullable=False),
    Column("questionnaire_id", String(64), nullable=False),
    Column("questionnaire_version", Integer, nullable=False),
    Column("opens_day", Date, nullable=False),
    Column("closes_day", Date, nullable=False),
    Column("status", String(16), nullable=False),
    # The daily maintenance reordered the storage after this campaign closed (PostgreSQL).
    Column("reordered", Boolean, nullable=False, server_default=false()),
    CheckConstraint(one_of("status", CampaignStatus), name="known_status"),
    CheckConstraint("opens_day <= closes_day", name="opens_before_closing"),
    Index(None, "status"),
    sqlite_with_rowid=False,
)

# Questionnaire versions uploaded by admins: a version with answers is immutable;
# a changed questionnaire is a new `version` (a new row).
questionnaire_versions = Table(
    "questionnaire_versions",
    metadata,
    Column("id", String(64), primary_key=True),  # the questionnaire's own id (from the YAML)
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("yaml_text", String, nullable=False),
    Column("added_day", Date, nullable=False),
    sqlite_with_rowid=False,
)

# Which process runs each background job now, so that several instances on one database run
# every job once. Infrastructure only: job names (`daily-maintenance`, `broadcast:<random
# job id>`), a random per-process token, a lease expiry and the last day a daily job finished
# — no person, chat, submission or arrival order.
job_leases = Table(
    "job_leases",
    metadata,
    Column("job", String(96), primary_key=True),
    Column("holder", String(32), nullable=True),  # secrets.token_hex(16) of one process
    Column("lease_until", DateTime(timezone=False), nullable=True),  # naive UTC
    Column("last_done_day", Date, nullable=True),  # daily jobs: the last day they finished
    sqlite_with_rowid=False,
)
