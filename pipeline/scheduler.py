"""Driver: schedule.yaml → APScheduler jobs that fire posts, plus the publishing worker loop.

Jobs are rebuilt from schedule.yaml at every start (no persistent job store); durable state lives in
the store. A scheduler claims each fire in the job_fires table before making its post, so several
schedulers on one database make each fire once, and every fire's outcome is kept. At start, what a
job missed while no scheduler ran is settled by its misfire policy: `skip` makes nothing,
`catch_up_once` makes the latest missed fire if it is at most `max_lateness` old.
"""

from __future__ import annotations

import datetime as dt
import logging
import math

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler

from . import flow, triggers
from .config import JobConfig
from .errors import PipelineError
from .secrets import redact
from .store import FireOutcome, JobFire

log = logging.getLogger(__name__)
WORKER_INTERVAL = dt.timedelta(seconds=2)
SKIP_GRACE = dt.timedelta(minutes=1)  # a running scheduler still makes a `skip` job's fire it was this late for


def fire_latest(rt: flow.Runtime, job_id: str) -> JobFire | None:
    """APScheduler's job: make the fire now due (the latest scheduled one, at most max_lateness old)."""
    job = rt.config.jobs.get(job_id)
    fire_time = triggers.latest_fire(job, rt.config.tz, rt.clock.now()) if job else None
    return fire_slot(rt, job_id, fire_time) if fire_time else None


def fire_slot(rt: flow.Runtime, job_id: str, fire_time: dt.datetime) -> JobFire | None:
    """Make one fire's post once, however many schedulers fire it; None when another one has it.

    The fire is claimed first (one row per job and fire time), then its outcome recorded.
    """
    when = _local(rt, fire_time)
    if triggers.repeated(fire_time, rt.config.tz):
        log.info("job %s: %s is the second showing of a doubled local time; made at the first", job_id, when)
        return None
    started = rt.clock.now()
    if not rt.store.start_fire(job_id, fire_time, started):
        log.info("job %s at %s: another scheduler made this fire or is making it", job_id, when)
        return None
    outcome, post_id, reason = _make(rt, job_id, fire_time)
    finished = rt.clock.now()
    rt.store.finish_fire(job_id, fire_time, finished, outcome, post_id, reason)
    return JobFire(job_id, fire_time, started, finished, outcome, post_id, reason)


def _make(rt: flow.Runtime, job_id: str, fire_time: dt.datetime) -> tuple[FireOutcome, int | None, str | None]:
    when = _local(rt, fire_time)
    try:
        post_id = flow.fire(rt, job_id, fire_time)
    except PipelineError as exc:
        log.error("job %s at %s failed: %s", job_id, when, exc)
        return FireOutcome.FAILED, None, redact(str(exc))
    except Exception as exc:  # a bug, or the database: recorded, so that a restart may try the fire again
        log.exception("job %s at %s failed unexpectedly", job_id, when)
        return FireOutcome.FAILED, None, redact(f"{type(exc).__name__}: {exc}")
    log.info("job %s fired for %s: %s", job_id, when, f"post {post_id}" if post_id else "already queued")
    return (FireOutcome.QUEUED if post_id else FireOutcome.ALREADY_QUEUED), post_id, None


def catch_up(rt: flow.Runtime) -> None:
    """At start: log, for each job, the fires missed while no scheduler ran and what its policy made of them."""
    now = rt.clock.now()
    for job_id, job in rt.config.jobs.items():
        log.info("job %s: %s", job_id, _settle(rt, job_id, job, now))


def _settle(rt: flow.Runtime, job_id: str, job: JobConfig, now: dt.datetime) -> str:
    """What the job missed since its last recorded fire (or within max_lateness, with none), and what was made."""
    last = rt.store.last_fire(job_id)
    missed = triggers.missed(job, rt.config.tz, _missed_after(last, job, now), now)
    since = _since(rt, last, job)
    if missed.latest is None:
        return f"no fire missed {since}" + ("" if last else " (no fire recorded yet)")
    what = f"missed {_count(missed)} {since}: {_span(rt, missed)}; misfire: {job.misfire}"
    return f"{what}, {_by_policy(rt, job_id, job, missed.latest, now)}"


def _by_policy(rt: flow.Runtime, job_id: str, job: JobConfig, latest: dt.datetime, now: dt.datetime) -> str:
    """Apply the misfire policy to the latest missed fire; say what came of it."""
    if job.misfire == "skip":
        return "none made"
    if now - latest > job.max_lateness:
        return f"but the latest is {now - latest} late, beyond max_lateness {job.max_lateness}: none made"
    made = fire_slot(rt, job_id, latest)
    return f"made the latest, {_local(rt, latest)}: {made or 'another scheduler has it'}"


def _missed_after(last: JobFire | None, job: JobConfig, now: dt.datetime) -> dt.datetime:
    """Fires after this moment count as missed: the last one made; a failed or unfinished one counts too."""
    if last is None:
        return now - job.max_lateness - triggers.TICK
    return last.fire_time if last.made else last.fire_time - triggers.TICK


def _since(rt: flow.Runtime, last: JobFire | None, job: JobConfig) -> str:
    if last is None:
        return f"in the last {job.max_lateness}"
    return f"since its fire at {_local(rt, last.fire_time)} ({_outcome(rt, last)})"


def _outcome(rt: flow.Runtime, fire: JobFire) -> str:
    return f"unfinished, started {_local(rt, fire.started_at)}" if fire.outcome is None else str(fire)


def _count(missed: triggers.Missed) -> str:
    return f"{'more than ' if missed.more else ''}{missed.count} fire{'' if missed.count == 1 else 's'}"


def _span(rt: flow.Runtime, missed: triggers.Missed) -> str:
    assert missed.first is not None and missed.latest is not None
    if missed.first == missed.latest:
        return _local(rt, missed.latest)
    return f"{_local(rt, missed.first)} … {_local(rt, missed.latest)}"


def _local(rt: flow.Runtime, moment: dt.datetime) -> str:
    """An instant as the project's local time with its offset, as the log shows fire times."""
    return moment.astimezone(rt.config.tz).isoformat(timespec="seconds")


def publish_pass(rt: flow.Runtime) -> None:
    outcomes = flow.publish_due(rt)
    if outcomes:
        log.info("publish pass: %s", dict(outcomes))


def build(rt: flow.Runtime) -> BackgroundScheduler:
    """A scheduler with a job per schedule.yaml job (id `job:NAME`) and the publishing worker."""
    scheduler = BackgroundScheduler(timezone=rt.config.tz)
    for job_id, job in rt.config.jobs.items():
        schedule(scheduler, rt, job_id, job)
    seconds = WORKER_INTERVAL.total_seconds()
    scheduler.add_job(
        publish_pass, "interval", args=(rt,), id="worker", seconds=seconds, **_once(dt.timedelta(seconds=30))
    )
    return scheduler


def schedule(scheduler: BaseScheduler, rt: flow.Runtime, job_id: str, job: JobConfig) -> None:
    """Add or replace a job's APScheduler job; a one-time job whose time has passed gets none
    (catching up is for the start, where the misfire policy decides)."""
    unschedule(scheduler, job_id)
    fires, now = triggers.trigger(job, rt.config.tz), rt.clock.now()
    next_fire = fires.get_next_fire_time(None, now)
    if next_fire is None or next_fire < now:
        log.info("job %s: no fire to come", job_id)
        return
    scheduler.add_job(fire_latest, fires, args=(rt, job_id), id=job_key(job_id), name=job_id, **_once(grace(job)))


def unschedule(scheduler: BaseScheduler, job_id: str) -> None:
    if scheduler.get_job(job_key(job_id)) is not None:
        scheduler.remove_job(job_key(job_id))


def job_key(job_id: str) -> str:
    """The APScheduler id of a schedule.yaml job: stable across reloads and restarts."""
    return f"job:{job_id}"


def grace(job: JobConfig) -> dt.timedelta:
    """How late a running scheduler may still make a fire (it was busy, or the machine slept)."""
    return job.max_lateness if job.misfire == "catch_up_once" else min(job.max_lateness, SKIP_GRACE)


def _once(late: dt.timedelta) -> dict[str, object]:
    """Every job: one run at a time, missed runs coalesced into one, made at most `late` late."""
    return {"coalesce": True, "max_instances": 1, "misfire_grace_time": max(1, math.ceil(late.total_seconds()))}
