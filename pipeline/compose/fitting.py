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
        weights = [_weight(self, block) for block in blocks]
        return weights, self.limit.limit * self.limit.scale - _units(units, self.base) + gap


@functools.lru_cache(maxsize=65536)
def _weight(measure: Measure, block: Block) -> int:
    """A block's share of a measure's count: its piece and one separator (nothing for an empty piece)."""
    units = measure.limit.units or measure.limit.counter
    piece = measure.piece(block)
    return _units(units, piece) + _units(units, measure.separator) if piece else 0


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

    def dropped(self, order: list[int]) -> set[int] | None:
        """fit()'s search on plain sums: the same blocks dropped, without a call per step.

        Drops blocks in `order` until every total is within its room, then gives back, latest dropped
        first except the last, each block that still fits; None when dropping them all is not enough.
        """
        if not self.weights:
            return set()
        columns = list(zip(*self.weights, strict=True))  # per block: its weight in each measure
        totals, room = list(self.totals), self.room
        drops: list[int] = []
        for index in order:
            if all(total <= limit for total, limit in zip(totals, room, strict=True)):
                break
            drops.append(index)
            totals = [total - weight for total, weight in zip(totals, columns[index], strict=True)]
        else:
            if not all(total <= limit for total, limit in zip(totals, room, strict=True)):
                return None
        gone = set(drops)
        for index in reversed(drops[:-1]):
            back = [total + weight for total, weight in zip(totals, columns[index], strict=True)]
            if all(total <= limit for total, limit in zip(back, room, strict=True)):
                totals = back
                gone.discard(index)
        return gone


class ExactBudget:
    """Every candidate counted whole, exactly: the reference the quick budget is checked against."""

    def __init__(self, blocks: tuple[Block, ...], problems: Callable[[tuple[Block, ...]], list[str]]) -> None:
        self.blocks, self.problems, self.kept = blocks, problems, set(range(len(blocks)))

    def fits(self) -> bool:
        return not self.problems(tuple(self.blocks[i] for i in sorted(self.kept)))

    def keep(self, index: int, kept: bool) -> None:
        (self.kept.add if kept else self.kept.discard)(index)


@functools.lru_cache(maxsize=256)
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


@functools.lru_cache(maxsize=1024)
def drop_order(blocks: tuple[Block, ...]) -> tuple[int, ...]:
    """The optional blocks' indexes, lowest `optional=N` first and, among equals, the later first."""
    return tuple(
        sorted((i for i, b in enumerate(blocks) if b.optional is not None), key=lambda i: (blocks[i].optional, -i))
    )


def fit(blocks: tuple[Block, ...], budget: Budget) -> tuple[Block, ...] | None:
    """The kept blocks, in their order, or None when even dropping every optional block is not enough."""
    order = list(drop_order(blocks))
    if isinstance(budget, CountBudget):
        gone = budget.dropped(order)
        return None if gone is None else tuple(b for i, b in enumerate(blocks) if i not in gone)
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
