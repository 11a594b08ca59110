"""Fitting a post to a channel: optional blocks dropped whole, lowest `optional=N` first.

Blocks are dropped, lowest number first (the later of equals first), until the post fits; then each
dropped block is given back, highest number first, if it still fits. Every limit's count is
additive over blocks (`TextLimit.units`), so the search keeps running sums of per-block counts
(cached across channels and posts) instead of recounting whole texts. The caller counts the chosen
blocks exactly once more; should that ever disagree, it searches again with an ExactBudget.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from ..model import Block
from . import counting
from .article import CLOSE, OPEN, block_html
from .blocks import SEPARATOR, block_text


@functools.lru_cache(maxsize=8192)
def linkedin_text(block: Block) -> str:
    return counting.linkedin_escape(block_text(block), keep_hashtags=True)


@functools.lru_cache(maxsize=32768)
def _units(units: Callable[[str], int], text: str) -> int:
    return units(text)


class Budget(Protocol):
    """The blocks kept so far, and whether they fit; `fit` adds and removes blocks by index."""

    def fits(self) -> bool: ...
    def keep(self, index: int, kept: bool) -> None: ...


@dataclass(frozen=True)
class Measure:
    """One limit over a field made of per-block pieces, `separator` between pieces, `base` around them."""

    limit: counting.TextLimit
    piece: Callable[[Block], str]
    separator: str = SEPARATOR
    base: str = ""

    def weights(self, blocks: tuple[Block, ...]) -> tuple[list[int], int]:
        """Each block's share of the count (its piece and one separator), and the room for those shares."""
        units = self.limit.units or self.limit.counter
        gap = _units(units, self.separator)
        weights = [_units(units, piece) + gap if (piece := self.piece(b)) else 0 for b in blocks]
        return weights, self.limit.limit * self.limit.scale - _units(units, self.base) + gap


class CountBudget:
    """Counts kept as running sums of per-block weights: adding or removing a block is arithmetic."""

    def __init__(self, blocks: tuple[Block, ...], measures: tuple[Measure, ...]) -> None:
        found = [measure.weights(blocks) for measure in measures]
        self.weights = [weights for weights, _ in found]
        self.room = [room for _, room in found]
        self.totals = [sum(weights) for weights in self.weights]

    def fits(self) -> bool:
        return all(total <= room for total, room in zip(self.totals, self.room, strict=True))

    def keep(self, index: int, kept: bool) -> None:
        sign = 1 if kept else -1
        self.totals = [total + sign * weights[index] for total, weights in zip(self.totals, self.weights, strict=True)]


class ExactBudget:
    """Every candidate counted whole, exactly: the reference the quick budget is checked against."""

    def __init__(self, blocks: tuple[Block, ...], problems: Callable[[tuple[Block, ...]], list[str]]) -> None:
        self.blocks, self.problems, self.kept = blocks, problems, set(range(len(blocks)))

    def fits(self) -> bool:
        return not self.problems(tuple(self.blocks[i] for i in sorted(self.kept)))

    def keep(self, index: int, kept: bool) -> None:
        (self.kept.add if kept else self.kept.discard)(index)


def measures(kind: str, field: str | None, link: str | None) -> tuple[Measure, ...]:
    """The additive measures of a channel type whose text goes in `field` (WeChat: the HTML content)."""
    limits = counting.LIMITS.get(kind, ())
    tail = f"{SEPARATOR}{link}" if link else ""
    if kind == "wechat":
        content = next(limit for limit in limits if limit.field == "content")
        return (Measure(content, block_html, "", OPEN + CLOSE),)
    if kind == "linkedin":
        piece, tail = linkedin_text, counting.linkedin_escape(tail, keep_hashtags=True)
    else:
        piece = block_text
    return tuple(Measure(limit, piece, base=tail) for limit in limits if limit.field == field)


def fit(blocks: tuple[Block, ...], budget: Budget) -> tuple[Block, ...] | None:
    """The kept blocks, in their order, or None when even dropping every optional block is not enough."""
    order = sorted((i for i, b in enumerate(blocks) if b.optional is not None), key=lambda i: (blocks[i].optional, -i))
    dropped: list[int] = []
    while not budget.fits():
        if not order:
            return None
        dropped.append(order.pop(0))
        budget.keep(dropped[-1], kept=False)
    gone = set(dropped)
    for index in reversed(dropped[:-1]):
        budget.keep(index, kept=True)
        if budget.fits():
            gone.discard(index)
        else:
            budget.keep(index, kept=False)
    return tuple(b for i, b in enumerate(blocks) if i not in gone)
