"""The values that flow through the pipeline: immutable (a Variant by convention), typed, free of I/O."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal, NamedTuple

Lang = Literal["en", "zh"]
LANGS: tuple[Lang, ...] = ("en", "zh")

ChannelType = Literal[
    "outbox", "wechat", "weibo", "x", "mastodon", "bluesky", "telegram", "facebook", "linkedin", "webhook"
]


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


class Block(NamedTuple):
    """A part of a post: title, headline, source, run (short lines), paragraph or slogan.

    `optional` blocks may be dropped to fit a channel, lowest number first; `width` is the target
    line width of a run (characters; a Han character counts one). A named tuple: blocks key the
    per-block memos of composing, and a tuple hashes and compares without a Python call.
    """

    kind: str
    lines: tuple[str, ...]
    optional: int | None = None
    width: float | None = None


@dataclass  # not frozen: a frozen class's __init__ costs a call per field, and a post makes twenty
class Variant:
    """What one channel receives in one language: the exact payload an editor approves. A value:
    make a changed one with dataclasses.replace, never change one in place."""

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
