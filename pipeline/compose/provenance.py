"""Number provenance: every number in a composed text must come from a fact (or a vouched literal)."""

from __future__ import annotations

import datetime as dt
import functools
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import TypeVar

from ..errors import ComposeError, Problem
from ..model import Block, Fact, FactSet, Source
from ..templating.state import PostState, number_tokens
from .memo import Memo


def fact_numbers(fact_set: FactSet) -> set[str]:
    """The numbers the facts themselves contain: values, dates, and numbers inside their texts."""
    numbers = set(_remembered(fact_set.source, _source_numbers))
    for fact in fact_set.facts.values():
        numbers |= _remembered(fact, _fact_numbers)
    return numbers


T = TypeVar("T", Fact, Source)


def _remembered(value: T, numbers: Callable[[T], frozenset[str]]) -> frozenset[str]:
    """numbers(value), remembered for as long as the (immutable) value object lives: a post's facts
    and source are mostly the very objects of the post before (facts hold dicts: they do not hash)."""
    found = _BY_ID.get(id(value))
    if found is None or found[0] is not value:
        found = _BY_ID[id(value)] = (value, numbers(value))
        if len(_BY_ID) > 4096:
            _BY_ID.popitem(last=False)  # the oldest, at once (a dict's first key may take a scan to find)
    return found[1]


_BY_ID: OrderedDict[int, tuple[Fact | Source, frozenset[str]]] = OrderedDict()


def _fact_numbers(fact: Fact) -> frozenset[str]:
    texts = [str(fact.value), *fact.unit.values(), *fact.text.values()]
    for item in fact.items:
        texts += item.values()
    return _numbers(texts) | _date_numbers(fact.as_of) | _remembered(fact.source, _source_numbers)


def _source_numbers(source: Source) -> frozenset[str]:
    return _numbers([*source.name.values(), *source.publisher.values()]) | _date_numbers(source.date)


@functools.lru_cache(maxsize=1024)
def _date_numbers(day: dt.date | None) -> frozenset[str]:
    """The numbers of a date as a text may print it: ISO, and month and day."""
    return frozenset() if day is None else _numbers([day.isoformat(), f"{day.month} {day.day}"])


@Memo
def _block_numbers(block: Block) -> frozenset[str]:
    """The numbers in a block's lines (blocks recur from post to post: see blocks.parse), read in one
    pass: a number never spans a line break."""
    return number_tokens("\n".join(block.lines))


def _numbers(texts: Iterable[str]) -> frozenset[str]:
    return frozenset().union(*map(number_tokens, texts))


def check(blocks: tuple[Block, ...], state: PostState, template: str) -> None:
    """Fail naming each number that neither the facts nor a filter nor a literal vouches for."""
    if all(map(state.numbers.issuperset, _block_numbers.many(blocks))):
        return
    problems = [
        Problem(template, 0, f"the number {number} in {line!r} comes from no fact (mark it with literal() if intended)")
        for block in blocks
        for line in block.lines
        if not number_tokens(line) <= state.numbers
        for number in state.unsupported(line)
    ]
    if problems:
        raise ComposeError(problems)
