"""A post's facts as JSON, as they were when it was composed: `dump` for the store, `load` back.

Values keep their type (int, Decimal as a string, text), dates their ISO form, so a snapshot
gives the same numbers to provenance checks and the same context to card templates.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from ..model import Fact, FactSet, Source


def dump(fact_set: FactSet) -> dict[str, Any]:
    facts = {key: _fact(fact) for key, fact in fact_set.facts.items()}
    return {"origin": fact_set.origin, "subject": fact_set.subject, "source": _source(fact_set.source), "facts": facts}


def load(data: dict[str, Any]) -> FactSet:
    facts = {key: _load_fact(key, value) for key, value in data["facts"].items()}
    return FactSet(data["origin"], data["subject"], _load_source(data["source"]), facts)


def _source(source: Source) -> dict[str, Any]:
    return {"name": source.name, "date": source.date.isoformat(), "url": source.url, "publisher": source.publisher}


def _load_source(data: dict[str, Any]) -> Source:
    return Source(data["name"], dt.date.fromisoformat(data["date"]), data["url"], data["publisher"])


def _fact(fact: Fact) -> dict[str, Any]:
    value = {"decimal": str(fact.value)} if isinstance(fact.value, Decimal) else fact.value
    as_of = fact.as_of.isoformat() if fact.as_of else None
    return {
        "value": value,
        "source": _source(fact.source),
        "kind": fact.kind,
        "unit": fact.unit,
        "qualifier": fact.qualifier,
        "as_of": as_of,
        "text": fact.text,
        "items": list(fact.items),
        "line": fact.line,
        "origin": fact.origin,
    }


def _load_fact(key: str, data: dict[str, Any]) -> Fact:
    value = data["value"]
    as_of = data["as_of"]
    return Fact(
        key=key,
        value=Decimal(value["decimal"]) if isinstance(value, dict) else value,
        source=_load_source(data["source"]),
        kind=data["kind"],
        unit=data["unit"],
        qualifier=data["qualifier"],
        as_of=dt.date.fromisoformat(as_of) if as_of else None,
        text=data["text"],
        items=tuple(data["items"]),
        line=data["line"],
        origin=data["origin"],
    )
