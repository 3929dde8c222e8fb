"""Repositories: one small class per table family, each taking the `Database` it works on."""

from storage.repositories.broadcasts import (
    BroadcastContent,
    BroadcastJob,
    BroadcastRepository,
    Outcome,
    ProgressRef,
)
from storage.repositories.cases import (
    AuditEntry,
    AuditRepository,
    CaseDetail,
    CaseRepository,
    CaseSummary,
    ThreadMessage,
)
from storage.repositories.digests import (
    DigestGroupRepository,
    DigestRepository,
    OutboxEntry,
    OutboxItem,
    OutboxRepository,
)
from storage.repositories.invites import InviteRepository
from storage.repositories.rate_limits import RateLimitRepository
from storage.repositories.staff import StaffMember, StaffRepository
from storage.repositories.submissions import (
    AnswerValue,
    NewSubmission,
    StoredSubmission,
    SubmissionRepository,
    new_submission_id,
)
from storage.repositories.subscribers import SubscriberRepository

__all__ = [
    "AnswerValue",
    "AuditEntry",
    "AuditRepository",
    "BroadcastContent",
    "BroadcastJob",
    "BroadcastRepository",
    "CaseDetail",
    "CaseRepository",
    "CaseSummary",
    "DigestGroupRepository",
    "DigestRepository",
    "InviteRepository",
    "NewSubmission",
    "OutboxEntry",
    "OutboxItem",
    "OutboxRepository",
    "Outcome",
    "ProgressRef",
    "RateLimitRepository",
    "StaffMember",
    "StaffRepository",
    "StoredSubmission",
    "SubmissionRepository",
    "SubscriberRepository",
    "ThreadMessage",
    "new_submission_id",
]
