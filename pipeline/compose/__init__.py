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
from .blocks import parse, plain_text

__all__ = ["compose", "context", "post_blocks"]


def context(facts: FactSet, lang: str, identity: str = "") -> dict[str, Any]:
    """What every template (post or card) sees, in one language; `identity` seeds wording choices."""
    state = PostState(f"{identity}/{lang}", provenance.fact_numbers(facts))
    return {"lang": lang, "subject": facts.subject[lang], "facts": facts.facts, "source": facts.source, "_post": state}


def post_blocks(env: jinja2.Environment, post: str, facts: FactSet, lang: str, identity: str = "") -> tuple[Block, ...]:
    """Render a post template into blocks, and check that every number in them has a source."""
    name = f"{post}.{lang}.j2"
    ctx = context(facts, lang, identity)
    blocks = parse(templating.render(env, name, ctx), name)
    provenance.check(blocks, ctx["_post"], name)
    return blocks


def compose(
    env: jinja2.Environment, job: JobConfig, facts: FactSet, channels: Mapping[str, ChannelConfig]
) -> list[Variant]:
    texts: dict[str, str] = {}
    variants = []
    for name in job.channels:
        channel = channels[name]
        for lang in channel.langs:
            if lang not in texts:
                texts[lang] = plain_text(post_blocks(env, job.post, facts, lang))
            variants.append(Variant(channel=name, type=channel.type, lang=lang, text=texts[lang]))
    return variants
