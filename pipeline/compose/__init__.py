"""Compose: facts and a post template become one Variant per channel and language."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jinja2

from .. import templating
from ..config import ChannelConfig, JobConfig
from ..model import Block, FactSet, Variant
from ..templating.state import PostState
from . import provenance
from .blocks import parse
from .channels import Target, variant
from .draft import Draft
from .runs import break_runs

__all__ = ["compose", "context", "post_blocks"]


def context(facts: FactSet, lang: str, identity: str = "", numbers: set[str] | None = None) -> dict[str, Any]:
    """What every template (post or card) sees, in one language; `identity` seeds wording choices,
    `numbers` are the facts' own numbers when the caller has them already."""
    state = PostState(f"{identity}/{lang}", provenance.fact_numbers(facts) if numbers is None else numbers)
    return {"lang": lang, "subject": facts.subject[lang], "facts": facts.facts, "source": facts.source, "_post": state}


def post_blocks(
    env: jinja2.Environment, post: str, facts: FactSet, lang: str, identity: str = "", numbers: set[str] | None = None
) -> tuple[Block, ...]:
    """Render a post template into blocks, break its runs into short lines, and check that every
    number in them has a source."""
    name = f"{post}.{lang}.j2"
    ctx = context(facts, lang, identity, numbers)
    state = ctx["_post"]
    blocks = break_runs(parse(templating.render(env, name, ctx), name), lang, state.protected)
    provenance.check(blocks, state, name)
    return blocks


def compose(
    env: jinja2.Environment,
    job: JobConfig,
    facts: FactSet,
    channels: Mapping[str, ChannelConfig],
    identity: str = "",
) -> list[Variant]:
    """One variant per channel and language, each fitted to its channel's limits."""
    drafts: dict[str, tuple[Draft, str]] = {}
    numbers, with_cards = provenance.fact_numbers(facts), bool(job.cards)
    variants = []
    for name in job.channels:
        channel = channels[name]
        for lang in channel.langs:
            if lang not in drafts:
                blocks = post_blocks(env, job.post, facts, lang, identity, numbers)
                drafts[lang] = Draft(blocks), f"{job.post}.{lang}.j2"
            draft, template = drafts[lang]
            variants.append(variant(Target(name, channel, lang, with_cards, template), draft))
    return variants
