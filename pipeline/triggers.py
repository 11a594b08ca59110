"""When jobs fire: cron triggers in the project's timezone, and the latest scheduled fire."""

from __future__ import annotations

import datetime as dt

from apscheduler.triggers.cron import CronTrigger

from .config import JobConfig


def trigger(job: JobConfig, tz: dt.tzinfo) -> CronTrigger:
    return CronTrigger.from_crontab(job.trigger.cron, timezone=tz)


def latest_fire(job: JobConfig, tz: dt.tzinfo, now: dt.datetime) -> dt.datetime | None:
    """The last scheduled fire at or before `now`, looking back at most the job's max lateness."""
    cron, latest = trigger(job, tz), None
    moment = cron.get_next_fire_time(None, now - job.max_lateness)
    while moment is not None and moment <= now:
        latest = moment
        moment = cron.get_next_fire_time(moment, moment + dt.timedelta(microseconds=1))
    return latest.astimezone(dt.UTC) if latest else None


def previous_fire(job: JobConfig, tz: dt.tzinfo, now: dt.datetime) -> dt.datetime:
    """The last scheduled fire at or before `now`, however long ago (a dry run previews that post)."""
    lookback = dt.timedelta(days=1)
    while (found := latest_fire(job.model_copy(update={"max_lateness": lookback}), tz, now)) is None:
        if lookback > dt.timedelta(days=3660):
            return now
        lookback *= 4
    return found
