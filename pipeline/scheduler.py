"""Driver: schedule.yaml → APScheduler jobs that fire posts, plus the publishing worker loop.

Jobs are rebuilt from schedule.yaml at every start (no persistent job store): durable state lives
in the queue, where UNIQUE(job_id, fire_time) makes each fire produce its post exactly once.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler

from . import flow
from .errors import PipelineError
from .triggers import latest_fire, repeated, trigger

log = logging.getLogger(__name__)
WORKER_INTERVAL = dt.timedelta(seconds=2)


def fire_latest(rt: flow.Runtime, job_id: str) -> int | None:
    """Fire the job for its latest scheduled time; the queue's uniqueness makes repeats no-ops."""
    job = rt.job(job_id)
    fire_time = latest_fire(job, rt.config.tz, rt.clock.now())
    if fire_time is None:
        return None
    if repeated(fire_time, rt.config.tz):
        log.info("job %s: %s is the second showing of a doubled local time; made once already", job_id, fire_time)
        return None
    try:
        post_id = flow.fire(rt, job_id, fire_time)
    except PipelineError as exc:
        log.error("job %s at %s failed: %s", job_id, fire_time.isoformat(), exc)
        return None
    log.info(
        "job %s fired for %s: %s", job_id, fire_time.isoformat(), f"post {post_id}" if post_id else "already queued"
    )
    return post_id


def catch_up(rt: flow.Runtime) -> None:
    """At start: fire once for a missed slot where the job's misfire policy asks for it."""
    for job_id, job in rt.config.jobs.items():
        if job.misfire == "catch_up_once":
            fire_latest(rt, job_id)
        else:
            log.info("job %s: misfire policy 'skip', nothing caught up", job_id)


def publish_pass(rt: flow.Runtime) -> None:
    outcomes = flow.publish_due(rt)
    if outcomes:
        log.info("publish pass: %s", dict(outcomes))


def build(rt: flow.Runtime) -> BackgroundScheduler:
    scheduler = BackgroundScheduler(timezone=rt.config.tz, job_defaults={"coalesce": True, "max_instances": 1})
    for job_id, job in rt.config.jobs.items():
        grace = int(job.max_lateness.total_seconds())
        scheduler.add_job(
            fire_latest, trigger(job, rt.config.tz), args=(rt, job_id), id=f"job:{job_id}", misfire_grace_time=grace
        )
    worker: dict[str, Any] = {"seconds": WORKER_INTERVAL.total_seconds(), "id": "worker", "misfire_grace_time": 30}
    scheduler.add_job(publish_pass, "interval", args=(rt,), **worker)
    return scheduler
