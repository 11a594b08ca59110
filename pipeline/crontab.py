"""Standard 5-field cron expressions as APScheduler 3 cron triggers, with cron's own weekday numbers.

APScheduler 3 numbers weekdays from Monday = 0, so its `CronTrigger.from_crontab("0 9 * * 1")`
fires on Tuesdays. Cron (and every crontab a person writes) counts from Sunday = 0 (7 is Sunday
too). The weekday field is therefore expanded here into day names, which mean the same to both.
Cron fires when either the day of the month or the weekday matches if both are restricted;
APScheduler needs both, so such an expression is refused rather than run differently.
"""

from __future__ import annotations

import datetime as dt

from apscheduler.triggers.cron import CronTrigger

DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


def trigger(expr: str, tz: dt.tzinfo) -> CronTrigger:
    """The trigger of a 5-field cron expression in `tz`; ValueError saying what is wrong."""
    fields = expr.split()
    if len(fields) != 5:
        raise ValueError(f"{expr!r} has {len(fields)} fields; expected 5 (minute hour day month weekday)")
    minute, hour, day, month, weekday = fields
    if day != "*" and weekday != "*":
        raise ValueError(f"{expr!r} restricts both the day of the month and the weekday; restrict one")
    return CronTrigger(minute=minute, hour=hour, day=day, month=month, day_of_week=weekdays(weekday), timezone=tz)


def weekdays(field: str) -> str:
    """Cron's weekday field as day names: '1-5' → 'mon,tue,wed,thu,fri', '0,7' → 'sun', '*' stays."""
    if field == "*":
        return field
    days: set[int] = set()
    for part in field.split(","):
        days |= _days(part.lower())
    return ",".join(DAY_NAMES[day] for day in sorted(days))


def _days(part: str) -> set[int]:
    """One list item: N, NAME, A-B or */S, A-B/S, N/S (from N to Saturday), as Sunday-based numbers."""
    span, _, step_text = part.partition("/")
    step = _number(step_text, 1, 7) if step_text else 1
    if span == "*":
        first, last = 0, 6
    elif "-" in span:
        first, last = (_day(end) for end in span.split("-", 1))
        last = 7 if last == 0 and first > 0 else last  # "5-0": Friday to Sunday
    else:
        first = _day(span)
        last = 6 if step_text else first
    if first > last:
        raise ValueError(f"weekday range {span!r} runs backwards")
    return {day % 7 for day in range(first, last + 1, step)}


def _day(text: str) -> int:
    if text in DAY_NAMES:
        return DAY_NAMES.index(text)
    return _number(text, 0, 7)


def _number(text: str, low: int, high: int) -> int:
    if not text.isdigit() or not low <= int(text) <= high:
        raise ValueError(f"weekday {text!r}: expected {low}-{high} or a day name such as mon")
    return int(text)
