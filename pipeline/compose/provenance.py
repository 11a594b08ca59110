"""Number provenance: every number in a composed text must come from a fact (or a vouched literal)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from ..errors import ComposeError, Problem
from ..model import Block, Fact, FactSet, Source
from ..templating.state import PostState, number_tokens


def fact_numbers(fact_set: FactSet) -> set[str]:
    """The numbers the facts themselves contain: values, dates, and numbers inside their texts."""
    numbers: set[str] = set()
    for text in _texts(fact_set):
        numbers |= number_tokens(text)
    return numbers


def _texts(fact_set: FactSet) -> Iterable[str]:
    yield from _source_texts(fact_set.source)
    for fact in fact_set.facts.values():
        yield from _fact_texts(fact)


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
    problems = [
        Problem(template, 0, f"the number {number} in {line!r} comes from no fact (mark it with literal() if intended)")
        for block in blocks
        for line in block.lines
        for number in state.unsupported(line)
    ]
    if problems:
        raise ComposeError(problems)
