"""YAML that remembers where things were, and pydantic errors turned into `file:line: key: problem`.

Config and fact files are both validated by pydantic models over plain data; this module keeps the
line of every key and item so that each validation error can point at the line a person must fix.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from .errors import Problem

Loc = tuple[str | int, ...]
M = TypeVar("M", bound=BaseModel)


class Strict(BaseModel):
    """Base for every file schema: frozen, and unknown keys are errors (a typo must not pass)."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


def expected_keys(model: type[BaseModel], loc: Loc) -> list[str]:
    """The keys the schema allows in the mapping at `loc` (empty if that is not a model)."""
    node: Any = model
    for part in loc:
        node = _child(node, part)
    return sorted(f.alias or name for name, f in node.model_fields.items()) if _is_model(node) else []


def _child(node: Any, part: str | int) -> Any:
    if _is_model(node):
        field = node.model_fields.get(part)
        return field.annotation if field else None
    args = [a for a in typing.get_args(node) if a is not type(None) and a is not Ellipsis]
    models = [a for a in args if _is_model(a)]
    if models and typing.get_origin(node) in (typing.Union, types.UnionType):
        return models[0]
    return args[-1] if args else None


def _is_model(node: Any) -> bool:
    return isinstance(node, type) and issubclass(node, BaseModel)


class Document:
    """Parsed YAML plus the 1-based line of every key path in it."""

    def __init__(self, origin: str, data: Any, lines: dict[Loc, int]) -> None:
        self.origin, self.data, self.lines = origin, data, lines

    def line_of(self, loc: Loc) -> int:
        """The line of the deepest part of `loc` that exists in the file."""
        for end in range(len(loc), -1, -1):
            if loc[:end] in self.lines:
                return self.lines[loc[:end]]
        return 1

    def validate(self, model: type[M], problems_into: type[Exception]) -> M:
        try:
            return model.model_validate(self.data)
        except ValidationError as exc:
            problems = sorted(self.problems(model, exc.errors(include_url=False)), key=lambda p: p.line)
            raise problems_into(problems) from None

    def problems(self, model: type[BaseModel], errors: Iterable[Any]) -> Iterable[Problem]:
        for error in errors:
            loc: Loc = tuple(p for p in error["loc"] if not _is_union_tag(p))
            yield Problem(self.origin, self.line_of(loc), f"{_dotted(loc)}: {_message(model, loc, error)}")


def _message(model: type[BaseModel], loc: Loc, error: Any) -> str:
    if error["type"] == "missing":
        return "this key is required but missing"
    if error["type"] != "extra_forbidden":
        return str(error["msg"]).removeprefix("Value error, ")
    expected = expected_keys(model, loc[:-1])
    close = difflib.get_close_matches(str(loc[-1]), expected, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"unknown key{hint}; expected one of: {', '.join(expected)}"


def load(path: Path, problems_into: type[Exception]) -> Document:
    """Read and parse a YAML file; a syntax error becomes a located problem."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise problems_into([Problem(str(path), 0, f"cannot read: {exc.strerror}")]) from None
    return parse(text, str(path), problems_into)


def parse(text: str, origin: str, problems_into: type[Exception]) -> Document:
    """Parse YAML (or JSON, which this parser reads too) named `origin` in error messages."""
    try:
        loader = yaml.SafeLoader(text)
        try:
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else 0
        raise problems_into([Problem(origin, line, f"invalid YAML: {exc.problem}")]) from None
    lines: dict[Loc, int] = {}
    duplicates: list[Problem] = []
    if node is not None:
        _collect(node, (), lines, duplicates, origin)
    if duplicates:
        raise problems_into(duplicates)
    return Document(origin, data, lines)


def _collect(node: yaml.Node, loc: Loc, lines: dict[Loc, int], duplicates: list[Problem], file: str) -> None:
    """Record the line of every key and item; a key given twice is a problem (YAML keeps the last)."""
    lines[loc] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            child = (*loc, key.value)
            if child in lines:
                message = f"{_dotted(child)}: this key is given twice (first on line {lines[child]})"
                duplicates.append(Problem(file, key.start_mark.line + 1, message))
            _collect(value, child, lines, duplicates, file)
            lines[child] = key.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _collect(item, (*loc, index), lines, duplicates, file)


def _is_union_tag(part: str | int) -> bool:
    """Pydantic puts the union member's name in error locations; a person never wrote it."""
    return isinstance(part, str) and ("[" in part or part in {"str", "int", "float", "list", "dict"})


def _dotted(loc: Loc) -> str:
    return ".".join(str(p) for p in loc) or "(document)"
