"""CSV fact files: one row per fact, dotted column names for nested and per-locale fields.

    key,kind,value,qualifier,unit.en,unit.zh,as_of,text.en,text.zh,source.name.en,source.date,subject.en,subject.zh

`subject.*` and `source.*` of the first row that has them become the file's subject and default
source; a row with its own `source.*` columns keeps that source. Errors name the row's line and column.
"""

from __future__ import annotations

import csv
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from .. import yamldoc
from ..errors import FactError, Problem
from ..model import FactSet
from . import schema


def load(path: Path) -> FactSet:
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            rows = list(_rows(path, csv.DictReader(handle)))
    except OSError as exc:
        raise FactError([Problem(str(path), 0, f"cannot read: {exc.strerror}")]) from None
    data: dict[str, Any] = {"facts": {}}
    lines: dict[yamldoc.Loc, int] = {(): 1}
    for line, row in rows:
        _add_row(path, data, lines, line, row)
    return schema.build(yamldoc.Document(str(path), data, lines))


def _rows(path: Path, reader: csv.DictReader[str]) -> Any:
    if not reader.fieldnames or "key" not in reader.fieldnames:
        raise FactError([Problem(str(path), 1, "the header must name a 'key' column (one row per fact)")])
    for row in reader:
        if None in row:
            raise FactError([Problem(str(path), reader.line_num, "more cells than the header has columns")])
        yield reader.line_num, {k: v.strip() for k, v in row.items() if v and v.strip()}


def _add_row(path: Path, data: dict[str, Any], lines: dict[yamldoc.Loc, int], line: int, row: dict[str, str]) -> None:
    key = row.pop("key", "")
    if not key or key in data["facts"]:
        problem = "a row needs a key" if not key else f"key {key!r} appears twice"
        raise FactError([Problem(str(path), line, problem)])
    fact: dict[str, Any] = {}
    subject = {c: cell for c, cell in row.items() if c.split(".")[0] == "subject"}
    for column, cell in row.items():
        if column not in subject:
            _put(fact, column, _typed(column, cell))
            lines[("facts", key, *column.split("."))] = line
    if subject and "subject" not in data:
        for column, cell in subject.items():
            _put(data, column, cell)
        lines[("subject",)] = line
    if "source" in fact and "source" not in data:
        data["source"], lines[("source",)] = fact["source"], line
    data["facts"][key], lines[("facts", key)] = fact, line


def _put(target: dict[str, Any], column: str, value: Any) -> None:
    *parents, leaf = column.split(".")
    for part in parents:
        target = target.setdefault(part, {})
    target[leaf] = value


def _typed(column: str, cell: str) -> Any:
    """CSV cells are text; a value that reads as a number is one."""
    if column != "value":
        return cell
    try:
        return int(cell)
    except ValueError:
        pass
    try:
        return Decimal(cell)
    except InvalidOperation:
        return cell
