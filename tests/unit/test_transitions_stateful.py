"""The queue's post and delivery transitions, driven in any order by hypothesis, on SQLite and PostgreSQL.

Workers claim, finish with every outcome and sweep expired leases; editors approve, reject, edit,
reschedule, cancel, retry and resolve (the Store calls pipeline/review.py makes). A model written from
the house plan and the review interface (not from the store's tables) says which moves are allowed;
after every step the database must agree with it, and these hold: each delivery is in exactly one
state (a lease only while publishing, a receipt only once published), published never leaves
published, attempts never go down, and every transition of a post or a delivery is audited, in order.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import hypothesis.strategies as st
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, settings
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test

from pipeline.errors import InvalidTransition
from pipeline.model import Variant
from pipeline.records import Delivery, DeliveryStatus, PostStatus, Receipt
from pipeline.store import Store
from pipeline.store.tables import audit, deliveries, posts

D, P = DeliveryStatus, PostStatus
NOW = dt.datetime(2026, 11, 30, 1, 0, tzinfo=dt.UTC)
LEASE = dt.timedelta(minutes=5)
# What a worker may record for a delivery it claimed, and from where (a late receipt finds it `unknown`).
FINISH_FROM = {
    D.PUBLISHED: {D.PUBLISHING, D.UNKNOWN},
    D.FAILED: {D.PUBLISHING},
    D.UNKNOWN: {D.PUBLISHING},
    D.SCHEDULED: {D.PUBLISHING, D.PENDING, D.FAILED, D.UNKNOWN},
}
REVIEWABLE = {P.DRAFT, P.IN_REVIEW}
UNSENT = {D.PENDING, D.SCHEDULED, D.FAILED}  # what an editor may still edit, move or cancel
Act = Callable[[], object]


@dataclass
class Expected:
    """The model's delivery: its state, fencing attempt, due time, and every move it made."""

    post_id: int
    lang: str
    status: D
    due: dt.datetime
    attempt: int = 0
    path: list[tuple[str, str]] = field(default_factory=list)

    def move(self, target: D) -> None:
        self.path.append((self.status, target))
        self.status = target


@dataclass
class ExpectedPost:
    status: P
    path: list[tuple[str | None, str]]

    def move(self, target: P) -> None:
        self.path.append((self.status, target))
        self.status = target


class Transitions(RuleBasedStateMachine):
    queued = Bundle("queued")

    def __init__(self, store: Store) -> None:
        super().__init__()
        self.store, self.now = store, NOW
        self.channel = f"ch-{uuid.uuid4().hex[:12]}"  # this run's posts and deliveries only, in a shared database
        self.posts: dict[int, ExpectedPost] = {}
        self.deliveries: dict[int, Expected] = {}
        self.handles: list[Delivery] = []  # what workers claimed and still hold (stale ones too)
        self.seen_attempts: dict[int, int] = {}
        self.seen_published: set[int] = set()

    # -- the scheduler queues, editors review ---------------------------------------------------

    @rule(target=queued, auto=st.booleans())
    def queue(self, auto: bool) -> int:
        variants = [Variant(self.channel, "outbox", lang, f"text {lang}") for lang in ("en", "zh")]
        fire = self.now - dt.timedelta(microseconds=len(self.posts) + 1)  # due at once, unique per post
        post_id = self.store.add_post(self.channel, fire, "t", variants, auto_approve=auto, now=self.now)
        assert post_id is not None
        status = P.APPROVED if auto else P.IN_REVIEW
        self.posts[post_id] = ExpectedPost(status, [(None, status)])
        for delivery in self.store.post(post_id).deliveries:
            lang = delivery.variant.lang
            self.deliveries[delivery.id] = Expected(post_id, lang, D.SCHEDULED if auto else D.PENDING, fire)
        return post_id

    @rule(post_id=queued)
    def approve(self, post_id: int) -> None:
        self._review(post_id, P.APPROVED, D.SCHEDULED, lambda: self.store.approve(post_id, "editor", self.now))

    @rule(post_id=queued, reason=st.sampled_from(["outdated", "off topic"]))
    def reject(self, post_id: int, reason: str) -> None:
        self._review(post_id, P.REJECTED, D.CANCELLED, lambda: self.store.reject(post_id, "editor", reason, self.now))

    def _review(self, post_id: int, target: P, pending_to: D, act: Act) -> None:
        if not self._allowed(self.posts[post_id].status in REVIEWABLE, act):
            return
        self.posts[post_id].move(target)
        for expected in self._of(post_id, {D.PENDING}):
            expected.move(pending_to)

    @precondition(lambda self: self.deliveries)
    @rule(data=st.data())
    def edit(self, data: st.DataObject) -> None:
        """An editor rewrites one unsent variant; an approved post goes back to review, with all it has not sent."""
        expected = self.deliveries[data.draw(st.sampled_from(sorted(self.deliveries)))]
        revise: Callable[[Variant], Variant] = lambda v: dataclasses.replace(v, text=v.text + "!")  # noqa: E731
        act = lambda: self.store.edit(expected.post_id, self.channel, expected.lang, revise, "editor", self.now)  # noqa: E731
        if not self._allowed(expected.status in UNSENT, act) or self.posts[expected.post_id].status != P.APPROVED:
            return
        self.posts[expected.post_id].move(P.IN_REVIEW)
        for other in self._of(expected.post_id, {D.SCHEDULED, D.FAILED}):
            other.move(D.PENDING)

    @rule(post_id=queued, later=st.integers(0, 3600))
    def reschedule(self, post_id: int, later: int) -> None:
        """Unsent deliveries move to a new time (each move audited); a failed one of an approved post is sent again."""
        when = self.now + dt.timedelta(seconds=later)
        moved = self.store.reschedule(post_id, when, "editor", self.now)
        unsent = self._of(post_id, UNSENT)
        assert moved == len(unsent)
        for expected in unsent:
            again = self.posts[post_id].status == P.APPROVED and expected.status == D.FAILED
            expected.move(D.SCHEDULED if again else expected.status)
            expected.due = when

    @rule(post_id=queued, reason=st.sampled_from(["event moved", "duplicate"]))
    def cancel(self, post_id: int, reason: str) -> None:
        cancelled = self.store.cancel(post_id, "editor", reason, self.now)
        unsent = self._of(post_id, UNSENT)
        assert cancelled == len(unsent)
        for expected in unsent:
            expected.move(D.CANCELLED)

    @precondition(lambda self: self.deliveries)
    @rule(data=st.data())
    def retry(self, data: st.DataObject) -> None:
        delivery_id = data.draw(st.sampled_from(sorted(self.deliveries)))
        expected = self.deliveries[delivery_id]
        approved = self.posts[expected.post_id].status == P.APPROVED
        if self._allowed(
            expected.status == D.FAILED and approved, lambda: self.store.retry(delivery_id, "ed", self.now)
        ):
            expected.move(D.SCHEDULED)
            expected.due = self.now

    @precondition(lambda self: self.deliveries)
    @rule(data=st.data(), found=st.booleans())
    def resolve(self, data: st.DataObject, found: bool) -> None:
        """An editor settles an `unknown` delivery: found published at a URL, or to be published again."""
        delivery_id = data.draw(st.sampled_from(sorted(self.deliveries)))
        expected = self.deliveries[delivery_id]
        url = f"https://example.org/{delivery_id}" if found else None
        possible = expected.status == D.UNKNOWN and (found or self.posts[expected.post_id].status == P.APPROVED)
        if self._allowed(possible, lambda: self.store.resolve(delivery_id, "editor", self.now, url)):
            expected.move(D.PUBLISHED if found else D.SCHEDULED)
            expected.due = expected.due if found else self.now

    # -- workers --------------------------------------------------------------------------------

    @rule()
    def claim(self) -> None:
        claimed = self.store.claim_due(self.now, LEASE, [self.channel])
        due = {i for i, e in self.deliveries.items() if e.status == D.SCHEDULED and e.due <= self.now}
        assert {d.id for d in claimed} == due
        for delivery in claimed:
            expected = self.deliveries[delivery.id]
            expected.move(D.PUBLISHING)
            expected.attempt += 1
            assert delivery.attempt == expected.attempt
        self.handles += claimed

    @precondition(lambda self: self.handles)
    @rule(data=st.data(), outcome=st.sampled_from(sorted(FINISH_FROM)), retry_in=st.integers(0, 900))
    def finish(self, data: st.DataObject, outcome: D, retry_in: int) -> None:
        """A worker records an outcome with a delivery it claimed, perhaps long ago (fenced by the attempt)."""
        handle = data.draw(st.sampled_from(self.handles))
        self._finish(handle, outcome, self.now + dt.timedelta(seconds=retry_in))

    @rule(outcome=st.sampled_from([D.UNKNOWN, D.SCHEDULED]))
    def sweep(self, outcome: D) -> None:
        """The leases run out: the sweeper settles what dead workers left publishing."""
        self.now += LEASE + dt.timedelta(seconds=1)
        found = self.store.expired_leases(self.now, [self.channel])
        assert {d.id for d in found} == {i for i, e in self.deliveries.items() if e.status == D.PUBLISHING}
        for delivery in found:
            self._finish(delivery, outcome, self.now)

    @precondition(lambda self: any(self.deliveries[h.id].status == D.UNKNOWN for h in self.handles))
    @rule(data=st.data())
    def late_receipt(self, data: st.DataObject) -> None:
        """A worker's answer comes after the sweep made its delivery `unknown` (a stale one is fenced off)."""
        handle = data.draw(st.sampled_from([h for h in self.handles if self.deliveries[h.id].status == D.UNKNOWN]))
        self._finish(handle, D.PUBLISHED, self.now)

    @rule(seconds=st.integers(1, 900))
    def tick(self, seconds: int) -> None:
        self.now += dt.timedelta(seconds=seconds)

    def _finish(self, handle: Delivery, outcome: D, retry_at: dt.datetime) -> None:
        expected = self.deliveries[handle.id]
        receipt = Receipt(f"remote-{handle.id}") if outcome == D.PUBLISHED else None
        retry = retry_at if outcome == D.SCHEDULED else None
        fenced = handle.attempt == expected.attempt and expected.status in FINISH_FROM[outcome]
        act = lambda: self.store.finish(handle, outcome, self.now, receipt=receipt, retry_at=retry)  # noqa: E731
        if self._allowed(fenced, act):
            expected.move(outcome)
            expected.due = retry or expected.due

    # -- helpers and invariants -----------------------------------------------------------------

    @staticmethod
    def _allowed(allowed: bool, act: Act) -> bool:
        """Do `act`, which must work when the model allows it and be refused when it does not."""
        if allowed:
            act()
        else:
            with pytest.raises(InvalidTransition):
                act()
        return allowed

    def _of(self, post_id: int, states: set[D]) -> list[Expected]:
        return [e for e in self.deliveries.values() if e.post_id == post_id and e.status in states]

    @invariant()
    def the_database_agrees(self) -> None:
        with self.store.engine.connect() as conn:  # one connection: every step checks everything
            rows, trails, statuses = self._rows(conn), self._trails(conn), self._post_statuses(conn)
        assert {r.id: (r.status, r.attempt, r.due_at) for r in rows} == {
            i: (e.status, e.attempt, e.due) for i, e in self.deliveries.items()
        }
        assert statuses == {i: p.status for i, p in self.posts.items()}
        for row in rows:
            self._in_one_state(row)
            self._published_stays_published(row)
            self._attempts_never_go_down(row)
        expected = {("post", i): p.path for i, p in self.posts.items()}
        assert trails == expected | {("delivery", i): e.path for i, e in self.deliveries.items() if e.path}

    def _rows(self, conn: sa.Connection) -> list[Any]:
        names = ("id", "status", "attempt", "due_at", "lease_until", "remote_id", "url")
        query = sa.select(*(deliveries.c[name] for name in names)).where(deliveries.c.channel == self.channel)
        return list(conn.execute(query))

    def _trails(self, conn: sa.Connection) -> dict[tuple[str, int], list[tuple[str | None, str]]]:
        """Every audited move, per post (delivery_id empty) and per delivery, in order."""
        columns = (audit.c.post_id, audit.c.delivery_id, audit.c.from_status, audit.c.to_status)
        query = sa.select(*columns).where(audit.c.post_id.in_(list(self.posts))).order_by(audit.c.id)
        trails: dict[tuple[str, int], list[tuple[str | None, str]]] = {}
        for post_id, delivery_id, source, target in conn.execute(query):
            key = ("delivery", delivery_id) if delivery_id is not None else ("post", post_id)
            trails.setdefault(key, []).append((source, target))
        return trails

    def _post_statuses(self, conn: sa.Connection) -> dict[int, str]:
        query = sa.select(posts.c.id, posts.c.status).where(posts.c.job_id == self.channel)
        return {row.id: row.status for row in conn.execute(query)}

    def _in_one_state(self, row: Any) -> None:
        assert D(row.status) in D
        assert (row.lease_until is not None) == (row.status == D.PUBLISHING), row
        assert (row.remote_id is not None or row.url is not None) == (row.status == D.PUBLISHED), row

    def _published_stays_published(self, row: Any) -> None:
        assert row.id not in self.seen_published or row.status == D.PUBLISHED, row
        if row.status == D.PUBLISHED:
            self.seen_published.add(row.id)

    def _attempts_never_go_down(self, row: Any) -> None:
        assert row.attempt >= self.seen_attempts.get(row.id, 0), row
        self.seen_attempts[row.id] = row.attempt


@pytest.fixture
def store(database_url: str) -> Store:
    store = Store(database_url)
    store.create_tables()
    return store


def test_post_and_delivery_transitions_keep_their_invariants(store: Store) -> None:
    budget = settings(
        max_examples=30, stateful_step_count=25, deadline=None, suppress_health_check=[HealthCheck.too_slow]
    )
    run_state_machine_as_test(lambda: Transitions(store), settings=budget)
    store.engine.dispose()
