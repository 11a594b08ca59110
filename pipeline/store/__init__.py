"""The queue: posts, their deliveries and an audit trail, with guarded state transitions.

Every transition is one conditional UPDATE (`WHERE status IN allowed`), so two actors racing
for the same item cannot both win; the loser gets InvalidTransition. Worker updates also say
`AND attempt = ?`, so a worker whose lease was taken over cannot overwrite the new owner's work.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from ..errors import InvalidTransition, NotFound
from ..model import AuditEvent, Delivery, DeliveryStatus, Post, PostStatus, Receipt, Token, Variant
from . import engine as engines
from . import migrations
from .tables import audit, deliveries, pauses, posts, tokens

__all__ = ["Store"]

P, D = PostStatus, DeliveryStatus
POST_FROM: dict[PostStatus, set[PostStatus]] = {
    P.IN_REVIEW: {P.DRAFT, P.APPROVED},
    P.APPROVED: {P.DRAFT, P.IN_REVIEW},
    P.REJECTED: {P.DRAFT, P.IN_REVIEW},
}
DELIVERY_FROM: dict[DeliveryStatus, set[DeliveryStatus]] = {
    D.SCHEDULED: {D.PENDING, D.PUBLISHING, D.FAILED, D.UNKNOWN},
    D.PUBLISHING: {D.SCHEDULED},
    D.PUBLISHED: {D.PUBLISHING, D.UNKNOWN},
    D.FAILED: {D.PUBLISHING},
    D.UNKNOWN: {D.PUBLISHING},
    D.CANCELLED: {D.PENDING, D.SCHEDULED, D.FAILED},
}


class Store:
    def __init__(self, url: str) -> None:
        self.engine = engines.create(url)

    def create_tables(self) -> None:
        """Create or upgrade the schema (migrations.py): safe to call from every process at start."""
        migrations.upgrade(self.engine)

    # -- posts ------------------------------------------------------------------------------

    def add_post(
        self,
        job_id: str,
        fire_time: dt.datetime,
        title: str,
        variants: Sequence[Variant],
        *,
        auto_approve: bool,
        now: dt.datetime,
        actor: str = "scheduler",
    ) -> int | None:
        """Queue one fire's post; None when this (job, fire time) was already queued.

        The UNIQUE(job_id, fire_time) constraint decides, so racing schedulers make one post.
        """
        status = P.APPROVED if auto_approve else P.IN_REVIEW
        row = dict(job_id=job_id, fire_time=fire_time, status=status, title=title, created_at=now, updated_at=now)
        try:
            with self.engine.begin() as conn:
                post_id = int(conn.execute(posts.insert().values(row).returning(posts.c.id)).scalar_one())
                delivery_status = D.SCHEDULED if auto_approve else D.PENDING
                rows = [_delivery_row(post_id, v, delivery_status, fire_time, now) for v in variants]
                conn.execute(deliveries.insert(), rows)
                _audit(conn, post_id, None, now, actor, None, status, "auto review" if auto_approve else None)
        except sa.exc.IntegrityError:
            if not self.fired(job_id, fire_time):
                raise
            return None
        return post_id

    def fired(self, job_id: str, fire_time: dt.datetime) -> bool:
        """Whether this job fire already made its post."""
        query = sa.select(posts.c.id).where(posts.c.job_id == job_id, posts.c.fire_time == fire_time)
        with self.engine.connect() as conn:
            return conn.scalar(query) is not None

    def approve(self, post_id: int, actor: str, now: dt.datetime) -> None:
        with self.engine.begin() as conn:
            self._move_post(conn, post_id, P.APPROVED, actor, now, None)
            self._move_deliveries(conn, post_id, D.PENDING, D.SCHEDULED, actor, now, "post approved")

    def reject(self, post_id: int, actor: str, reason: str, now: dt.datetime) -> None:
        with self.engine.begin() as conn:
            self._move_post(conn, post_id, P.REJECTED, actor, now, reason)
            self._move_deliveries(conn, post_id, D.PENDING, D.CANCELLED, actor, now, reason)

    def posts(self, status: PostStatus | None = None) -> list[Post]:
        query = sa.select(posts).order_by(posts.c.fire_time.desc(), posts.c.id.desc())
        if status is not None:
            query = query.where(posts.c.status == status)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
            by_post = _group(conn.execute(sa.select(deliveries).order_by(deliveries.c.id)).all())
        return [_post(row, by_post.get(row.id, ())) for row in rows]

    def post(self, post_id: int) -> Post:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(posts).where(posts.c.id == post_id)).first()
            if row is None:
                raise NotFound("post", post_id)
            rows = conn.execute(sa.select(deliveries).where(deliveries.c.post_id == post_id)).all()
        return _post(row, [_delivery(r) for r in rows])

    def audit_trail(self, post_id: int) -> list[AuditEvent]:
        query = sa.select(audit).where(audit.c.post_id == post_id).order_by(audit.c.id)
        with self.engine.connect() as conn:
            return [
                AuditEvent(r.at, r.actor, r.from_status, r.to_status, r.reason, r.delivery_id)
                for r in conn.execute(query)
            ]

    # -- workers ----------------------------------------------------------------------------

    def claim_due(
        self,
        now: dt.datetime,
        lease: dt.timedelta,
        channels: Sequence[str],
        limit: int = 50,
        due_by: dt.datetime | None = None,
        exclude: Collection[int] = (),
    ) -> list[Delivery]:
        """Take scheduled deliveries of these channels due by `due_by` (default: now) under a lease;
        each claim bumps the fencing attempt. `exclude`: ids this worker already tried in this pass."""
        due = (
            sa.select(deliveries.c.id)
            .where(
                deliveries.c.status == D.SCHEDULED,
                deliveries.c.due_at <= (due_by or now),
                deliveries.c.channel.in_(channels),
                deliveries.c.id.not_in(list(exclude)),
            )
            .order_by(deliveries.c.due_at, deliveries.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        with self.engine.begin() as conn:
            ids = list(conn.scalars(due))
            if not ids:
                return []
            claim = dict(status=D.PUBLISHING, attempt=deliveries.c.attempt + 1, lease_until=now + lease, updated_at=now)
            conn.execute(deliveries.update().where(deliveries.c.id.in_(ids)).values(claim))
            rows = conn.execute(sa.select(deliveries).where(deliveries.c.id.in_(ids)).order_by(deliveries.c.id)).all()
            for row in rows:
                _audit(conn, row.post_id, row.id, now, "worker", D.SCHEDULED, D.PUBLISHING, f"attempt {row.attempt}")
        return [_delivery(row) for row in rows]

    def finish(
        self,
        delivery: Delivery,
        status: DeliveryStatus,
        now: dt.datetime,
        receipt: Receipt | None = None,
        error: str | None = None,
        retry_at: dt.datetime | None = None,
    ) -> None:
        """Record a worker's outcome; fenced by the attempt the worker claimed."""
        values: dict[str, Any] = dict(status=status, lease_until=None, updated_at=now, error=error)
        if receipt is not None:
            values.update(remote_id=receipt.remote_id, url=receipt.url)
        if retry_at is not None:
            values["due_at"] = retry_at
        fenced = (deliveries.c.id == delivery.id) & (deliveries.c.attempt == delivery.attempt)
        with self.engine.begin() as conn:
            # the real source: a late receipt may find its delivery `unknown` (swept) rather than publishing
            source = conn.scalar(sa.select(deliveries.c.status).where(fenced).with_for_update())
            self._transition(conn, deliveries, fenced, status, DELIVERY_FROM[status], values, f"delivery {delivery.id}")
            _audit(conn, delivery.post_id, delivery.id, now, "worker", source, status, error)

    def save_progress(self, delivery: Delivery, progress: dict[str, str], now: dt.datetime) -> None:
        """Durably note what an attempt did so far; fenced, so a worker that lost its lease stops here."""
        fenced = (deliveries.c.id == delivery.id) & (deliveries.c.attempt == delivery.attempt)
        with self.engine.begin() as conn:
            values = dict(progress=progress, updated_at=now)
            self._transition(conn, deliveries, fenced, D.PUBLISHING, {D.PUBLISHING}, values, f"delivery {delivery.id}")

    def expired_leases(self, now: dt.datetime, channels: Sequence[str]) -> list[Delivery]:
        query = sa.select(deliveries).where(
            deliveries.c.status == D.PUBLISHING, deliveries.c.lease_until < now, deliveries.c.channel.in_(channels)
        )
        with self.engine.connect() as conn:
            return [_delivery(row) for row in conn.execute(query)]

    # -- channels: shared tokens and pauses ---------------------------------------------------

    def token(self, key: str) -> Token | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(tokens).where(tokens.c.key == key)).first()
        return _token(row) if row is not None else None

    def renew_token(
        self, key: str, good: Callable[[Token | None], bool], fetch: Callable[[Token | None], Token]
    ) -> Token:
        """Under a row lock, keep the token if `good` accepts it, else fetch and store a new one."""
        with self.engine.begin() as conn:
            conn.execute(_insert(conn).values(key=key, extra={}).on_conflict_do_nothing())
            row = conn.execute(sa.select(tokens).where(tokens.c.key == key).with_for_update()).one()
            current = _token(row)
            if good(current):
                return current  # type: ignore[return-value]
            token = fetch(current)
            values = dict(value=token.value, expires_at=token.expires_at, account=token.account, extra=token.extra)
            conn.execute(tokens.update().where(tokens.c.key == key).values(values))
        return token

    def pause(self, channel: str, reason: str, now: dt.datetime) -> None:
        with self.engine.begin() as conn:
            conn.execute(pauses.delete().where(pauses.c.channel == channel))
            conn.execute(pauses.insert().values(channel=channel, reason=reason, at=now))

    def resume(self, channel: str) -> bool:
        with self.engine.begin() as conn:
            return conn.execute(pauses.delete().where(pauses.c.channel == channel)).rowcount > 0

    def paused(self) -> dict[str, str]:
        with self.engine.connect() as conn:
            return {row.channel: row.reason for row in conn.execute(sa.select(pauses))}

    # -- transitions ------------------------------------------------------------------------

    def _move_post(
        self, conn: sa.Connection, post_id: int, target: PostStatus, actor: str, now: dt.datetime, reason: str | None
    ) -> None:
        current = conn.scalar(sa.select(posts.c.status).where(posts.c.id == post_id))
        if current is None:
            raise NotFound("post", post_id)
        values = dict(status=target, updated_at=now)
        self._transition(conn, posts, posts.c.id == post_id, target, POST_FROM[target], values, f"post {post_id}")
        _audit(conn, post_id, None, now, actor, current, target, reason)

    def _move_deliveries(
        self,
        conn: sa.Connection,
        post_id: int,
        source: DeliveryStatus,
        target: DeliveryStatus,
        actor: str,
        now: dt.datetime,
        reason: str | None,
    ) -> None:
        where = (deliveries.c.post_id == post_id) & (deliveries.c.status == source)
        ids = list(conn.scalars(sa.select(deliveries.c.id).where(where)))
        conn.execute(deliveries.update().where(where).values(status=target, updated_at=now))
        for delivery_id in ids:
            _audit(conn, post_id, delivery_id, now, actor, source, target, reason)

    @staticmethod
    def _transition(
        conn: sa.Connection,
        table: sa.Table,
        where: sa.ColumnElement[bool],
        target: str,
        allowed: Iterable[str],
        values: dict[str, Any],
        item: str,
    ) -> None:
        result = conn.execute(table.update().where(where, table.c.status.in_(list(allowed))).values(values))
        if result.rowcount == 0:
            current = conn.scalar(sa.select(table.c.status).where(where))
            raise InvalidTransition(item, current or "gone (or claimed again by another worker)", target)


def _delivery_row(
    post_id: int, variant: Variant, status: DeliveryStatus, due: dt.datetime, now: dt.datetime
) -> dict[str, Any]:
    return dict(
        post_id=post_id,
        channel=variant.channel,
        lang=variant.lang,
        status=status,
        attempt=0,
        due_at=due,
        payload=variant.to_json(),
        progress={},
        updated_at=now,
    )


def _audit(
    conn: sa.Connection,
    post_id: int,
    delivery_id: int | None,
    at: dt.datetime,
    actor: str,
    source: str | None,
    target: str,
    reason: str | None,
) -> None:
    row = dict(post_id=post_id, delivery_id=delivery_id, at=at, actor=actor, from_status=source, to_status=target)
    conn.execute(audit.insert().values(row | {"reason": reason}))


def _delivery(row: sa.Row[Any]) -> Delivery:
    return Delivery(
        id=row.id,
        post_id=row.post_id,
        status=DeliveryStatus(row.status),
        attempt=row.attempt,
        due_at=row.due_at,
        variant=Variant.from_json(row.payload),
        remote_id=row.remote_id,
        url=row.url,
        error=row.error,
        progress=row.progress or {},
    )


def _token(row: sa.Row[Any]) -> Token | None:
    if row.value is None:
        return None
    return Token(row.value, row.expires_at, row.account, row.extra or {})


def _insert(conn: sa.Connection) -> Any:
    """INSERT … ON CONFLICT DO NOTHING in this connection's dialect."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(tokens)


def _group(rows: Iterable[sa.Row[Any]]) -> dict[int, list[Delivery]]:
    grouped: dict[int, list[Delivery]] = {}
    for row in rows:
        grouped.setdefault(row.post_id, []).append(_delivery(row))
    return grouped


def _post(row: sa.Row[Any], post_deliveries: Iterable[Delivery]) -> Post:
    return Post(row.id, row.job_id, row.fire_time, PostStatus(row.status), row.title, tuple(post_deliveries))
