"""Runs of very short lines: each line of a run wider than the run's width is broken at phrase
boundaries by the short-line breaker, so a template may write a whole sentence and get the rhythm."""

from __future__ import annotations

import functools
from collections.abc import Collection

from ..model import Block
from .breaker import break_lines
from .memo import Memo

WIDTH = {"en": 40.0, "zh": 16.0}  # characters; a Han character counts one, a Latin one half


def break_runs(blocks: tuple[Block, ...], lang: str, protect: Collection[str] = ()) -> tuple[Block, ...]:
    return tuple(_posting(lang, tuple(sorted(protect))).many(blocks))


@functools.lru_cache(maxsize=64)
def _posting(lang: str, protect: tuple[str, ...]) -> Memo[Block, Block]:
    """Blocks as posted in one language with these protected phrases, remembered, so that equal
    blocks of later posts come back as the same object and every per-block memo after this one is hit
    by identity."""
    return Memo(functools.partial(_as_posted, lang=lang, protect=protect))


def _as_posted(block: Block, lang: str, protect: tuple[str, ...]) -> Block:
    """The block as posted: a run broken into short lines, any other block as it is."""
    if block.kind != "run":
        return block
    width = block.width or WIDTH[lang]
    lines = tuple(line for raw in block.lines for line in _break(raw, lang, width, protect))
    return block._replace(lines=lines)


@functools.lru_cache(maxsize=8192)
def _break(line: str, lang: str, width: float, protect: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(break_lines(line, lang, width, protect=[p for p in protect if p in line]))
