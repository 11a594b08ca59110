"""Cron's weekday numbers (Sunday = 0 or 7) mean what crontab(5) says, not APScheduler 3's Monday = 0."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from pipeline import crontab

SHANGHAI = ZoneInfo("Asia/Shanghai")
SATURDAY = dt.datetime(2026, 11, 28, 12, 0, tzinfo=SHANGHAI)


def fires(expr: str, count: int = 7) -> list[str]:
    """The weekday names of the next `count` fires after Saturday noon."""
    trigger, found, last = crontab.trigger(expr, SHANGHAI), [], None
    now = SATURDAY
    for _ in range(count):
        last = trigger.get_next_fire_time(last, now)
        assert last is not None
        found.append(last.strftime("%a %H:%M"))
        now = last + dt.timedelta(seconds=1)
    return found


def test_monday_is_one_as_in_crontab() -> None:
    assert fires("0 9 * * 1", 2) == ["Mon 09:00", "Mon 09:00"]
    assert fires("0 9 * * mon", 1) == ["Mon 09:00"]


@pytest.mark.parametrize(
    ("field", "days"),
    [
        ("0", "sun"),
        ("7", "sun"),
        ("0,7", "sun"),
        ("1-5", "mon,tue,wed,thu,fri"),
        ("mon-fri", "mon,tue,wed,thu,fri"),
        ("5-7", "sun,fri,sat"),
        ("5-0", "sun,fri,sat"),
        ("*/2", "sun,tue,thu,sat"),
        ("1-5/2", "mon,wed,fri"),
        ("3/2", "wed,fri"),
        ("SAT,sun", "sun,sat"),
        ("*", "*"),
    ],
)
def test_weekday_fields_expand_to_names(field: str, days: str) -> None:
    assert crontab.weekdays(field) == days


def test_a_weekday_list_fires_on_those_days_only() -> None:
    assert fires("30 8 * * 1-5", 5) == ["Mon 08:30", "Tue 08:30", "Wed 08:30", "Thu 08:30", "Fri 08:30"]
    assert fires("0 20 * * 0,6", 3) == ["Sat 20:00", "Sun 20:00", "Sat 20:00"]


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("0 9 * *", "has 4 fields; expected 5"),
        ("0 9 * * 8", "weekday '8': expected 0-7"),
        ("0 9 * * fri-mon", "runs backwards"),
        ("0 9 * * funday", "expected 0-7 or a day name"),
        ("0 9 1 * 1", "restricts both the day of the month and the weekday"),
        ("61 9 * * *", "61"),
    ],
)
def test_bad_expressions_say_what_is_wrong(expr: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        crontab.trigger(expr, SHANGHAI)
