"""Fitting a post to a channel: optional blocks dropped whole, lowest `optional=N` first.

Blocks are dropped, lowest number first (the later of equals first), until the post fits; then each
dropped block is given back, highest number first, if it still fits. Every limit's count is
additive over blocks (`TextLimit.units`), so the search keeps running sums of per-block counts
(remembered across channels and posts, keyed by the piece's text) instead of recounting whole texts.
The caller counts the chosen blocks exactly once more; should that ever disagree, it searches again
with an ExactBudget.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from ..model import Block
from . import counting
from .article import CLOSE, OPEN, block_html
from .blocks import SEPARATOR, block_text
from .draft import Draft, drop_order
from .memo import Memo


@Memo
def linkedin_text(block: Block) -> str:
    return counting.linkedin_escape(block_text(block), keep_hashtags=True)


class Budget(Protocol):
    """The blocks kept so far, and whether they fit; `fit` adds and removes blocks by index."""

    def fits(self) -> bool: ...
    def keep(self, index: int, kept: bool) -> None: ...


@dataclass(frozen=True, eq=False)  # one object per channel type (measures() is cached): hashed by identity
class Measure:
    """One limit over a field made of per-block pieces, `separator` between pieces, `base` around them.

    `weigh(piece)` is a piece's share of the count (its units and one separator; nothing for an empty
    piece), remembered across channels and posts, and `room` the most those shares may add up to.
    """

    limit: counting.TextLimit
    piece: Memo[Block, str]
    separator: str = SEPARATOR
    base: str = ""
    weigh: Memo[str, int] = field(init=False, repr=False)
    room: int = field(init=False, repr=False)

    def __post_init__(self) -> None:
        units, scale = self.limit.units or self.limit.counter, self.limit.scale
        gap = units(self.separator)
        object.__setattr__(self, "weigh", Memo(lambda piece: units(piece) + gap if piece else 0, 16384))
        object.__setattr__(self, "room", self.limit.limit * scale - units(self.base) + gap)

    def binds(self, draft: Draft) -> bool:
        """Whether the limit may bind: False when even `per_char` units for every code point fit."""
        per_char, limit = self.limit.per_char, self.limit
        if per_char is None:
            return True
        most = draft.length(self.piece, len(self.separator)) + len(self.base)
        return per_char * most > limit.limit * limit.scale

    def weights(self, draft: Draft) -> list[int]:
        return self.weigh.many(draft.pieces(self.piece))


def dropped(draft: Draft, measures: tuple[Measure, ...]) -> set[int] | None:
    """The blocks a channel drops, by fit()'s rule on per-block weights; None when dropping every
    optional block is not enough. Limits that cannot bind (Measure.binds) are not weighed."""
    over = []
    for measure in measures:
        if measure.binds(draft):
            weights = measure.weights(draft)
            over.append((weights, sum(weights) - measure.room))
    return search(over, draft.order)


def search(over: list[tuple[list[int], int]], order: Sequence[int]) -> set[int] | None:
    """fit()'s search on plain sums, without a call per step: `over` holds each limit's per-block
    weights and how far over it the kept blocks are.

    Drops blocks in `order` until every limit is met, then gives back, latest dropped first except
    the last, each block that still fits; None when dropping them all is not enough. Weights are
    never negative, so a limit met now is met whatever is dropped (only the limits exceeded take
    part), and every excess falls as blocks go: all are met from the step where the last of them is.
    """
    binding = [(weights, excess) for weights, excess in over if excess > 0]
    if not binding:
        return set()
    if len(binding) == 1:  # the usual case: one limit, so plain integers
        return _drop_search(*binding[0], order)
    return _drop_search_many([w for w, _ in binding], [excess for _, excess in binding], order)


def _drop_search(weights: list[int], excess: int, order: Sequence[int]) -> set[int] | None:
    """search() for a single limit: `excess` is how far over it the kept blocks are."""
    drops = []
    for index in order:
        drops.append(index)
        excess -= weights[index]
        if excess <= 0:
            break
    else:
        return None  # every optional block dropped, and still over
    gone = set(drops)
    for index in reversed(drops[:-1]):
        if excess + weights[index] <= 0:
            excess += weights[index]
            gone.discard(index)
    return gone


def _drop_search_many(weights: list[list[int]], excess: list[int], order: Sequence[int]) -> set[int] | None:
    """search() for several limits at once: a block is given back only if every limit allows it."""
    steps = [_steps_to_fit(w, over, order) for w, over in zip(weights, excess, strict=True)]
    if min(steps) < 0:
        return None
    drops = order[: max(steps)]
    excess = [over - sum(w[i] for i in drops) for over, w in zip(excess, weights, strict=True)]
    gone = set(drops)
    for index in reversed(drops[:-1]):
        back = [over + w[index] for over, w in zip(excess, weights, strict=True)]
        if max(back) <= 0:
            excess = back
            gone.discard(index)
    return gone


def _steps_to_fit(weights: list[int], excess: int, order: Sequence[int]) -> int:
    """How many blocks of `order` must go for `excess` to reach 0; -1 when all of them are not enough."""
    for step, index in enumerate(order, start=1):
        excess -= weights[index]
        if excess <= 0:
            return step
    return 0 if excess <= 0 else -1


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


def fit(blocks: tuple[Block, ...], budget: Budget) -> tuple[Block, ...] | None:
    """The kept blocks, in their order, or None when even dropping every optional block is not enough."""
    steps = list(drop_order(blocks))
    dropped: list[int] = []
    while not budget.fits():
        if not steps:
            return None
        dropped.append(steps.pop(0))
        budget.keep(dropped[-1], kept=False)
    gone = set(dropped)
    for index in reversed(dropped[:-1]):
        budget.keep(index, kept=True)
        if budget.fits():
            gone.discard(index)
        else:
            budget.keep(index, kept=False)
    return tuple(b for i, b in enumerate(blocks) if i not in gone)
