"""When jobs fire: cron, interval or one date, in the project's timezone; and the latest scheduled fire.

Fire times never depend on when the process started (an interval counts from its `start`, or from
2000-01-01 00:00 local time), so a restarted scheduler finds the same fire times and the queue's
UNIQUE(job, fire time) keeps each fire to one post.
"""

from __future__ import annotations

import collections
import datetime as dt
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from . import crontab
from .config import EPOCH, JobConfig

TICK = dt.timedelta(microseconds=1)
COUNT_LIMIT = 1000  # missed fires counted one by one; beyond, "more than"


def trigger(job: JobConfig, tz: Any) -> BaseTrigger:
    spec = job.trigger
    if spec.cron is not None:
        return crontab.trigger(spec.cron, tz)
    if spec.every is not None:
        start = (spec.start or EPOCH).replace(tzinfo=tz)
        return IntervalTrigger(seconds=int(spec.every.total_seconds()), start_date=start, timezone=tz)
    assert spec.at is not None, "the config allows exactly one kind"
    return DateTrigger(run_date=spec.at.replace(tzinfo=tz), timezone=tz)


def latest_fire(job: JobConfig, tz: dt.tzinfo, now: dt.datetime) -> dt.datetime | None:
    """The last scheduled fire at or before `now`, looking back at most the job's max lateness."""
    last = collections.deque(_fires(trigger(job, tz), now - job.max_lateness, now), maxlen=1)
    return last[0] if last else None


@dataclass(frozen=True)
class Missed:
    """Scheduled fires that no scheduler made: how many (at least, when `more`), the first and the latest."""

    count: int
    first: dt.datetime | None
    latest: dt.datetime | None
    more: bool = False


def missed(job: JobConfig, tz: dt.tzinfo, after: dt.datetime, now: dt.datetime) -> Missed:
    """The scheduled fires after `after` and at or before `now` (a doubled local time's second showing
    is no fire); counting stops at COUNT_LIMIT, the latest is found all the same."""
    slots = (moment for moment in _fires(trigger(job, tz), after + TICK, now) if not repeated(moment, tz))
    counted = list(itertools.islice(slots, COUNT_LIMIT))
    if not counted:
        return Missed(0, None, None)
    more = next(slots, None) is not None
    return Missed(len(counted), counted[0], previous_fire(job, tz, now) if more else counted[-1], more)


def _fires(fires: BaseTrigger, since: dt.datetime, until: dt.datetime) -> Iterator[dt.datetime]:
    """A trigger's fire times from `since` to `until`, both included, in UTC."""
    moment = fires.get_next_fire_time(None, since)
    while moment is not None and moment <= until:
        if moment >= since:  # a date trigger names its one time whatever `since` is
            yield moment.astimezone(dt.UTC)
        moment = fires.get_next_fire_time(moment, moment + TICK)


def previous_fire(job: JobConfig, tz: dt.tzinfo, now: dt.datetime) -> dt.datetime:
    """The last scheduled fire at or before `now`, however long ago (a dry run previews that post)."""
    lookback = dt.timedelta(days=1)
    while (found := latest_fire(job.model_copy(update={"max_lateness": lookback}), tz, now)) is None:
        if lookback > dt.timedelta(days=3660):
            return now
        lookback *= 4
    return found


def dst_problems(job: JobConfig, tz: dt.tzinfo, now: dt.datetime, days: int = 400) -> list[str]:
    """Local fire times in the coming `days` that the clock skips or shows twice (DST changes)."""
    problems = []
    for local in _wall_fires(job, _changes(tz, now, days)):
        if _roundtrip(local, tz) != local:
            problems.append(f"{local:%Y-%m-%d %H:%M} does not exist in {tz}: the clock jumps over it")
        elif _ambiguous(local, tz):
            problems.append(f"{local:%Y-%m-%d %H:%M} happens twice in {tz}: the post is made at the first")
    return problems


def repeated(fire_time: dt.datetime, tz: dt.tzinfo) -> bool:
    """Whether a fire is the second showing of a local time the clock shows twice (not fired again)."""
    local = fire_time.astimezone(tz)
    return local.fold == 1 and _ambiguous(local.replace(tzinfo=None, fold=0), tz)


def _changes(tz: dt.tzinfo, now: dt.datetime, days: int) -> list[dt.datetime]:
    """Local midnights of the days on which the offset from UTC changes."""
    start = now.astimezone(tz).replace(tzinfo=None, hour=0, minute=0, second=0, microsecond=0)
    midnights = [start + dt.timedelta(days=n) for n in range(days + 1)]
    offsets = [m.replace(tzinfo=tz).utcoffset() for m in midnights]
    return [midnights[n] for n in range(days) if offsets[n] != offsets[n + 1]]


def _wall_fires(job: JobConfig, days: list[dt.datetime]) -> list[dt.datetime]:
    """The wall-clock times the job names on those days (an interval counts real time: none)."""
    spec = job.trigger
    if spec.at is not None:
        return [spec.at] if any(day <= spec.at < day + dt.timedelta(days=1) for day in days) else []
    if spec.cron is None:
        return []
    wall, found = crontab.trigger(spec.cron, dt.UTC), []  # UTC: the clock's own numbers
    for day in days:
        moment = wall.get_next_fire_time(None, day.replace(tzinfo=dt.UTC))
        while moment is not None and moment < day.replace(tzinfo=dt.UTC) + dt.timedelta(days=1):
            found.append(moment.replace(tzinfo=None))
            moment = wall.get_next_fire_time(moment, moment + dt.timedelta(seconds=1))
    return found


def _roundtrip(local: dt.datetime, tz: dt.tzinfo) -> dt.datetime:
    return local.replace(tzinfo=tz).astimezone(dt.UTC).astimezone(tz).replace(tzinfo=None)


def _ambiguous(local: dt.datetime, tz: dt.tzinfo) -> bool:
    return local.replace(tzinfo=tz, fold=0).utcoffset() != local.replace(tzinfo=tz, fold=1).utcoffset()
