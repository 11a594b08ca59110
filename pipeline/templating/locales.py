"""Numbers and dates written per locale, as babel writes them.

Babel parses its pattern on every call and loads a locale's data on first use (~10 ms per locale,
~6 ms more to import it). The project's own locales (en_US, zh_Hans_CN) are written here directly
for the forms the templates use: whole numbers grouped by threes, long dates and month-year dates;
tests hold each to babel's answer for any number and any day. Anything else goes to babel, loaded
only then: a card or a post that prints only those forms never imports it.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from decimal import Decimal

MONTHS_EN = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip
GROUP_SYMBOLS = {"en_US": ",", "zh_Hans_CN": ","}  # whole numbers are "#,##0" in both
DATES: dict[tuple[str, str], Callable[[dt.date], str]] = {
    ("long", "en_US"): lambda day: f"{MONTHS_EN[day.month - 1]} {day.day}, {day.year}",
    ("long", "zh_Hans_CN"): lambda day: f"{day.year}年{day.month}月{day.day}日",
    ("MMMM y", "en_US"): lambda day: f"{MONTHS_EN[day.month - 1]} {day.year}",
    ("y年M月", "zh_Hans_CN"): lambda day: f"{day.year}年{day.month}月",
}


def format_decimal(value: int | float | Decimal, locale: str) -> str:
    """babel.numbers.format_decimal; a whole number, where the locale groups by threes as Python's ","
    format does, is written directly (a new figure in every post would cost babel a parse)."""
    group = GROUP_SYMBOLS[locale] if locale in GROUP_SYMBOLS else _grouping(locale)
    if type(value) is int and value >= 0 and group is not None:
        return f"{value:,}".replace(",", group)
    return _babel_decimal(value, locale)


def format_date(day: dt.date, pattern: str, locale: str) -> str:
    """babel.dates.format_date(day, pattern, locale=locale)."""
    known = DATES.get((pattern, locale))
    return known(day) if known is not None else _babel_date(day, pattern, locale)


@functools.lru_cache(maxsize=4096, typed=True)
def format_compact_decimal(value: int | float | Decimal, locale: str) -> str:
    from babel import numbers

    return numbers.format_compact_decimal(value, locale=locale, fraction_digits=1)


@functools.lru_cache(maxsize=4096, typed=True)
def _babel_decimal(value: int | float | Decimal, locale: str) -> str:
    from babel import numbers

    return numbers.format_decimal(value, locale=locale)


@functools.lru_cache(maxsize=4096)
def _babel_date(day: dt.date, pattern: str, locale: str) -> str:
    from babel import dates

    return dates.format_date(day, pattern, locale=locale)


@functools.cache
def _grouping(locale: str) -> str | None:
    """The locale's group symbol if its decimal pattern writes whole numbers as "#,##0" does, else None."""
    from babel import Locale, numbers

    pattern = numbers.parse_pattern(Locale.parse(locale).decimal_formats[None])
    plain = pattern.grouping == (3, 3) and pattern.int_prec[0] == 1 and pattern.prefix[0] == pattern.suffix[0] == ""
    return numbers.get_group_symbol(locale) if plain else None
