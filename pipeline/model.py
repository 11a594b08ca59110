"""The values that flow through the pipeline: frozen, typed, free of I/O."""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

Lang = Literal["en", "zh"]
LANGS: tuple[Lang, ...] = ("en", "zh")

ChannelType = Literal[
    "outbox", "wechat", "weibo", "x", "mastodon", "bluesky", "telegram", "facebook", "linkedin", "webhook"
]


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
class Source:
    """Where a figure was published; names are per locale."""

    name: dict[str, str]
    date: dt.date
    url: str | None = None
    publisher: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Fact:
    """One figure or statement, with where it came from and how each locale says it."""

    key: str
    value: int | Decimal | str
    source: Source
    kind: str = "count"
    unit: dict[str, str] = field(default_factory=dict)
    qualifier: str | None = None
    as_of: dt.date | None = None
    text: dict[str, str] = field(default_factory=dict)
    items: tuple[dict[str, str], ...] = ()
    line: int = 0
    origin: str = ""

    @property
    def source_origin(self) -> str:
        return f"{self.origin}:{self.line}"


@dataclass(frozen=True)
class FactSet:
    origin: str
    subject: dict[str, str]
    source: Source
    facts: dict[str, Fact]


@dataclass(frozen=True)
class Card:
    """A rendered image: a content-addressed file in the media folder."""

    path: Path
    width: int
    height: int
    alt: str

    def to_json(self) -> dict[str, Any]:
        return {"path": str(self.path), "width": self.width, "height": self.height, "alt": self.alt}


@dataclass(frozen=True)
class Block:
    """A part of a post: title, headline, source, run (short lines), paragraph or slogan.

    `optional` blocks may be dropped to fit a channel, lowest number first; `width` is the target
    line width of a run (characters; a Han character counts one).
    """

    kind: str
    lines: tuple[str, ...]
    optional: int | None = None
    width: float | None = None
    _hash: int = field(init=False, repr=False, compare=False, default=0)

    def __post_init__(self) -> None:  # blocks key the per-block count caches: hash them once
        object.__setattr__(self, "_hash", hash(self.__reduce__()[1]))

    def __hash__(self) -> int:
        return self._hash

    def __reduce__(self) -> tuple[type[Block], tuple[Any, ...]]:  # a string's hash is per process
        return Block, (self.kind, self.lines, self.optional, self.width)


@dataclass(frozen=True)
class Variant:
    """What one channel receives in one language: the exact payload an editor approves."""

    channel: str
    type: str
    lang: str
    text: str
    cards: tuple[Card, ...] = ()
    title: str | None = None
    digest: str | None = None
    html: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The public shape (`generate --json`, the store's payload): article fields only where set,
        and the channel's extra keys (counts, facets, ...) beside the fixed ones."""
        fixed = {k: getattr(self, k) for k in VARIANT_KEYS if getattr(self, k) is not None}
        return self.extra | fixed | {"cards": [card.to_json() for card in self.cards]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Variant:
        cards = tuple(Card(Path(c["path"]), c["width"], c["height"], c["alt"]) for c in data["cards"])
        fields = {k: data.get(k) for k in ("title", "digest", "html")}
        extra = {k: v for k, v in data.items() if k not in VARIANT_KEYS and k != "cards"}
        return cls(data["channel"], data["type"], data["lang"], data["text"], cards, **fields, extra=extra)


VARIANT_KEYS = ("channel", "type", "lang", "text", "title", "digest", "html")


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
