"""Compose: facts and a post template become one Variant per channel and language."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jinja2

from .. import templating
from ..config import ChannelConfig, JobConfig
from ..model import Block, FactSet, Variant
from .blocks import parse, plain_text

__all__ = ["compose", "context", "post_blocks"]


def context(facts: FactSet, lang: str) -> dict[str, Any]:
    """What every template (post or card) sees, in one language."""
    return {"lang": lang, "subject": facts.subject[lang], "facts": facts.facts, "source": facts.source}


def post_blocks(env: jinja2.Environment, post: str, facts: FactSet, lang: str) -> tuple[Block, ...]:
    name = f"{post}.{lang}.j2"
    return parse(templating.render(env, name, context(facts, lang)), name)


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
