"""The queue's records: posts and their deliveries with their statuses, what a publishing API handed
back (receipts, tokens), and what editors did (audit events, edits); media files that posts refer to."""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass, field
from pathlib import Path

from .model import Variant


class PostStatus(enum.StrEnum):
    DRAFT = "draft"
    IN_REVIEW = "in_review"
    APPROVED = "approved"
    REJECTED = "rejected"


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"
    SCHEDULED = "scheduled"
    PUBLISHING = "publishing"
    PUBLISHED = "published"
    FAILED = "failed"
    UNKNOWN = "unknown"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class Receipt:
    remote_id: str
    url: str | None = None


@dataclass(frozen=True)
class Token:
    """A credential an API handed out (access token, session JWTs), shared by every worker process."""

    value: str
    expires_at: dt.datetime | None = None
    account: str | None = None  # who the token speaks for (a DID, a user id): not a secret
    extra: dict[str, str] = field(default_factory=dict)  # further secrets that came with it (refresh token)

    def usable(self, now: dt.datetime, margin: dt.timedelta = dt.timedelta(minutes=5)) -> bool:
        return self.expires_at is None or self.expires_at - margin > now


@dataclass(frozen=True)
class Delivery:
    """One channel variant (channel × language) on its way out, as the store holds it."""

    id: int
    post_id: int
    status: DeliveryStatus
    attempt: int
    due_at: dt.datetime
    variant: Variant
    remote_id: str | None = None
    url: str | None = None
    error: str | None = None
    progress: dict[str, str] = field(default_factory=dict)  # keys planned and ids returned so far

    @property
    def channel(self) -> str:
        return self.variant.channel


@dataclass(frozen=True)
class Post:
    """One job fire's output: a title for the queue and a delivery per channel variant."""

    id: int
    job_id: str
    fire_time: dt.datetime
    status: PostStatus
    title: str
    deliveries: tuple[Delivery, ...]


@dataclass(frozen=True)
class AuditEvent:
    at: dt.datetime
    actor: str
    from_status: str | None
    to_status: str
    reason: str | None
    delivery_id: int | None


@dataclass(frozen=True)
class Edit:
    """An editor's change to one delivery's text: what it said before and after."""

    id: int
    post_id: int
    channel: str
    lang: str
    at: dt.datetime
    actor: str
    before: str
    after: str

    @property
    def diff(self) -> list[str]:
        """The change as unified diff lines."""
        import difflib

        lines = difflib.unified_diff(self.before.splitlines(), self.after.splitlines(), "before", "after", lineterm="")
        return list(lines)


@dataclass(frozen=True)
class MediaFile:
    """A content-addressed file in the media folder (`<sha256>.<ext>`) that a queued post refers to."""

    sha256: str
    path: Path
    width: int
    height: int
    format: str
    bytes: int
