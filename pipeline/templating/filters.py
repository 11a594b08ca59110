"""Filters for facts in templates, per locale (the context's `lang`): numbers, ranks, dates.

{{ f.sister_cities | number }}        23            23
{{ 12345678 | compact }}               12.3M         1234.6万
{{ f.impact_rank | ordinal }}          16th          第16
{{ f.northeast_rank | rank }}          No.1          第一
{{ f.trade_partners | approx }}        more than 220 超过220
{{ f.trade_partners | approx("plus") }} 220+         220+
{{ f.trade_partners.as_of | month }}   December 2022 2022年12月
{{ source.date | date }}               February 16, 2023  2023年2月16日
{{ f.sister_cities.unit | t }}         sister cities 个国际友好城市
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import jinja2
from jinja2.utils import missing

from ..model import Fact
from .locales import format_compact_decimal, format_date, format_decimal
from .state import PostState

BABEL_LOCALES = {"en": "en_US", "zh": "zh_Hans_CN"}
ZH_NUMERALS = "零一二三四五六七八九十"
QUALIFIERS = {
    "more_than": {"en": "more than {n}", "zh": "超过{n}"},
    "at_least": {"en": "at least {n}", "zh": "至少{n}"},
    "about": {"en": "about {n}", "zh": "约{n}"},
}


def lang(ctx: Any) -> str:
    """The context's `lang`, "en" by default: what ctx.get("lang") answers, without its calls (a post
    asks about sixty times)."""
    found = ctx.vars.get("lang", missing)
    found = ctx.parent.get("lang", "en") if found is missing else found
    return found if type(found) is str else str(found)


def numeric(value: Fact | int | float | Decimal) -> int | float | Decimal:
    raw = value.value if isinstance(value, Fact) else value
    if isinstance(raw, str | bool):
        raise ValueError(f"{raw!r} is not a number")
    return raw


def vouch(ctx: Any, text: str) -> str:
    """Numbers a filter prints are numbers the post may print."""
    state = ctx.vars.get("_post") or ctx.parent.get("_post")  # ctx.get(), as lang() does it
    return state.allow(text) if isinstance(state, PostState) else text


@jinja2.pass_context
def number(ctx: Any, value: Fact | int | Decimal) -> str:
    return vouch(ctx, format_decimal(numeric(value), BABEL_LOCALES[lang(ctx)]))


@jinja2.pass_context
def compact(ctx: Any, value: Fact | int | Decimal) -> str:
    formatted = format_compact_decimal(numeric(value), BABEL_LOCALES[lang(ctx)])
    return vouch(ctx, formatted)


@jinja2.pass_context
def ordinal(ctx: Any, value: Fact | int) -> str:
    n = int(numeric(value))
    if lang(ctx) == "zh":
        return vouch(ctx, f"第{n}")
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return vouch(ctx, f"{n}{suffix}")


@jinja2.pass_context
def rank(ctx: Any, value: Fact | int) -> str:
    n = int(numeric(value))
    if lang(ctx) == "zh":
        return vouch(ctx, f"第{ZH_NUMERALS[n]}" if 0 < n <= 10 else f"第{n}")
    return vouch(ctx, f"No.{n}")


@jinja2.pass_context
def approx(ctx: Any, fact: Fact, style: str = "words") -> str:
    digits = number(ctx, fact)
    if style == "plus":
        return f"{digits}+"
    if style != "words":
        raise ValueError(f"approx style {style!r}: expected 'words' or 'plus'")
    pattern = QUALIFIERS.get(fact.qualifier or "", {}).get(lang(ctx), "{n}")
    return pattern.format(n=digits)


@jinja2.pass_context
def month(ctx: Any, day: dt.date) -> str:
    pattern = "y年M月" if lang(ctx) == "zh" else "MMMM y"
    return vouch(ctx, format_date(day, pattern, BABEL_LOCALES[lang(ctx)]))


@jinja2.pass_context
def date(ctx: Any, day: dt.date, form: str = "long") -> str:
    return vouch(ctx, format_date(day, form, BABEL_LOCALES[lang(ctx)]))


@jinja2.pass_context
def localized(ctx: Any, texts: Mapping[str, str]) -> str:
    """The context's locale out of a per-locale mapping."""
    code = lang(ctx)
    if code not in texts:
        raise ValueError(f"no {code!r} text in {dict(texts)!r}")
    return texts[code]


@jinja2.pass_context
def one_of(ctx: Any, *options: str) -> str:
    """A wording chosen by the post's identity; never the same one twice in a post."""
    state = ctx.get("_post")
    return state.one_of(options) if isinstance(state, PostState) else options[0]


@jinja2.pass_context
def literal(ctx: Any, value: object) -> str:
    """A number the template itself vouches for, e.g. {{ literal(24) }} hours."""
    return vouch(ctx, str(value))


@jinja2.pass_context
def keep(ctx: Any, text: str) -> str:
    """A phrase the line breaker must never split, e.g. {{ keep("Hong Kong, Macao and Taiwan") }}."""
    state = ctx.get("_post")
    if isinstance(state, PostState):
        state.protected.add(str(text))
    return str(text)


FILTERS = {
    "number": number,
    "compact": compact,
    "ordinal": ordinal,
    "rank": rank,
    "approx": approx,
    "month": month,
    "date": date,
    "t": localized,
}
GLOBALS = {"one_of": one_of, "literal": literal, "keep": keep}
