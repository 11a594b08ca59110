"""The one Jinja2 environment every template runs in: sandboxed, strict, with number filters.

Posts and cards share it, so a filter written for one works in the other. The project's
`templates/` folder is searched first, then the templates that ship inside the package.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Mapping
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from types import TracebackType
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from .errors import ComposeError, Problem
from .model import Fact

BUILTIN_TEMPLATES = Path(__file__).parent / "builtin_templates"
ZH_DIGITS = "零一二三四五六七八九十"
MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]


def _lang(ctx: Any) -> str:
    return str(ctx.get("lang", "en"))


def _value(fact_or_number: Fact | int | Decimal) -> int | Decimal:
    value = fact_or_number.value if isinstance(fact_or_number, Fact) else fact_or_number
    if isinstance(value, str):
        raise ValueError(f"{value!r} is text, not a number")
    return value


def number(value: Fact | int | Decimal) -> str:
    """Digits grouped by thousands: 12345 → 12,345."""
    return f"{_value(value):,}"


@jinja2.pass_context
def ordinal(ctx: Any, value: Fact | int) -> str:
    """16 → "16th" in English, "第16" in Chinese."""
    n = int(_value(value))
    if _lang(ctx) == "zh":
        return f"第{n}"
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


@jinja2.pass_context
def rank(ctx: Any, value: Fact | int) -> str:
    """1 → "No.1" in English, "第一" in Chinese (numerals up to ten, digits beyond)."""
    n = int(_value(value))
    if _lang(ctx) == "zh":
        return f"第{ZH_DIGITS[n]}" if 0 < n <= 10 else f"第{n}"
    return f"No.{n}"


@jinja2.pass_context
def approx(ctx: Any, fact: Fact) -> str:
    """A figure with its qualifier: "more than 220" / "超过220"."""
    digits = number(fact)
    if fact.qualifier == "more_than":
        return f"超过{digits}" if _lang(ctx) == "zh" else f"more than {digits}"
    return digits


@jinja2.pass_context
def month(ctx: Any, day: dt.date) -> str:
    """A month as each locale writes it: "December 2022" / "2022年12月"."""
    return f"{day.year}年{day.month}月" if _lang(ctx) == "zh" else f"{MONTHS[day.month - 1]} {day.year}"


@jinja2.pass_context
def localized(ctx: Any, texts: Mapping[str, str]) -> str:
    """The viewer's locale out of a per-locale mapping: {{ fact.unit | t }}."""
    lang = _lang(ctx)
    if lang not in texts:
        raise ValueError(f"no {lang!r} text in {dict(texts)!r}")
    return texts[lang]


@lru_cache(maxsize=8)
def environment(project_templates: Path) -> SandboxedEnvironment:
    loader = jinja2.ChoiceLoader(
        [jinja2.FileSystemLoader(project_templates), jinja2.FileSystemLoader(BUILTIN_TEMPLATES)]
    )
    env = SandboxedEnvironment(
        loader=loader, undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True
    )
    env.filters.update(number=number, ordinal=ordinal, rank=rank, approx=approx, month=month, t=localized)
    return env


def render(env: jinja2.Environment, name: str, context: Mapping[str, Any]) -> str:
    """Render a named template; any failure becomes a ComposeError naming template and line."""
    try:
        return env.get_template(name).render(context)
    except jinja2.TemplateSyntaxError as exc:
        raise ComposeError([Problem(exc.filename or name, exc.lineno, exc.message or "syntax error")]) from exc
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
