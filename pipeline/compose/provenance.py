"""Number provenance: every number in a composed text must come from a fact (or a vouched literal)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from ..errors import ComposeError, Problem
from ..model import Block, Fact, FactSet, Source
from ..templating.state import PostState, number_tokens
from .memo import Memo


def fact_numbers(fact_set: FactSet) -> set[str]:
    """The numbers the facts themselves contain: values, dates, and numbers inside their texts."""
    numbers = set(_numbers(_source_texts(fact_set.source)))
    for fact in fact_set.facts.values():
        numbers |= _fact_numbers(fact)
    return numbers


def _fact_numbers(fact: Fact) -> frozenset[str]:
    """One fact's numbers, remembered for as long as the (immutable) fact object lives."""
    found = _BY_FACT.get(id(fact))
    if found is None or found[0] is not fact:
        found = _BY_FACT[id(fact)] = (fact, _numbers(_fact_texts(fact)))
        if len(_BY_FACT) > 4096:
            _BY_FACT.pop(next(iter(_BY_FACT)), None)
    return found[1]


_BY_FACT: dict[int, tuple[Fact, frozenset[str]]] = {}


@Memo
def _block_numbers(block: Block) -> frozenset[str]:
    """The numbers in a block's lines (blocks recur from post to post: see blocks.parse)."""
    return _numbers(block.lines)


def _numbers(texts: Iterable[str]) -> frozenset[str]:
    return frozenset().union(*map(number_tokens, texts))


def _fact_texts(fact: Fact) -> Iterable[str]:
    yield str(fact.value)
    yield from _date_texts(fact.as_of)
    yield from _source_texts(fact.source)
    for texts in (fact.unit, fact.text, *fact.items):
        yield from texts.values()


def _source_texts(source: Source) -> Iterable[str]:
    yield from source.name.values()
    yield from source.publisher.values()
    yield from _date_texts(source.date)


def _date_texts(day: dt.date | None) -> Iterable[str]:
    if day is not None:
        yield day.isoformat()
        yield f"{day.month} {day.day}"


def check(blocks: tuple[Block, ...], state: PostState, template: str) -> None:
    """Fail naming each number that neither the facts nor a filter nor a literal vouches for."""
    if state.numbers.issuperset(frozenset().union(*_block_numbers.many(blocks))):
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
