"""When jobs fire: cron, interval or one date, in the project's timezone; and the latest scheduled fire.

Fire times never depend on when the process started (an interval counts from its `start`, or from
2000-01-01 00:00 local time), so a restarted scheduler finds the same fire times and the queue's
UNIQUE(job, fire time) keeps each fire to one post.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from .config import EPOCH, JobConfig


def trigger(job: JobConfig, tz: Any) -> BaseTrigger:
    spec = job.trigger
    if spec.cron is not None:
        return CronTrigger.from_crontab(spec.cron, timezone=tz)
    if spec.every is not None:
        start = (spec.start or EPOCH).replace(tzinfo=tz)
        return IntervalTrigger(seconds=int(spec.every.total_seconds()), start_date=start, timezone=tz)
    assert spec.at is not None, "the config allows exactly one kind"
    return DateTrigger(run_date=spec.at.replace(tzinfo=tz), timezone=tz)


def latest_fire(job: JobConfig, tz: dt.tzinfo, now: dt.datetime) -> dt.datetime | None:
    """The last scheduled fire at or before `now`, looking back at most the job's max lateness."""
    fires, latest = trigger(job, tz), None
    moment = fires.get_next_fire_time(None, now - job.max_lateness)
    while moment is not None and moment <= now:
        latest = moment
        moment = fires.get_next_fire_time(moment, moment + dt.timedelta(microseconds=1))
    return latest.astimezone(dt.UTC) if latest else None


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
    wall, found = CronTrigger.from_crontab(spec.cron, timezone=dt.UTC), []  # UTC: the clock's own numbers
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
