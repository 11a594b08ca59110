"""Channel mockups: each variant as its platform will show it, built from what its publisher sends.

`mockup()` reads the payload `wire()` makes (with each publisher's own request builder): the displayed
text is the payload's text (Telegram's HTML-escaped caption unescaped, LinkedIn's little-format
escapes undone, as those platforms show them), its counts are the channel's own (counting.py), and
the problems are the publisher's own `check()`.
"""

from __future__ import annotations

import html
import html.parser
from dataclasses import dataclass
from typing import Any

import regex
from twitter_text import extract_urls_with_indices  # type: ignore[import-untyped, unused-ignore]

from ..compose import counting
from ..compose.article import sanitize
from ..compose.channels import SPECS
from ..config import ChannelConfig
from ..model import Card, Variant
from ..publish import PUBLISHERS, Services
from ..records import Delivery
from .wire import Wire, article_html, wire

__all__ = ["Meter", "Mockup", "Picture", "Segment", "WechatArticle", "mockup"]

_URL = regex.compile(r"https?://[^\s<>\"'）。，、；：！？」』】]+", regex.I)
_TAG = regex.compile(r"(?<!\S)[#＃][\p{L}\p{N}_][\p{L}\p{M}\p{N}_]*")
_LITTLE_ESCAPE = regex.compile(r"\\([\\|{}@\[\]()<>#*_~])")
_TRAILING = ".,;:!?'\")]}"
# Platforms that receive a card's alt text (Weibo's share and Telegram's photos have no field for it).
ALT_SENT = {"wechat", "x", "mastodon", "bluesky", "facebook", "linkedin", "outbox", "webhook"}


@dataclass(frozen=True)
class Meter:
    """One count as the channel counts it, beside its limit: "123 / 280"."""

    field: str
    count: int
    limit: int
    unit: str

    @property
    def fits(self) -> bool:
        return self.count <= self.limit


@dataclass(frozen=True)
class Picture:
    """A card as the page shows it: its media URL, real pixel size and alt text."""

    url: str
    name: str
    width: int
    height: int
    alt: str
    alt_sent: bool


@dataclass(frozen=True)
class Segment:
    """A run of displayed text: plain, a link (`href`) or a hashtag."""

    text: str
    kind: str = "text"
    href: str | None = None


@dataclass(frozen=True)
class WechatArticle:
    """The article as the draft sends it; `body` is sanitized HTML with its inline styles moved to
    data-wx-style attributes (the page's CSP forbids style attributes; post.js applies them)."""

    title: str
    digest: str
    author: str
    body: str
    cover: Picture | None


@dataclass(frozen=True)
class Mockup:
    channel: str
    type: str
    lang: str
    wire: Wire
    segments: tuple[Segment, ...]
    meters: tuple[Meter, ...]
    pictures: tuple[Picture, ...]
    problems: tuple[str, ...]
    article: WechatArticle | None = None
    notes: tuple[str, ...] = ()

    @property
    def template(self) -> str:
        return f"mockups/{self.type}.html"

    @property
    def fits(self) -> bool:
        return not self.problems and all(meter.fits for meter in self.meters)


def mockup(delivery: Delivery, config: ChannelConfig, services: Services) -> Mockup:
    """The delivery's variant as its platform shows it, read from the payload its publisher sends."""
    variant, kind = delivery.variant, config.type
    sent = wire(delivery, config)
    shown = _shown_text(kind, sent)
    return Mockup(
        variant.channel,
        kind,
        variant.lang,
        sent,
        tuple(_segments(kind, shown, sent)),
        tuple(_meters(kind, variant, sent)),
        tuple(_picture(card, kind) for card in _shown_cards(kind, variant)),
        tuple(PUBLISHERS[kind](variant.channel, config, services).check(variant)),
        _article(variant, config) if kind == "wechat" else None,
        tuple(_notes(kind, variant)),
    )


# -- what the platform shows -------------------------------------------------------------------


def _shown_text(kind: str, sent: Wire) -> str:
    """The text a reader sees, taken from the payload."""
    body = sent.body
    if kind == "telegram":  # parse_mode HTML: readers see the text unescaped
        return html.unescape(str(body.get("caption") or body.get("text") or body["media"][0]["caption"]))
    if kind == "linkedin":
        return _LITTLE_ESCAPE.sub(r"\1", str(body["commentary"]))
    if kind == "bluesky":
        return str(body["record"]["text"])
    if kind == "webhook":
        return str(body["data"]["text"])
    return str(body.get("status") or body.get("text") or body.get("message") or "")


def _segments(kind: str, text: str, sent: Wire) -> list[Segment]:
    """The text cut into plain runs, links and hashtags, found the way the platform finds them."""
    if kind == "bluesky":
        spans = _facet_spans(text, sent.body["record"].get("facets") or [])
    else:
        spans = sorted(_url_spans(kind, text) + _tag_spans(text, kind))
    return _cut(kind, text, spans)


def _url_spans(kind: str, text: str) -> list[tuple[int, int, str, str]]:
    if kind == "x":  # X links bare domains too, as twitter-text finds them
        urls = extract_urls_with_indices(text)
        return [(u["indices"][0], u["indices"][1], "link", _with_scheme(u["url"])) for u in urls]
    found = [(m.start(), m.start() + len(m[0].rstrip(_TRAILING)), "link") for m in _URL.finditer(text)]
    return [(start, end, kind_, text[start:end]) for start, end, kind_ in found]


def _tag_spans(text: str, kind: str) -> list[tuple[int, int, str, str]]:
    if kind in ("weibo", "telegram", "outbox", "webhook"):
        return []
    return [(m.start(), m.end(), "tag", "") for m in _TAG.finditer(text)]


def _facet_spans(text: str, facets: list[dict[str, Any]]) -> list[tuple[int, int, str, str]]:
    """Bluesky's facets, which index UTF-8 bytes, as character spans."""
    raw, spans = text.encode(), []
    for facet in facets:
        start, end = (len(raw[: facet["index"][key]].decode(errors="ignore")) for key in ("byteStart", "byteEnd"))
        feature = facet["features"][0]
        link = feature.get("$type", "").endswith("#link")
        spans.append((start, end, "link" if link else "tag", str(feature.get("uri", "")) if link else ""))
    return sorted(spans)


def _cut(kind: str, text: str, spans: list[tuple[int, int, str, str]]) -> list[Segment]:
    segments, at = [], 0
    for start, end, what, href in spans:
        if start < at:
            continue  # a tag inside a link
        segments += [Segment(text[at:start]), _marked(kind, text[start:end], what, href)]
        at = end
    return [*segments, Segment(text[at:])]


def _marked(kind: str, text: str, what: str, href: str) -> Segment:
    if what != "link":
        return Segment(text, "tag")
    safe = href if regex.match(r"https?://", href, regex.I) else None
    if kind == "weibo":
        return Segment("网页链接", "link", safe)  # Weibo shows every link as this label
    if kind in ("x", "mastodon"):
        return Segment(_display_url(text), "link", safe)
    return Segment(text, "link", safe)


def _display_url(url: str) -> str:
    """A link as X and Mastodon show it: no scheme or www., cut after 23 characters."""
    bare = regex.sub(r"^(https?://)?(www\.)?", "", url, flags=regex.I)
    return bare if len(bare) <= 23 else bare[:23] + "…"


def _with_scheme(url: str) -> str:
    return url if regex.match(r"https?://", url, regex.I) else f"https://{url}"


def _meters(kind: str, variant: Variant, sent: Wire) -> list[Meter]:
    """Every limit of the channel, counted as the channel counts the field that carries the text."""
    fields = _counted_fields(kind, variant, sent)
    return [
        Meter(limit.field, limit.counter(fields[limit.field]), limit.limit, limit.unit)
        for limit in counting.LIMITS.get(kind, ())
        if limit.field in fields
    ]


def _counted_fields(kind: str, variant: Variant, sent: Wire) -> dict[str, str]:
    if kind == "wechat":  # as compose and the publisher's check count them (before in-article images)
        return {"title": variant.title or "", "digest": variant.digest or "", "content": variant.html or ""}
    if kind == "linkedin":
        return {"commentary": str(sent.body["commentary"])}
    spec = SPECS[kind]
    name = spec.caption_field if variant.cards and spec.caption_field else spec.text_field
    return {name: variant.text} if name else {}


def _shown_cards(kind: str, variant: Variant) -> tuple[Card, ...]:
    return variant.cards[:1] if kind == "weibo" else variant.cards  # a Weibo share takes one picture


def _picture(card: Card, kind: str) -> Picture:
    name = card.path.name
    return Picture(f"/media/{name}", name, card.width, card.height, card.alt, kind in ALT_SENT)


def _notes(kind: str, variant: Variant) -> list[str]:
    if kind != "telegram":
        return []
    return ["sent as a photo caption (limit 1,024)" if variant.cards else "sent as a message (limit 4,096)"]


# -- the WeChat article ------------------------------------------------------------------------


def _article(variant: Variant, config: ChannelConfig) -> WechatArticle:
    cover = _picture(variant.cards[0], "wechat") if variant.cards else None
    author = str(config.options.get("author", "")) or variant.channel
    # The stored HTML was sanitized by nh3 at compose time; it is sanitized again with the same allow-list
    # here because the database is a trust boundary, then only its style attributes are renamed.
    body = _StylesAsData.convert(sanitize(article_html(variant)))
    return WechatArticle(variant.title or "", variant.digest or "", author, body, cover)


class _StylesAsData(html.parser.HTMLParser):
    """Re-serializes sanitized HTML with `style` renamed `data-wx-style`; every value and text re-escaped."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []

    @classmethod
    def convert(cls, markup: str) -> str:
        parser = cls()
        parser.feed(markup)
        parser.close()
        return "".join(parser.out)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        pairs = "".join(
            f' {"data-wx-style" if name == "style" else name}="{html.escape(value or "")}"' for name, value in attrs
        )
        self.out.append(f"<{tag}{pairs}>")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)  # void elements only: no end tag

    def handle_endtag(self, tag: str) -> None:
        self.out.append(f"</{tag}>")

    def handle_data(self, data: str) -> None:
        self.out.append(html.escape(data, quote=False))
