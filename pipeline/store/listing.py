"""Read-only views of the queue for the preview: filtered, counted and paged in SQL.

The full `Store.posts()` loads every delivery's payload; these queries read narrow columns only, so
the queue page stays fast with thousands of posts.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias

import sqlalchemy as sa

from ..errors import NotFound
from ..records import DeliveryStatus, PostStatus
from .tables import deliveries, posts

POST_STATES = frozenset(PostStatus)
DELIVERY_STATES = frozenset(DeliveryStatus)
AnyRow: TypeAlias = sa.Row[*tuple[Any, ...]]
WAITING = (DeliveryStatus.PENDING, DeliveryStatus.SCHEDULED, DeliveryStatus.PUBLISHING)
ATTENTION = (DeliveryStatus.FAILED, DeliveryStatus.UNKNOWN)


@dataclass(frozen=True)
class QueueFilter:
    """Which posts to list. `status` is a post status, or a delivery status (posts with such a
    delivery, on `channel` if given); fire times from `start` (inclusive) to `end` (exclusive)."""

    status: str | None = None
    channel: str | None = None
    job: str | None = None
    start: dt.datetime | None = None
    end: dt.datetime | None = None


@dataclass(frozen=True)
class DeliveryRow:
    id: int
    post_id: int
    channel: str
    lang: str
    status: DeliveryStatus
    due_at: dt.datetime
    title: str = ""  # the post's, where a listing shows deliveries on their own
    job_id: str = ""


@dataclass(frozen=True)
class PostRow:
    id: int
    job_id: str
    fire_time: dt.datetime
    status: PostStatus
    title: str
    deliveries: dict[str, int] = field(default_factory=dict)  # this post's deliveries per state
    attention: tuple[DeliveryRow, ...] = ()  # its failed and unknown deliveries: an editor must act


@dataclass(frozen=True)
class QueuePage:
    posts: list[PostRow]
    total: int  # posts matching the filter, on every page
    post_counts: dict[str, int] = field(default_factory=dict)  # posts per review status
    delivery_counts: dict[str, int] = field(default_factory=dict)  # their deliveries per state


def queue_page(engine: sa.Engine, where: QueueFilter, limit: int, offset: int = 0) -> QueuePage:
    """One page of posts (newest fire first) with their deliveries counted, the total, and the counts
    per state under every filter but the status (what choosing another status would show)."""
    matching, others = _matching(where), dataclasses.replace(where, status=None)
    query = sa.select(posts).where(matching).order_by(posts.c.fire_time.desc(), posts.c.id.desc())
    with engine.connect() as conn:
        rows = conn.execute(query.limit(limit).offset(offset)).all()
        total = conn.scalar(sa.select(sa.func.count()).select_from(posts).where(matching)) or 0
        states, attention = _states_of(conn, [row.id for row in rows]), _attention(conn, [row.id for row in rows])
        by_status = sa.select(posts.c.status, sa.func.count()).where(_matching(others)).group_by(posts.c.status)
        post_counts, delivery_counts = _as_dict(conn.execute(by_status)), _delivery_counts(conn, others)
    page = [_post_row(row, states.get(row.id, {}), attention.get(row.id, ())) for row in rows]
    return QueuePage(page, total, post_counts, delivery_counts)


def _posts_in(where: QueueFilter) -> list[sa.ColumnElement[bool]]:
    """The conditions on the posts' own columns."""
    conditions: list[sa.ColumnElement[bool]] = []
    if where.job:
        conditions.append(posts.c.job_id == where.job)
    if where.start:
        conditions.append(posts.c.fire_time >= where.start)
    if where.end:
        conditions.append(posts.c.fire_time < where.end)
    return conditions


def _matching(where: QueueFilter) -> sa.ColumnElement[bool]:
    conditions = _posts_in(where)
    if where.status in POST_STATES:
        conditions.append(posts.c.status == where.status)
    if where.channel or where.status in DELIVERY_STATES:
        conditions.append(sa.select(deliveries.c.id).where(_delivery_matching(where)).correlate(posts).exists())
    return sa.and_(sa.true(), *conditions)


def _delivery_matching(where: QueueFilter) -> sa.ColumnElement[bool]:
    condition = deliveries.c.post_id == posts.c.id
    if where.channel:
        condition &= deliveries.c.channel == where.channel
    if where.status in DELIVERY_STATES:
        condition &= deliveries.c.status == where.status
    return condition


def _delivery_counts(conn: sa.Connection, where: QueueFilter) -> dict[str, int]:
    """Deliveries per state; without filters an index-only scan (the rows carry big payloads)."""
    query = sa.select(deliveries.c.status, sa.func.count()).group_by(deliveries.c.status)
    if where.channel:
        query = query.where(deliveries.c.channel == where.channel)
    if conditions := _posts_in(where):
        query = query.where(deliveries.c.post_id.in_(sa.select(posts.c.id).where(*conditions)))
    return _as_dict(conn.execute(query))


def _states_of(conn: sa.Connection, post_ids: Sequence[int]) -> dict[int, dict[str, int]]:
    query = (
        sa.select(deliveries.c.post_id, deliveries.c.status, sa.func.count())
        .where(deliveries.c.post_id.in_(post_ids))
        .group_by(deliveries.c.post_id, deliveries.c.status)
    )
    found: dict[int, dict[str, int]] = {}
    for post_id, status, count in conn.execute(query):
        found.setdefault(post_id, {})[str(status)] = int(count)
    return found


def _attention(conn: sa.Connection, post_ids: Sequence[int]) -> dict[int, list[DeliveryRow]]:
    columns = (deliveries.c.id, deliveries.c.post_id, deliveries.c.channel, deliveries.c.lang, deliveries.c.status)
    query = sa.select(*columns, deliveries.c.due_at).where(
        deliveries.c.post_id.in_(post_ids), deliveries.c.status.in_(ATTENTION)
    )
    grouped: dict[int, list[DeliveryRow]] = {}
    for row in conn.execute(query.order_by(deliveries.c.id)):
        grouped.setdefault(row.post_id, []).append(_delivery_row(row))
    return grouped


def upcoming(engine: sa.Engine, start: dt.datetime, end: dt.datetime) -> list[DeliveryRow]:
    """Deliveries still to go out (pending review, scheduled, publishing) due in [start, end), by due time."""
    columns = (deliveries.c.id, deliveries.c.post_id, deliveries.c.channel, deliveries.c.lang, deliveries.c.status)
    query = (
        sa.select(*columns, deliveries.c.due_at, posts.c.title, posts.c.job_id)
        .join(posts, posts.c.id == deliveries.c.post_id)
        .where(deliveries.c.status.in_(WAITING), deliveries.c.due_at >= start, deliveries.c.due_at < end)
        .order_by(deliveries.c.due_at, deliveries.c.id)
    )
    with engine.connect() as conn:
        return [_delivery_row(row, row.title, row.job_id) for row in conn.execute(query)]


def fired(engine: sa.Engine, start: dt.datetime, end: dt.datetime) -> set[tuple[str, dt.datetime]]:
    """The (job, fire time) pairs in [start, end) that already made their post."""
    query = sa.select(posts.c.job_id, posts.c.fire_time).where(posts.c.fire_time >= start, posts.c.fire_time < end)
    with engine.connect() as conn:
        return {(row.job_id, row.fire_time) for row in conn.execute(query)}


def delivery_post(engine: sa.Engine, delivery_id: int) -> int:
    """The post a delivery belongs to."""
    with engine.connect() as conn:
        post_id = conn.scalar(sa.select(deliveries.c.post_id).where(deliveries.c.id == delivery_id))
    if post_id is None:
        raise NotFound("delivery", delivery_id)
    return int(post_id)


def _as_dict(rows: Iterable[AnyRow]) -> dict[str, int]:
    return {str(status): int(count) for status, count in rows}


def _delivery_row(row: AnyRow, title: str = "", job_id: str = "") -> DeliveryRow:
    status = DeliveryStatus(row.status)
    return DeliveryRow(row.id, row.post_id, row.channel, row.lang, status, row.due_at, title, job_id)


def _post_row(row: AnyRow, states: dict[str, int], attention: Iterable[DeliveryRow]) -> PostRow:
    return PostRow(row.id, row.job_id, row.fire_time, PostStatus(row.status), row.title, states, tuple(attention))
