"""The one Jinja2 environment every template runs in: sandboxed, strict, with number filters.

Posts and cards share it, so a filter written for one works in the other. The project's
`templates/` folder is searched first, then the templates that ship inside the package.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Mapping, MutableMapping
from functools import lru_cache
from pathlib import Path
from types import TracebackType
from typing import Any

import jinja2
from jinja2.runtime import LoopContext
from jinja2.sandbox import SandboxedEnvironment
from jinja2.utils import missing

from ..errors import ComposeError, Problem
from ..model import Fact, FactSet, Source
from . import filters

BUILTIN_TEMPLATES = Path(__file__).parent.parent / "builtin_templates"


class Sandbox(SandboxedEnvironment):
    """Jinja2's sandbox, answering at once for the fact model's data classes (and `loop`).

    Templates read facts, sources and dates over and over; their public attributes are data, so
    the answer is "safe" for any name without a leading underscore, which the default check reaches
    only after testing the value against every kind of internal object.
    """

    def getattr(self, obj: Any, attribute: str) -> Any:
        """`facts.sister_cities`, `unit.en`: a dict's own key without first failing an attribute lookup
        (the answer Jinja gives too, unless the key shadows a dict method, which still wins)."""
        kind = type(obj)
        if kind is dict and attribute not in DICT_METHODS:
            found = obj.get(attribute, missing)
            if found is not missing:
                return found
        elif kind in DATA and attribute[:1] != "_":
            try:
                return getattr(obj, attribute)  # data, never a str.format the sandbox must wrap
            except AttributeError:
                pass
        return super().getattr(obj, attribute)

    def make_globals(self, d: MutableMapping[str, Any] | None) -> MutableMapping[str, Any]:
        """A template's globals as a plain dict: Jinja's ChainMap over the environment's costs a Python
        call per global, twice on every render. environment() sets the globals before any template
        loads, and nothing changes them after."""
        return {**self.globals, **(d or {})}

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if type(obj) in DATA:
            return not attr.startswith("_")
        return bool(super().is_safe_attribute(obj, attr, value))


# Types whose every public attribute a template may read: the fact model's data, dates, and Jinja's
# own `loop` (its public attributes are what the default check allows too, after testing each).
DATA = frozenset({Fact, FactSet, Source, dt.date, LoopContext})
DICT_METHODS = frozenset(dir(dict))


@lru_cache(maxsize=8)
def environment(project_templates: Path) -> SandboxedEnvironment:
    loader = jinja2.ChoiceLoader(
        [jinja2.FileSystemLoader(project_templates), jinja2.FileSystemLoader(BUILTIN_TEMPLATES)]
    )
    env = Sandbox(loader=loader, undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True)
    env.filters.update(filters.FILTERS)
    env.globals.update(filters.GLOBALS)
    return env


def render(env: jinja2.Environment, name: str, context: Mapping[str, Any]) -> str:
    """Render a named template; any failure becomes a ComposeError naming template and line."""
    try:
        return env.get_template(name).render(context)
    except jinja2.TemplateSyntaxError as exc:
        raise ComposeError([Problem(exc.name or name, exc.lineno, exc.message or "syntax error")]) from exc
    except jinja2.TemplateNotFound as exc:
        raise ComposeError([Problem(name, 0, "template not found")]) from exc
    except Exception as exc:  # undefined names, filter errors, sandbox refusals
        raise ComposeError([Problem(name, _template_line(env, name, sys.exc_info()[2]), str(exc))]) from exc


def render_string(env: jinja2.Environment, source: str, context: Mapping[str, Any], origin: Problem) -> str:
    """Render an inline expression (a card field); errors point at the field's own file and line."""
    try:
        return env.from_string(source).render(context)
    except Exception as exc:
        raise ComposeError([Problem(origin.file, origin.line, f"{origin.message}: {exc}")]) from exc


def _template_line(env: jinja2.Environment, name: str, tb: TracebackType | None) -> int:
    """The line, in the template's own file, where rendering stopped (Jinja rewrites frames)."""
    filename = env.get_template(name).filename or ""
    line = 0
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == filename:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line
