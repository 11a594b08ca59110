"""Fact sources: files (YAML, JSON, CSV) and HTTP JSON. Every fact keeps its source, date and line."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from pathlib import Path

import requests

from ..config import FactRef, HttpFactsConfig, Project
from ..errors import FactError, Problem
from ..model import Fact, FactSet
from . import csv_loader, http, schema

LOADERS: dict[str, Callable[[Path], FactSet]] = {
    ".yaml": schema.load_document,
    ".yml": schema.load_document,
    ".json": schema.load_document,
    ".csv": csv_loader.load,
}


def load(path: Path) -> FactSet:
    """A fact file, by its extension."""
    loader = LOADERS.get(path.suffix.lower())
    if loader is None:
        expected = ", ".join(sorted(LOADERS))
        raise FactError([Problem(str(path), 0, f"unknown fact file type {path.suffix!r}; expected {expected}")])
    return loader(path)


def load_ref(ref: FactRef, project: Project, session: requests.Session | None = None) -> FactSet:
    """A job's fact reference: a project file, a public URL, or a configured HTTP source."""
    if isinstance(ref, HttpFactsConfig):
        policy = http.HttpPolicy(frozenset(ref.allow_hosts), read_timeout=ref.timeout, max_bytes=ref.max_bytes)
        return http.load(ref.url, policy, session)
    if ref.startswith(("http://", "https://")):
        return http.load(ref, http.HttpPolicy(), session)
    return load(project.path(ref))


def load_all(refs: Sequence[FactRef], project: Project) -> FactSet:
    """Every source of a job merged; the first gives subject and default source; a key given twice fails."""
    sets = [load_ref(ref, project) for ref in refs]
    merged = dict(sets[0].facts)
    for later in sets[1:]:
        for key, fact in later.facts.items():
            if key in merged:
                message = f"fact {key!r} is also defined in {merged[key].source_origin}"
                raise FactError([Problem(later.origin, fact.line, message)])
            merged[key] = fact
    subject = next((s.subject for s in sets if s.subject), None)
    if subject is None:
        raise FactError([Problem(sets[0].origin, 0, "no source names the subject (subject: {en: ..., zh: ...})")])
    return FactSet(sets[0].origin, subject, sets[0].source, merged)


def require_fresh(fact_set: FactSet, max_age: dt.timedelta, today: dt.date) -> None:
    """Refuse facts older than max_age (by their as_of date, else their source's date), naming each."""
    oldest = today - max_age
    stale = [fact for fact in fact_set.facts.values() if _dated(fact) < oldest]
    if stale:
        raise FactError([_stale(fact_set.origin, fact, oldest) for fact in stale])


def _dated(fact: Fact) -> dt.date:
    return fact.as_of or fact.source.date


def _stale(origin: str, fact: Fact, oldest: dt.date) -> Problem:
    message = f"facts.{fact.key}: dated {_dated(fact)}, older than the job allows (nothing before {oldest})"
    return Problem(origin, fact.line, message)
