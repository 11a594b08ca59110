"""The editors' actions on the queue: every driver (CLI, web pages, JSON API) goes through these.

Each function takes the Runtime, the acting user (for the audit trail) and the item's id, reads
`now` from the runtime's clock, and raises PipelineError subclasses: NotFound, InvalidTransition,
or ReviewError for input the queue refuses (an over-limit edit, a number no fact supports).

An edited text is counted as its channel counts it and must fit; every number in it must come from
the facts the post was composed from (kept with the post) or already be in the text it replaces.
Free-text posts (`queue add --text`) have no facts: their numbers are the editor's own.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Iterable
from urllib.parse import urlsplit

from . import flow
from .compose import provenance
from .compose.channels import Target, problems, variant
from .config import ChannelConfig
from .errors import InvalidTransition, ReviewError
from .flow import Runtime
from .model import Block, Card, Variant
from .records import Delivery, Edit, Post
from .store.media_files import card_files
from .templating.state import number_tokens

__all__ = [
    "MANUAL",
    "Edit",
    "approve",
    "cancel",
    "check_time",
    "edit",
    "edits",
    "reject",
    "rerender",
    "reschedule",
    "resolve",
    "retry",
    "text_variant",
]

MANUAL = "manual:"  # the job id prefix of free-text posts
UNSENT = {"pending", "scheduled", "failed"}


def approve(rt: Runtime, post_id: int, actor: str) -> None:
    rt.store.approve(post_id, actor, rt.clock.now())


def reject(rt: Runtime, post_id: int, actor: str, reason: str) -> None:
    rt.store.reject(post_id, actor, _reason(reason, "a rejection"), rt.clock.now())


def edit(rt: Runtime, post_id: int, channel: str, lang: str, text: str, actor: str) -> Edit:
    """Replace one channel variant's text; an approved post goes back to review."""
    post = rt.store.post(post_id)
    _delivery(post, channel, lang)
    config = _channel(rt, channel)
    numbers = _fact_numbers(rt, post)

    def revise(current: Variant) -> Variant:
        if numbers is not None:
            _check_numbers(channel, lang, text, numbers | number_tokens(current.text))
        revised = text_variant(channel, config, lang, text, current.cards, current.title)
        if revised.text == current.text:
            raise ReviewError(f"channel {channel!r} ({lang}): the text is unchanged")
        return revised

    return rt.store.edit(post_id, channel, lang, revise, actor, rt.clock.now())


def edits(rt: Runtime, post_id: int) -> list[Edit]:
    rt.store.post(post_id)  # NotFound for an unknown post, not an empty list
    return rt.store.edits(post_id)


def reschedule(rt: Runtime, post_id: int, when: dt.datetime, actor: str, channel: str | None = None) -> None:
    """Move the post's unsent deliveries (of one channel, if given) to `when`."""
    when = check_time(rt, when)
    post = rt.store.post(post_id)
    if channel is not None and all(d.channel != channel for d in post.deliveries):
        raise ReviewError(f"post {post_id} has no delivery to {channel!r} (it has {_names(post.deliveries)})")
    if not rt.store.reschedule(post_id, when, actor, rt.clock.now(), channel):
        item = f"post {post_id}" + (f" on {channel}" if channel else "")
        raise InvalidTransition(item, _states(post, channel), "rescheduled")


def cancel(rt: Runtime, post_id: int, actor: str, reason: str) -> None:
    """Every delivery of the post not yet sent is cancelled."""
    post = rt.store.post(post_id)
    if not rt.store.cancel(post_id, actor, _reason(reason, "a cancellation"), rt.clock.now()):
        raise InvalidTransition(f"post {post_id}", _states(post), "cancelled")


def retry(rt: Runtime, delivery_id: int, actor: str) -> None:
    """A failed delivery is scheduled again, due now."""
    rt.store.retry(delivery_id, actor, rt.clock.now())


def resolve(rt: Runtime, delivery_id: int, actor: str, *, url: str | None = None, publish_again: bool = False) -> None:
    """Settle a delivery that may have gone out: published at the URL an editor found, or publish it again."""
    if (url is None) == (not publish_again):
        raise ReviewError(f"delivery {delivery_id}: give one of the URL it was found at or publish again")
    if url is not None and not _web_url(url):
        raise ReviewError(f"delivery {delivery_id}: {url!r} is not an http(s) URL")
    rt.store.resolve(delivery_id, actor, rt.clock.now(), url)


def rerender(rt: Runtime, post_id: int, actor: str) -> None:
    """Draw the post's cards again from its facts (as they were when it was composed) and the
    card templates as they are now; an approved post whose cards changed goes back to review."""
    post = rt.store.post(post_id)
    if post.job_id.startswith(MANUAL):
        raise ReviewError(f"post {post_id} is free text: its images are the editor's own, there is nothing to draw")
    unsent = [d.variant for d in post.deliveries if d.status in UNSENT]
    if not unsent:
        raise InvalidTransition(f"post {post_id}", _states(post), "re-rendered")
    job = rt.job(post.job_id)
    drawn = flow.attach_cards(rt, job, rt.store.facts(post_id) or flow.load_facts(rt, job), unsent)
    rt.store.add_media(card_files(rt.project.root, drawn), rt.clock.now())
    cards = {(v.channel, v.lang): v.cards for v in drawn}

    def revise(current: Variant) -> Variant:
        return dataclasses.replace(current, cards=cards.get((current.channel, current.lang), current.cards))

    rt.store.revise_all(post_id, revise, actor, rt.clock.now(), "cards re-rendered")


def check_time(rt: Runtime, when: dt.datetime) -> dt.datetime:
    """A time to publish at: aware, not in the past, as UTC."""
    if when.tzinfo is None:
        raise ReviewError(f"{when.isoformat()} has no time zone")
    if when < rt.clock.now():
        local = when.astimezone(rt.config.tz)
        raise ReviewError(f"{local:%Y-%m-%d %H:%M} ({rt.config.timezone}) is in the past")
    return when.astimezone(dt.UTC)


def text_variant(
    name: str, config: ChannelConfig, lang: str, text: str, cards: tuple[Card, ...] = (), title: str | None = None
) -> Variant:
    """A channel's variant of an editor's text, counted as the channel counts it; ReviewError naming
    the channel, the count and the limit when it does not fit. Blank lines separate paragraphs; the
    channel's link, when it has one, ends the text whether or not the editor wrote it."""
    blocks = _blocks(_without_link(text, config.link), title)
    if not any(b.kind != "title" for b in blocks):
        raise ReviewError(f"channel {name!r} ({lang}): the text is empty")
    target = Target(name, config, lang, bool(cards), f"{name} ({lang})")
    over = problems(target, blocks)
    if over:
        raise ReviewError(f"channel {name!r} ({lang}): " + "; ".join(over))
    return dataclasses.replace(variant(target, blocks), cards=cards)


def _blocks(text: str, title: str | None) -> tuple[Block, ...]:
    """Paragraphs as blocks: the first is the headline, one of several short lines a run."""
    paragraphs = [p for p in re.split(r"\n[ \t]*\n", text.replace("\r\n", "\n").strip()) if p.strip()]
    lines = [tuple(line.strip() for line in p.splitlines() if line.strip()) for p in paragraphs]
    kinds = ["headline" if i == 0 else "run" if len(ls) > 1 else "paragraph" for i, ls in enumerate(lines)]
    heading = (Block("title", (title,)),) if title else ()
    return heading + tuple(Block(kind, ls) for kind, ls in zip(kinds, lines, strict=True))


def _without_link(text: str, link: str | None) -> str:
    stripped = text.rstrip()
    return stripped.removesuffix(link).rstrip() if link and stripped.endswith(link) else text


def _fact_numbers(rt: Runtime, post: Post) -> set[str] | None:
    """The numbers the post's facts hold: its snapshot's, or (older posts) its job's facts now."""
    if post.job_id.startswith(MANUAL):
        return None
    facts = rt.store.facts(post.id) or flow.load_facts(rt, rt.job(post.job_id))
    return provenance.fact_numbers(facts)


def _check_numbers(channel: str, lang: str, text: str, allowed: set[str]) -> None:
    unsupported = sorted(number_tokens(text) - allowed, key=lambda n: (len(n), n))
    if unsupported:
        numbers = ", ".join(unsupported)
        raise ReviewError(f"channel {channel!r} ({lang}): the number {numbers} comes from no fact of this post")


def _delivery(post: Post, channel: str, lang: str) -> Delivery:
    found = next((d for d in post.deliveries if (d.channel, d.variant.lang) == (channel, lang)), None)
    if found is None:
        raise ReviewError(f"post {post.id} has no {channel!r} delivery in {lang!r} (it has {_names(post.deliveries)})")
    return found


def _channel(rt: Runtime, name: str) -> ChannelConfig:
    if name not in rt.config.channels:
        raise ReviewError(f"channel {name!r} is no longer in {rt.project.schedule}: its text cannot be counted")
    return rt.config.channels[name]


def _reason(reason: str, what: str) -> str:
    if not reason.strip():
        raise ReviewError(f"{what} needs a reason, for the audit trail")
    return reason.strip()


def _web_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _names(deliveries: Iterable[Delivery]) -> str:
    return ", ".join(f"{d.channel} ({d.variant.lang})" for d in deliveries) or "none"


def _states(post: Post, channel: str | None = None) -> str:
    states = sorted({d.status.value for d in post.deliveries if channel in (None, d.channel)})
    return "/".join(states) or "without deliveries"
