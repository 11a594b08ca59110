"""The queue: posts, their deliveries and an audit trail, with guarded state transitions.

Every transition is one conditional UPDATE (`WHERE status IN allowed`), so two actors racing
for the same item cannot both win; the loser gets InvalidTransition. Worker updates also say
`AND attempt = ?`, so a worker whose lease was taken over cannot overwrite the new owner's work.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Collection, Iterable, Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from ..errors import InvalidTransition, NotFound
from ..model import FactSet, Variant
from ..records import AuditEvent, Delivery, DeliveryStatus, Edit, MediaFile, Post, PostStatus, Receipt, Token
from . import channels as per_channel
from . import engine as engines
from . import fires as job_fires
from . import listing, migrations, outcomes, snapshot
from .channels import BreakerState, ClaimRule, Quota
from .fires import FireOutcome, JobFire
from .tables import audit, deliveries, edits, media, pauses, post_facts, posts, tokens

__all__ = ["BreakerState", "ClaimRule", "FireOutcome", "JobFire", "Quota", "Store"]

P, D = PostStatus, DeliveryStatus
POST_FROM: dict[PostStatus, set[PostStatus]] = {
    P.IN_REVIEW: {P.DRAFT, P.APPROVED},
    P.APPROVED: {P.DRAFT, P.IN_REVIEW},
    P.REJECTED: {P.DRAFT, P.IN_REVIEW},
}
DELIVERY_FROM: dict[DeliveryStatus, set[DeliveryStatus]] = {
    D.PENDING: {D.SCHEDULED, D.FAILED},  # its post went back to review (an edit)
    D.SCHEDULED: {D.PENDING, D.PUBLISHING, D.FAILED, D.UNKNOWN},
    D.PUBLISHING: {D.SCHEDULED},
    D.PUBLISHED: {D.PUBLISHING, D.UNKNOWN},
    D.FAILED: {D.PUBLISHING},
    D.UNKNOWN: {D.PUBLISHING},
    D.CANCELLED: {D.PENDING, D.SCHEDULED, D.FAILED},
}
UNSENT = (D.PENDING, D.SCHEDULED, D.FAILED)  # what an editor may still change, move or cancel


class Store:
    def __init__(self, url: str) -> None:
        self.engine = engines.create(url)
        self.rules: dict[str, ClaimRule] = {}  # each channel's limits, enforced by claim_due (publish/policies.py)
        self._clock_offset: dt.timedelta | None = None  # the callers' clock less the database's (leases)
        self._breakers_seen: dict[str, BreakerState] = {}  # as this process last read or wrote them
        self._autocommit = outcomes.autocommit_engine(self.engine)  # a worker's hot path, on PostgreSQL

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
        facts: FactSet | None = None,
        files: Sequence[MediaFile] = (),
    ) -> int | None:
        """Queue one fire's post; None when this (job, fire time) was already queued.

        The UNIQUE(job_id, fire_time) constraint decides, so racing schedulers make one post.
        `facts` are kept as they are now (edits are checked against them), `files` are its cards.
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
                if facts is not None:
                    conn.execute(post_facts.insert().values(post_id=post_id, facts=snapshot.dump(facts)))
                _add_media(conn, files, now)
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

    # -- job fires (fires.py): one scheduler makes each fire, and each fire's outcome is kept ----

    def start_fire(self, job_id: str, fire_time: dt.datetime, now: dt.datetime) -> bool:
        """Claim a job fire; False when another scheduler made it or is making it."""
        with self.engine.begin() as conn:
            return job_fires.start(conn, job_id, fire_time, now)

    def finish_fire(
        self,
        job_id: str,
        fire_time: dt.datetime,
        now: dt.datetime,
        outcome: FireOutcome,
        post_id: int | None = None,
        reason: str | None = None,
    ) -> None:
        """Record what a claimed fire came to: the post it queued, or why it failed."""
        with self.engine.begin() as conn:
            job_fires.finish(conn, job_id, fire_time, now, outcome, post_id, reason)

    def last_fire(self, job_id: str) -> JobFire | None:
        """The job's latest recorded fire (by fire time), whatever came of it."""
        with self.engine.connect() as conn:
            return job_fires.last(conn, job_id)

    def fires(self, job_id: str | None = None) -> list[JobFire]:
        with self.engine.connect() as conn:
            return job_fires.every(conn, job_id)

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
            query = sa.select(deliveries).where(deliveries.c.post_id == post_id).order_by(deliveries.c.id)
            rows = conn.execute(query).all()
        return _post(row, [_delivery(r) for r in rows])

    def audit_trail(self, post_id: int) -> list[AuditEvent]:
        query = sa.select(audit).where(audit.c.post_id == post_id).order_by(audit.c.id)
        with self.engine.connect() as conn:
            return [
                AuditEvent(r.at, r.actor, r.from_status, r.to_status, r.reason, r.delivery_id)
                for r in conn.execute(query)
            ]

    # -- editors' actions (review.py drives these; each one transaction, guarded and audited) --

    def facts(self, post_id: int) -> FactSet | None:
        """The facts the post was composed from, as they were then; None for free text."""
        with self.engine.connect() as conn:
            data = conn.scalar(sa.select(post_facts.c.facts).where(post_facts.c.post_id == post_id))
        return snapshot.load(data) if data is not None else None

    def edit(
        self, post_id: int, channel: str, lang: str, revise: Callable[[Variant], Variant], actor: str, now: dt.datetime
    ) -> Edit:
        """Replace one unsent delivery's variant with `revise(current)` (which refuses by raising),
        keep the text before and after, and send an approved post back to review."""
        where = (deliveries.c.post_id == post_id) & (deliveries.c.channel == channel) & (deliveries.c.lang == lang)
        with self.engine.begin() as conn:
            row = conn.execute(sa.select(deliveries).where(where).with_for_update()).first()
            if row is None:
                raise NotFound("delivery", f"{post_id}/{channel}/{lang}")
            before, after = Variant.from_json(row.payload).text, self._rewrite(conn, row, revise, now).text
            self._back_to_review(conn, post_id, actor, now, f"edited {channel} ({lang})")
            values = dict(post_id=post_id, delivery_id=row.id, channel=channel, lang=lang, at=now, actor=actor)
            values |= dict(before=before, after=after)
            edit_id = conn.execute(edits.insert().values(values).returning(edits.c.id)).scalar_one()
        return Edit(edit_id, post_id, channel, lang, now, actor, before, after)

    def revise_all(
        self, post_id: int, revise: Callable[[Variant], Variant], actor: str, now: dt.datetime, reason: str
    ) -> int:
        """`revise` every unsent delivery of a post (new cards, say); an approved post whose
        deliveries changed goes back to review. Returns how many changed."""
        where = (deliveries.c.post_id == post_id) & deliveries.c.status.in_(UNSENT)
        with self.engine.begin() as conn:
            rows = conn.execute(sa.select(deliveries).where(where).order_by(deliveries.c.id).with_for_update()).all()
            changed = sum(Variant.from_json(r.payload) != self._rewrite(conn, r, revise, now) for r in rows)
            if changed:
                self._back_to_review(conn, post_id, actor, now, reason)
        return changed

    def edits(self, post_id: int) -> list[Edit]:
        query = sa.select(edits).where(edits.c.post_id == post_id).order_by(edits.c.id)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [Edit(r.id, r.post_id, r.channel, r.lang, r.at, r.actor, r.before, r.after) for r in rows]

    def reschedule(
        self, post_id: int, when: dt.datetime, actor: str, now: dt.datetime, channel: str | None = None
    ) -> int:
        """Move the unsent deliveries (of one channel, if given) to `when`; a failed one of an
        approved post is scheduled again. Returns how many moved."""
        where = (deliveries.c.post_id == post_id) & deliveries.c.status.in_(UNSENT)
        where &= deliveries.c.channel == channel if channel is not None else sa.true()
        with self.engine.begin() as conn:
            approved = self._post_status(conn, post_id) == P.APPROVED
            rows = conn.execute(sa.select(deliveries).where(where).order_by(deliveries.c.id).with_for_update()).all()
            for row in rows:
                target = D.SCHEDULED if approved and row.status == D.FAILED else D(row.status)
                self._move(conn, row, target, actor, now, f"rescheduled to {when.isoformat()}", due_at=when)
        return len(rows)

    def cancel(self, post_id: int, actor: str, reason: str, now: dt.datetime) -> int:
        """Cancel every delivery of the post not sent yet; returns how many."""
        where = (deliveries.c.post_id == post_id) & deliveries.c.status.in_(UNSENT)
        with self.engine.begin() as conn:
            self._post_status(conn, post_id)
            rows = conn.execute(sa.select(deliveries).where(where).order_by(deliveries.c.id).with_for_update()).all()
            for row in rows:
                self._move(conn, row, D.CANCELLED, actor, now, reason)
        return len(rows)

    def retry(self, delivery_id: int, actor: str, now: dt.datetime) -> None:
        """A failed delivery of an approved post is scheduled again, due now, with its attempts afresh."""
        afresh = dict(due_at=now, error=None, given_back=deliveries.c.attempt)
        self._editor_move(delivery_id, {D.FAILED}, D.SCHEDULED, actor, now, "retry", **afresh)

    def resolve(self, delivery_id: int, actor: str, now: dt.datetime, url: str | None = None) -> None:
        """Settle an `unknown` delivery: published at `url` (found by an editor), or, without a URL,
        scheduled to be published again, due now, with its attempts afresh."""
        if url is not None:
            reason = f"found published at {url}"
            self._editor_move(delivery_id, {D.UNKNOWN}, D.PUBLISHED, actor, now, reason, url=url, error=None)
        else:
            afresh = dict(due_at=now, given_back=deliveries.c.attempt)
            self._editor_move(delivery_id, {D.UNKNOWN}, D.SCHEDULED, actor, now, "publish again", **afresh)

    def add_media(self, files: Iterable[MediaFile], now: dt.datetime) -> None:
        with self.engine.begin() as conn:
            _add_media(conn, files, now)

    def media(self) -> list[MediaFile]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(media).order_by(media.c.created_at, media.c.sha256)).all()
        return [MediaFile(r.sha256, Path(r.path), r.width, r.height, r.format, r.bytes) for r in rows]

    # -- listings for the preview (listing.py: narrow columns, filtered and counted in SQL) ---

    def queue_page(self, where: listing.QueueFilter, limit: int, offset: int = 0) -> listing.QueuePage:
        return listing.queue_page(self.engine, where, limit, offset)

    def upcoming(self, start: dt.datetime, end: dt.datetime) -> list[listing.DeliveryRow]:
        return listing.upcoming(self.engine, start, end)

    def fired_between(self, start: dt.datetime, end: dt.datetime) -> set[tuple[str, dt.datetime]]:
        return listing.fired(self.engine, start, end)

    def delivery_post(self, delivery_id: int) -> int:
        return listing.delivery_post(self.engine, delivery_id)

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
        each claim bumps the fencing attempt. `exclude`: ids this worker already tried in this pass.

        Each channel gives at most the room its rule and breaker leave (channels.py), counted in this
        transaction; the lease runs on the database's clock."""
        with self.engine.begin() as conn:
            per_channel.lock(conn, channels)
            room = per_channel.room(conn, channels, self.rules, self._seen(conn, channels), now, limit)
            ids = _due_ids(conn, room, limit, due_by or now, exclude)
            if not ids:
                return []
            lease_until = self._database_time(conn, now) + lease
            claim = dict(status=D.PUBLISHING, attempt=deliveries.c.attempt + 1, lease_until=lease_until, updated_at=now)
            taken = deliveries.update().where(deliveries.c.id.in_(ids)).values(claim).returning(*deliveries.c)
            rows = sorted(conn.execute(taken), key=lambda row: row.id)
            trail = [(r.post_id, r.id, D.SCHEDULED, D.PUBLISHING, f"attempt {r.attempt}") for r in rows]
            _audit_all(conn, now, "worker", trail)
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
        self._record(delivery, outcomes.outcome(delivery, status, now, error, retry_at, receipt))

    def give_back(
        self,
        delivery: Delivery,
        status: DeliveryStatus,
        now: dt.datetime,
        error: str | None = None,
        retry_at: dt.datetime | None = None,
    ) -> None:
        """Record an outcome that does not count toward the delivery's attempts (handed back unsent, swept
        after its worker's lease ran out, held back by its channel); fenced like finish. The fencing
        attempt number is never lowered: `given_back` counts these claims instead."""
        self._record(delivery, outcomes.outcome(delivery, status, now, error, retry_at, refund=True))

    def attempts_charged(self, delivery: Delivery) -> int:
        """The delivery's claims that count toward max_attempts: its attempt number less those given back."""
        query = sa.select(deliveries.c.attempt - deliveries.c.given_back).where(deliveries.c.id == delivery.id)
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def _record(self, delivery: Delivery, params: dict[str, Any]) -> None:
        status, now, error = params["target"], params["now"], params["reason"]
        at_once = functools.partial(outcomes.record_at_once, params=params)
        if self._autocommit is None or not outcomes.run(self._autocommit, at_once):
            with self.engine.begin() as conn:
                source = outcomes.record(conn, params, DELIVERY_FROM[status])
                _audit(conn, delivery.post_id, delivery.id, now, "worker", source, status, error)
        if status == D.PUBLISHED and self._breakers_seen.get(delivery.channel, per_channel.CLOSED).failures:
            self.close_breaker(delivery.channel)  # the service works: no more failures in a row

    def save_progress(self, delivery: Delivery, progress: dict[str, str], now: dt.datetime) -> None:
        """Durably note what an attempt did so far; fenced, so a worker that lost its lease stops here.
        One statement: on PostgreSQL it runs on its own, outside BEGIN and COMMIT."""
        save = functools.partial(outcomes.save_progress, delivery=delivery, progress=progress, now=now)
        if self._autocommit is not None:
            outcomes.run(self._autocommit, save)
        else:
            with self.engine.begin() as conn:
                save(conn)

    def expired_leases(self, now: dt.datetime, channels: Sequence[str]) -> list[Delivery]:
        """Deliveries still publishing whose lease has run out on the database's clock."""
        with self.engine.connect() as conn:
            expired = deliveries.c.lease_until < self._database_time(conn, now)
            query = sa.select(deliveries).where(
                deliveries.c.status == D.PUBLISHING, expired, deliveries.c.channel.in_(channels)
            )
            return [_delivery(row) for row in conn.execute(query)]

    def _database_time(self, conn: sa.Connection, now: dt.datetime) -> dt.datetime:
        """`now` on the database's clock, where leases are measured, so that workers whose clocks disagree
        agree on them. The offset between the callers' clock and the database's is measured once per
        Store: a test's FakeClock that jumps ahead moves lease time with it."""
        if self._clock_offset is None:
            self._clock_offset = now - per_channel.database_now(conn)
        return now - self._clock_offset

    def next_due(self, channels: Sequence[str]) -> dt.datetime | None:
        """When the earliest scheduled delivery of these channels is due, if any is."""
        query = sa.select(sa.func.min(deliveries.c.due_at)).where(
            deliveries.c.status == D.SCHEDULED, deliveries.c.channel.in_(channels)
        )
        with self.engine.connect() as conn:
            due: dt.datetime | None = conn.scalar(query)
        return due

    # -- channels: what they may post, breakers ----------------------------------------------

    def postpone(self, channel: str, now: dt.datetime, until: dt.datetime, reason: str) -> int:
        """The channel's deliveries due by now wait until `until`, each move audited; no attempt is used."""
        due = (deliveries.c.channel == channel) & (deliveries.c.status == D.SCHEDULED) & (deliveries.c.due_at <= now)
        with self.engine.begin() as conn:
            rows = conn.execute(sa.select(deliveries.c.id, deliveries.c.post_id).where(due)).all()
            if rows:
                moved = deliveries.c.id.in_([row.id for row in rows])
                conn.execute(deliveries.update().where(moved).values(due_at=until, error=reason, updated_at=now))
                _audit_all(conn, now, "worker", [(r.post_id, r.id, D.SCHEDULED, D.SCHEDULED, reason) for r in rows])
        return len(rows)

    def published_since(self, channel: str, since: dt.datetime) -> tuple[int, dt.datetime | None]:
        """How many of the channel's deliveries were published since then, and when the first of them was."""
        with self.engine.connect() as conn:
            return per_channel.published_since(conn, channel, since)

    def breakers(self, channels: Sequence[str]) -> dict[str, BreakerState]:
        """The breakers of these channels (closed unless they ever tripped)."""
        with self.engine.connect() as conn:
            return self._seen(conn, channels)

    def change_breaker(self, channel: str, change: Callable[[BreakerState], BreakerState]) -> BreakerState:
        """Under the breaker's row lock, replace its state with `change(state)`."""
        with self.engine.begin() as conn:
            state = self._breakers_seen[channel] = per_channel.change_breaker(conn, channel, change)
        return state

    def close_breaker(self, channel: str) -> None:
        """No failures in a row and closed. A receipt does this by itself (in finish) when the breaker was
        tripped as this process last saw it: at its claim, a moment before, or at its own failure."""
        with self.engine.begin() as conn:
            per_channel.close_breaker(conn, channel)
        self._breakers_seen[channel] = per_channel.CLOSED

    def _seen(self, conn: sa.Connection, channels: Sequence[str]) -> dict[str, BreakerState]:
        states = per_channel.breaker_states(conn, channels)
        self._breakers_seen.update({channel: states.get(channel, per_channel.CLOSED) for channel in channels})
        return {channel: self._breakers_seen[channel] for channel in channels}

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

    def _post_status(self, conn: sa.Connection, post_id: int) -> PostStatus:
        current = conn.scalar(sa.select(posts.c.status).where(posts.c.id == post_id))
        if current is None:
            raise NotFound("post", post_id)
        return PostStatus(current)

    def _rewrite(
        self, conn: sa.Connection, row: sa.Row[Any], revise: Callable[[Variant], Variant], now: dt.datetime
    ) -> Variant:
        """An unsent delivery's payload replaced by `revise` of it."""
        if row.status not in UNSENT:
            raise InvalidTransition(f"delivery {row.id}", row.status, "edited")
        variant = revise(Variant.from_json(row.payload))
        values = dict(payload=variant.to_json(), updated_at=now)
        self._transition(conn, deliveries, deliveries.c.id == row.id, row.status, UNSENT, values, f"delivery {row.id}")
        return variant

    def _back_to_review(self, conn: sa.Connection, post_id: int, actor: str, now: dt.datetime, reason: str) -> None:
        """An approved post that changed waits for approval again, and so does all it has not sent."""
        if self._post_status(conn, post_id) != P.APPROVED:
            return
        self._move_post(conn, post_id, P.IN_REVIEW, actor, now, reason)
        where = (deliveries.c.post_id == post_id) & deliveries.c.status.in_(DELIVERY_FROM[D.PENDING])
        for row in conn.execute(sa.select(deliveries).where(where).order_by(deliveries.c.id)).all():
            self._move(conn, row, D.PENDING, actor, now, reason)

    def _move(
        self, conn: sa.Connection, row: sa.Row[Any], target: DeliveryStatus, actor: str, now: dt.datetime,
        reason: str | None, **values: Any,
    ) -> None:  # fmt: skip
        """One delivery, read under lock as `row`, to `target` (or kept in its state, with new values)."""
        legal = {row.status} if target == row.status or row.status in DELIVERY_FROM[target] else set()
        values = dict(status=target, updated_at=now) | values
        self._transition(conn, deliveries, deliveries.c.id == row.id, target, legal, values, f"delivery {row.id}")
        _audit(conn, row.post_id, row.id, now, actor, row.status, target, reason)

    def _editor_move(
        self, delivery_id: int, sources: set[DeliveryStatus], target: DeliveryStatus, actor: str, now: dt.datetime,
        reason: str, **values: Any,
    ) -> None:  # fmt: skip
        """An editor moves one delivery from one of `sources`; only an approved post's is ever scheduled."""
        with self.engine.begin() as conn:
            row = conn.execute(sa.select(deliveries).where(deliveries.c.id == delivery_id).with_for_update()).first()
            if row is None:
                raise NotFound("delivery", delivery_id)
            item = f"delivery {delivery_id}"
            if row.status not in sources:
                raise InvalidTransition(item, row.status, target)
            if target == D.SCHEDULED and self._post_status(conn, row.post_id) != P.APPROVED:
                raise InvalidTransition(f"{item} (post {row.post_id} is not approved)", row.status, target)
            self._move(conn, row, target, actor, now, reason, **values)

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
    conn.execute(audit.insert(), row | {"reason": reason})  # parameters, not values(): compiled once


def _audit_all(
    conn: sa.Connection, at: dt.datetime, actor: str, trail: Sequence[tuple[int, int, str, str, str | None]]
) -> None:
    """Several deliveries' transitions, (post, delivery, from, to, reason) each, in one statement."""
    rows = [
        dict(post_id=post, delivery_id=delivery, at=at, actor=actor, from_status=source, to_status=target, reason=why)
        for post, delivery, source, target, why in trail
    ]
    conn.execute(audit.insert(), rows)


def _due_ids(
    conn: sa.Connection, room: dict[str, int], limit: int, due_by: dt.datetime, exclude: Collection[int]
) -> list[int]:
    """At most `limit` due deliveries' ids, locked (skipping any another claim holds), oldest first within
    each channel's room: the channels with less room than `limit` first, then the others together."""
    ids: list[int] = []
    for channel, most in room.items():
        if 0 < most < limit:
            ids += conn.scalars(_due(due_by, exclude, [channel], most))
    unlimited = [channel for channel, most in room.items() if most >= limit]
    if unlimited and len(ids) < limit:
        ids += conn.scalars(_due(due_by, exclude, unlimited, limit - len(ids)))
    return ids


def _due(due_by: dt.datetime, exclude: Collection[int], channels: list[str], limit: int) -> sa.Select[tuple[int]]:
    return (
        sa.select(deliveries.c.id)
        .where(
            deliveries.c.status == D.SCHEDULED,
            deliveries.c.due_at <= due_by,
            deliveries.c.channel.in_(channels),
            deliveries.c.id.not_in(list(exclude)),
        )
        .order_by(deliveries.c.due_at, deliveries.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )


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


def _insert(conn: sa.Connection, table: sa.Table = tokens) -> Any:
    """INSERT … ON CONFLICT DO NOTHING in this connection's dialect."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


def _add_media(conn: sa.Connection, files: Iterable[MediaFile], now: dt.datetime) -> None:
    """Record content-addressed files once each (the same bytes are the same file)."""
    rows = {f.sha256: dict(sha256=f.sha256, path=str(f.path), width=f.width, height=f.height, format=f.format,
                           bytes=f.bytes, created_at=now) for f in files}  # fmt: skip
    if rows:
        conn.execute(_insert(conn, media).on_conflict_do_nothing(), list(rows.values()))


def _group(rows: Iterable[sa.Row[Any]]) -> dict[int, list[Delivery]]:
    grouped: dict[int, list[Delivery]] = {}
    for row in rows:
        grouped.setdefault(row.post_id, []).append(_delivery(row))
    return grouped


def _post(row: sa.Row[Any], post_deliveries: Iterable[Delivery]) -> Post:
    return Post(row.id, row.job_id, row.fire_time, PostStatus(row.status), row.title, tuple(post_deliveries))
