"""The fact file schema. A fact file looks like this (YAML, or the same shape in JSON):

    subject: {en: Shenyang, zh: 沈阳}
    source: {name: {en: ..., zh: ...}, date: 2023-02-16, url: https://...}   # default for every fact
    facts:
      sister_cities:
        kind: count                # count | rank | quantity | text | list
        value: 23                  # an integer or decimal for count, rank and quantity
        qualifier: more_than       # optional: more_than | at_least | about
        unit: {en: sister cities, zh: 个国际友好城市}
        as_of: 2022-12-31          # optional: the date the figure describes
        source: {...}              # optional: overrides the file's source
        text: {en: ..., zh: ...}   # optional: how each locale states the fact
        items: [{en: ..., zh: ...}]  # for kind: list

A localized field may be a plain string, which then stands for every locale.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, BeforeValidator, Field, model_validator

from .. import yamldoc
from ..errors import FactError
from ..model import LANGS, Fact, FactSet, Source


def _localized(value: object) -> object:
    return {lang: value for lang in LANGS} if isinstance(value, str) else value


def _known_locales(value: dict[str, str]) -> dict[str, str]:
    unknown = set(value) - set(LANGS)
    if unknown:
        raise ValueError(f"unknown locale {', '.join(sorted(unknown))}; expected {' or '.join(LANGS)}")
    return value


Localized = Annotated[dict[str, str], BeforeValidator(_localized), AfterValidator(_known_locales)]
NUMERIC_KINDS = {"count", "rank", "quantity"}


class SourceSchema(yamldoc.Strict):
    name: Localized
    date: dt.date
    url: str | None = None
    publisher: Localized = Field(default_factory=dict)

    def build(self) -> Source:
        return Source(dict(self.name), self.date, self.url, dict(self.publisher))


class FactSchema(yamldoc.Strict):
    kind: Literal["count", "rank", "quantity", "text", "list"]
    value: int | Decimal | str | None = None
    qualifier: Literal["more_than", "at_least", "about"] | None = None
    unit: Localized = Field(default_factory=dict)
    as_of: dt.date | None = None
    source: SourceSchema | None = None
    text: Localized = Field(default_factory=dict)
    items: tuple[Localized, ...] = ()

    @model_validator(mode="after")
    def _value_fits_kind(self) -> FactSchema:
        if self.kind in NUMERIC_KINDS and (self.value is None or isinstance(self.value, str)):
            raise ValueError(f"a {self.kind} needs a numeric value (for example 23)")
        if self.kind == "list" and not self.items:
            raise ValueError("a list needs items")
        if self.kind in NUMERIC_KINDS and isinstance(self.value, int | Decimal) and self.value < 0:
            raise ValueError(f"a {self.kind} cannot be negative")
        return self


class FactFile(yamldoc.Strict):
    subject: Localized = Field(default_factory=dict)
    source: SourceSchema
    facts: dict[str, FactSchema]


def load_document(path: Path) -> FactSet:
    return build(yamldoc.load(path, FactError))


def build(document: yamldoc.Document) -> FactSet:
    """Validate a parsed fact document (from any format) into a FactSet."""
    parsed = document.validate(FactFile, FactError)
    default = parsed.source.build()
    facts = {
        key: _fact(key, fact, default, document.origin, document.line_of(("facts", key)))
        for key, fact in parsed.facts.items()
    }
    return FactSet(origin=document.origin, subject=dict(parsed.subject), source=default, facts=facts)


def _fact(key: str, schema: FactSchema, default: Source, origin: str, line: int) -> Fact:
    return Fact(
        key=key,
        value=schema.value if schema.value is not None else "",
        source=schema.source.build() if schema.source else default,
        kind=schema.kind,
        unit=dict(schema.unit),
        qualifier=schema.qualifier,
        as_of=schema.as_of,
        text=dict(schema.text),
        items=tuple(dict(item) for item in schema.items),
        line=line,
        origin=origin,
    )
