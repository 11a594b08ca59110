"""Channel variants: a post's blocks fitted to each channel's real limits, counted as it counts.

A variant that is too long loses whole optional blocks in the template's priority order (see
fitting), never a cut mid-sentence. If it still does not fit, composing fails naming the channel,
the count and the limit.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

from ..config import ChannelConfig
from ..errors import ComposeError, Problem
from ..model import Block, Variant
from . import counting, facets, fitting
from .article import Article, article, block_html
from .blocks import SEPARATOR, plain_text
from .draft import Draft

if TYPE_CHECKING:  # a name only: composing never loads Pillow
    from ..render.encode import ImageFormat


@dataclass(frozen=True)
class ChannelSpec:
    """What a channel type takes: the field its text goes in, the card size it shows best, and the
    image format and byte budget its upload accepts (None: no limit); channels that show a cover
    (WeChat articles) also say the cover's size, format and budget."""

    text_field: str | None
    card_size: tuple[int, int] = (1080, 1350)
    caption_field: str | None = None
    card_format: ImageFormat = "png"
    card_budget: int | None = None
    cover_size: tuple[int, int] | None = None
    cover_format: ImageFormat = "jpeg"
    cover_budget: int | None = None


# Card formats and budgets, from ../shared/api-contracts.md. A budget is the most bytes the upload
# may have under the strictest reading of its limit: MB = 1,000,000 bytes, "< N" is N - 1.
# PNG wherever the API takes it and it fits (flat-colour cards are smaller as PNG than as JPEG at
# quality 90, and text stays sharp); JPEG where the API wants JPEG or its budget is tight, so that
# the quality search can make any card fit.
SPECS: dict[str, ChannelSpec] = {
    "outbox": ChannelSpec(None),
    # in-article images: media/uploadimg, jpg/png < 1 MB; the cover (thumb_media_id) at 2.35:1 within
    # the strictest reading, a permanent `thumb` (≤ 64 KB, JPG only), so it also fits `image` (≤ 10 MB)
    "wechat": ChannelSpec(
        "content", (1080, 1350), card_format="jpeg", card_budget=999_999, cover_size=(900, 383), cover_budget=64_000
    ),
    "weibo": ChannelSpec("status", (1080, 1350), card_budget=4_999_999),  # pic: JPEG/GIF/PNG < 5 MB
    "x": ChannelSpec("text", (1200, 675), card_budget=5_000_000),  # media/upload: 5 MB
    # instance's image_size_limit: 16 MiB today, 10 MiB on older servers
    "mastodon": ChannelSpec("status", (1080, 1080), card_budget=10_485_760),
    # blob maxSize: 1,000,000 (2,000,000 in the 2026 lexicon; the guide still says 1,000,000)
    "bluesky": ChannelSpec("text", (1080, 1350), card_format="jpeg", card_budget=1_000_000),
    "telegram": ChannelSpec("text", (1080, 1350), caption_field="caption", card_budget=10_000_000),  # photo: 10 MB
    "facebook": ChannelSpec("message", (1080, 1350), card_budget=999_999),  # recommended: PNG under 1 MB
    # JPG/GIF/PNG; the size cap is unconfirmed, so the X and Weibo figure
    "linkedin": ChannelSpec("commentary", (1200, 675), card_budget=5_000_000),
    "webhook": ChannelSpec(None),
}


class Target(NamedTuple):
    """One channel variant to compose: the channel, its language, and whether images go with it."""

    name: str
    config: ChannelConfig
    lang: str
    with_cards: bool
    template: str


def variant(target: Target, post: Draft | tuple[Block, ...]) -> Variant:
    """The channel's variant of a post: the blocks that fit, as text (and article), with their counts.
    Pass a Draft when making many channels' variants of the same blocks."""
    draft = post if isinstance(post, Draft) else Draft(post)
    plan = _plan_of(target)
    gone = fitting.dropped(draft, plan.measures)
    counted = None if gone is None else _count_kept(target, plan, draft, gone)
    if counted is None or counted.over():
        counted = _count(target, _fit_exactly(target, draft.blocks))
    return counted.variant()


def problems(target: Target, blocks: tuple[Block, ...]) -> list[str]:
    """Every limit the blocks exceed, counted exactly on the whole text."""
    return _count(target, blocks).over()


def _fit_exactly(target: Target, blocks: tuple[Block, ...]) -> tuple[Block, ...]:
    """The same search on whole-text counts, or a ComposeError naming channel, count and limit."""
    fitted = fitting.fit(blocks, fitting.ExactBudget(blocks, lambda candidate: problems(target, candidate)))
    if fitted is None:
        where = f"channel {target.name!r} ({target.config.type}, {target.lang})"
        least = tuple(b for b in blocks if b.optional is None)
        raise ComposeError([Problem(target.template, 0, f"{where}: {message}") for message in problems(target, least)])
    return fitted


class _Plan(NamedTuple):
    """How a channel type whose text goes in `field` is fitted and counted, worked out once: the
    measures the fit sums, and the limits on the fields the channel is sent."""

    kind: str
    link: str
    measures: tuple[fitting.Measure, ...]
    limits: tuple[counting.TextLimit, ...]


def _plan_of(target: Target) -> _Plan:
    config = target.config
    spec = SPECS[config.type]
    field = spec.caption_field if target.with_cards and spec.caption_field else spec.text_field
    return _plan(config.type, field, config.link)


@functools.lru_cache(maxsize=256)
def _plan(kind: str, field: str | None, link: str | None) -> _Plan:
    sent = {"wechat": ("title", "digest", "content"), "linkedin": ("commentary",)}.get(kind, (field,))
    limits = tuple(limit for limit in counting.LIMITS.get(kind, ()) if limit.field in sent)
    return _Plan(kind, link or "", fitting.measures(kind, field, link), limits)


class _Counted(NamedTuple):
    """Chosen blocks as the channel will receive them, counted exactly once."""

    target: Target
    blocks: tuple[Block, ...]
    text: str
    post: Article | None
    commentary: str | None  # LinkedIn's text as sent, escaped
    counts: list[tuple[counting.TextLimit, int]]

    def over(self) -> list[str]:
        found = [counting.too_long(limit, count) for limit, count in self.counts if count > limit.limit]
        if self.target.config.type == "x":
            found += [f"x text: the character {c!r} makes a post invalid" for c in counting.x_valid_chars(self.text)]
        return found

    def variant(self) -> Variant:
        target, post = self.target, self.post
        if post is None:
            return Variant(target.name, target.config.type, target.lang, self.text, extra=_extra(self))
        return Variant(
            target.name,
            target.config.type,
            target.lang,
            self.text,
            title=post.title,
            digest=post.digest,
            html=post.html,
            extra=_extra(self),
        )


def _count(target: Target, blocks: tuple[Block, ...]) -> _Counted:
    plan = _plan_of(target)
    text = _linked(plan, plain_text(blocks))
    post = article(blocks) if plan.kind == "wechat" else None
    return _counted(target, plan, blocks, text, post, _commentary(text) if plan.kind == "linkedin" else None)


def _count_kept(target: Target, plan: _Plan, draft: Draft, gone: set[int]) -> _Counted:
    """_count of the blocks not `gone`, from the draft's pieces. LinkedIn's escape is local (a '#'
    after a paragraph break is after whitespace, as at the start), so its text is a join too."""
    keep = draft.keep(gone)
    blocks = draft.kept(keep)
    post = article(blocks, draft.join(block_html, keep, "")) if plan.kind == "wechat" else None
    commentary = None
    if plan.kind == "linkedin":
        commentary = _linked(plan, draft.join(fitting.linkedin_text, keep), _commentary)
    return _counted(target, plan, blocks, _linked(plan, draft.text(keep)), post, commentary)


def _linked(plan: _Plan, text: str, form: Callable[[str], str] = str) -> str:
    """The text with the channel's link after it, if it has one (`form` applied to the link's part)."""
    return f"{text}{form(SEPARATOR + plan.link)}" if plan.link else text


def _counted(
    target: Target, plan: _Plan, blocks: tuple[Block, ...], text: str, post: Article | None, commentary: str | None
) -> _Counted:
    """The blocks as sent, counted exactly."""
    if post is None:  # one field: the text, or LinkedIn's commentary
        value = text if commentary is None else commentary
        counts = [(limit, limit.counter(value)) for limit in plan.limits]
    else:
        sent = {"title": post.title, "digest": post.digest, "content": post.html}
        counts = [(limit, limit.counter(sent[limit.field])) for limit in plan.limits]
    return _Counted(target, blocks, text, post, commentary, counts)


def _extra(counted: _Counted) -> dict[str, Any]:
    kind, text = counted.target.config.type, counted.text
    counts = [
        {"field": limit.field, "count": count, "limit": limit.limit, "unit": limit.unit}
        for limit, count in counted.counts
    ]
    extra: dict[str, Any] = {"counts": counts}
    if kind == "bluesky":
        extra["facets"] = facets.bluesky_facets(text)
    if counted.commentary is not None:
        extra["commentary"] = counted.commentary
    if kind == "webhook":
        extra["blocks"] = [{"kind": b.kind, "lines": list(b.lines)} for b in counted.blocks]
    return extra


@functools.lru_cache(maxsize=64)
def _commentary(text: str) -> str:
    """LinkedIn's escaped commentary: counted, then sent (so made once per text)."""
    return counting.linkedin_escape(text, keep_hashtags=True)
