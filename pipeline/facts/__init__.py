"""Fact sources: `load(path) -> FactSet`. Every fact keeps its source, its date and its line."""

from __future__ import annotations

from pathlib import Path

from ..errors import FactError, Problem
from ..model import FactSet
from . import schema

LOADERS = {".yaml": schema.load_document, ".yml": schema.load_document, ".json": schema.load_document}


def load(path: Path) -> FactSet:
    loader = LOADERS.get(path.suffix.lower())
    if loader is None:
        expected = ", ".join(sorted(LOADERS))
        raise FactError([Problem(str(path), 0, f"unknown fact file type {path.suffix!r}; expected {expected}")])
    return loader(path)
