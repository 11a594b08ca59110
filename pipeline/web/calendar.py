"""The calendar: each channel's upcoming slots, from the queued deliveries and the job fires still to come.

Times are kept in UTC and shown in the project's timezone and, given `?tz=Area/City`, the viewer's.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .. import triggers
from ..config import JobConfig

if TYPE_CHECKING:
    from ..flow import Runtime

DEFAULT_DAYS, MAX_DAYS = 14, 62
MAX_FIRES = 100  # per job and window: an every-minute job would otherwise fill the page
PLANNED = "planned"  # a fire that has not made its post yet


@dataclass(frozen=True)
class Slot:
    at: dt.datetime  # UTC
    channel: str
    job_id: str
    status: str  # the delivery's state, or "planned"
    post_id: int | None = None
    title: str = ""
    lang: str = ""


def slots(rt: Runtime, start: dt.datetime, end: dt.datetime) -> dict[str, list[Slot]]:
    """Each channel's slots in [start, end), in time order; channels in schedule.yaml's order."""
    waiting = rt.store.upcoming(start, end)
    queued = [Slot(d.due_at, d.channel, d.job_id, d.status, d.post_id, d.title, d.lang) for d in waiting]
    by_channel: dict[str, list[Slot]] = {name: [] for name in rt.config.channels}
    for slot in sorted(queued + planned(rt, start, end), key=lambda s: (s.at, s.post_id or 0, s.lang)):
        by_channel.setdefault(slot.channel, []).append(slot)
    return by_channel


def planned(rt: Runtime, start: dt.datetime, end: dt.datetime) -> list[Slot]:
    """A slot on each of a job's channels for every fire in the window that has made no post yet."""
    fired = rt.store.fired_between(start, end)
    found = []
    for job_id, job in rt.config.jobs.items():
        for moment in fire_times(job, rt.config.tz, start, end):
            if (job_id, moment) not in fired:
                found += [Slot(moment, channel, job_id, PLANNED) for channel in job.channels]
    return found


def fire_times(job: JobConfig, tz: dt.tzinfo, start: dt.datetime, end: dt.datetime) -> list[dt.datetime]:
    """The job's fires in [start, end), in UTC, leaving out the second showing of a doubled local time."""
    trigger = triggers.trigger(job, tz)
    found: list[dt.datetime] = []
    moment = trigger.get_next_fire_time(None, start)
    while moment is not None and moment < end and len(found) < MAX_FIRES:
        if not triggers.repeated(moment, tz):
            found.append(moment.astimezone(dt.UTC))
        moment = trigger.get_next_fire_time(moment, moment + dt.timedelta(microseconds=1))
    return found


def viewer_zone(name: str) -> zoneinfo.ZoneInfo:
    """The viewer's IANA timezone; ValueError saying what was wrong."""
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"tz: {name!r} is not an IANA timezone such as Europe/Berlin") from None


def days(value: str | None) -> int:
    """How many days ahead to show: 1 to MAX_DAYS; ValueError otherwise."""
    if not value:
        return DEFAULT_DAYS
    if not value.isdigit() or not 1 <= int(value) <= MAX_DAYS:
        raise ValueError(f"days: {value!r} is not a number of days from 1 to {MAX_DAYS}")
    return int(value)


def context(rt: Runtime, params: Mapping[str, str]) -> dict[str, Any]:
    """What calendar.html shows; a wrong `days` or `tz` is named in `problems` and the default used."""
    problems, ahead, viewer = [], DEFAULT_DAYS, None
    try:
        ahead = days(params.get("days"))
    except ValueError as exc:
        problems.append(str(exc))
    try:
        viewer = viewer_zone(params["tz"]) if params.get("tz") else None
    except ValueError as exc:
        problems.append(str(exc))
    now = rt.clock.now()
    found = slots(rt, now, now + dt.timedelta(days=ahead))
    return dict(channels=found, days=ahead, viewer_tz=viewer, problems=problems, now=now, planned=PLANNED)
