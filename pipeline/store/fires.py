"""Job fires: which scheduler made each (job, fire time), when, and what came of it.

A scheduler claims a fire by inserting its row (UNIQUE(job_id, fire_time)); a second scheduler
firing the same slot finds the row and leaves the fire alone. A failed fire, or one whose scheduler
died before finishing it (started more than FIRE_LEASE ago), may be claimed again.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from .tables import job_fires

FIRE_LEASE = dt.timedelta(minutes=10)  # far longer than composing and rendering one post takes


class FireOutcome(enum.StrEnum):
    QUEUED = "queued"
    ALREADY_QUEUED = "already queued"
    FAILED = "failed"


@dataclass(frozen=True)
class JobFire:
    job_id: str
    fire_time: dt.datetime
    started_at: dt.datetime
    finished_at: dt.datetime | None
    outcome: FireOutcome | None
    post_id: int | None
    reason: str | None

    @property
    def made(self) -> bool:
        """Whether the fire's post is in the queue (made by this fire or before it)."""
        return self.outcome in (FireOutcome.QUEUED, FireOutcome.ALREADY_QUEUED)

    def __str__(self) -> str:
        if self.outcome is None:
            return f"unfinished, started {self.started_at.isoformat()}"
        if self.outcome == FireOutcome.QUEUED:
            return f"queued post {self.post_id}"
        return f"failed: {self.reason}" if self.outcome == FireOutcome.FAILED else str(self.outcome)


def start(conn: sa.Connection, job_id: str, fire_time: dt.datetime, now: dt.datetime) -> bool:
    """Claim a fire for this scheduler: False when another one made it or is making it now."""
    row = dict(job_id=job_id, fire_time=fire_time, started_at=now)
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    claim = dialect.insert(job_fires).values(row).on_conflict_do_nothing().returning(job_fires.c.id)
    if conn.execute(claim).first() is not None:
        return True
    failed = job_fires.c.outcome == FireOutcome.FAILED
    abandoned = job_fires.c.finished_at.is_(None) & (job_fires.c.started_at < now - FIRE_LEASE)
    again = dict(started_at=now, finished_at=None, outcome=None, post_id=None, reason=None)
    retake = job_fires.update().where(_of(job_id, fire_time), failed | abandoned).values(again)
    return conn.execute(retake).rowcount == 1


def finish(
    conn: sa.Connection,
    job_id: str,
    fire_time: dt.datetime,
    now: dt.datetime,
    outcome: FireOutcome,
    post_id: int | None = None,
    reason: str | None = None,
) -> None:
    values = dict(finished_at=now, outcome=outcome, post_id=post_id, reason=reason)
    conn.execute(job_fires.update().where(_of(job_id, fire_time)).values(values))


def last(conn: sa.Connection, job_id: str) -> JobFire | None:
    query = sa.select(job_fires).where(job_fires.c.job_id == job_id).order_by(job_fires.c.fire_time.desc()).limit(1)
    row = conn.execute(query).first()
    return _fire(row) if row is not None else None


def every(conn: sa.Connection, job_id: str | None) -> list[JobFire]:
    query = sa.select(job_fires).order_by(job_fires.c.fire_time, job_fires.c.job_id)
    if job_id is not None:
        query = query.where(job_fires.c.job_id == job_id)
    return [_fire(row) for row in conn.execute(query)]


def _of(job_id: str, fire_time: dt.datetime) -> sa.ColumnElement[bool]:
    return (job_fires.c.job_id == job_id) & (job_fires.c.fire_time == fire_time)


def _fire(row: sa.Row[Any]) -> JobFire:
    outcome = FireOutcome(row.outcome) if row.outcome is not None else None
    return JobFire(row.job_id, row.fire_time, row.started_at, row.finished_at, outcome, row.post_id, row.reason)
