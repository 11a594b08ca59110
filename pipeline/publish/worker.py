"""One worker pass: claim due deliveries, publish each, record exactly one outcome per attempt.

"publishing" is committed (by the claim) before any request leaves; the receipt is committed after.
A failure that may have reached the service is never re-sent blindly: an idempotent channel
simply tries again, any other asks `reconcile()` and otherwise parks the delivery as `unknown`.

Each channel's policy (policies.py) applies: the Gate holds back a channel outside its posting
windows, with its breaker open (breaker.py) or a quota used up, and the claim keeps to its
concurrency cap and quotas. Channels are drained side by side, each in as many lanes as its cap
allows (at most LANES). A claim that did not try the service (handed back unsent, swept after its
worker died, held back by its channel) is given back: it does not count toward max_attempts.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import math
import random
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from ..clock import Clock
from ..errors import AuthError, ContentRejected, InvalidTransition, OutcomeUnknown, PublishError, TemporaryError
from ..records import Delivery, DeliveryStatus
from ..store import Store
from .base import Progress, Publisher
from .breaker import Breakers
from .policies import ChannelPolicy, Gate, Hold

log = logging.getLogger(__name__)
BATCH = 20  # deliveries a lane claims at a time: few enough that each is sent well within its lease
MAX_BATCHES = 50  # per lane and pass; the next pass carries on
LANES = 4  # deliveries one worker sends to a channel side by side, where its concurrency allows
D = DeliveryStatus


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 8
    base: float = 30.0
    cap: float = 3600.0
    lease: dt.timedelta = dt.timedelta(minutes=5)

    def delay(self, attempt: int, retry_after: float | None, rng: random.Random) -> float:
        """Capped exponential backoff with full jitter, never sooner than the service asked."""
        backoff = rng.uniform(0, min(self.cap, self.base * 2 ** (attempt - 1)))
        return max(backoff, retry_after or 0.0)


class Worker:
    def __init__(
        self,
        store: Store,
        publishers: Mapping[str, Publisher],
        clock: Clock,
        policy: RetryPolicy = RetryPolicy(),
        rng: random.Random | None = None,
    ) -> None:
        self.store, self.publishers, self.clock, self.policy = store, publishers, clock, policy
        self.rng = rng or random.Random()
        self.paused_now: set[str] = set()  # channels this worker paused
        self.tripped: dict[str, dt.datetime] = {}  # channels whose breaker opened in this pass: until when
        self.policies = {name: ChannelPolicy.of(publisher.config) for name, publisher in publishers.items()}
        store.rules.update(self.policies)  # the claim enforces their caps and quotas
        self.gate = Gate(store, self.policies)
        self.breakers = Breakers(store, {name: p.breaker for name, p in self.policies.items()}, clock)

    def run_pass(self) -> Counter[str]:
        """Publish everything due now, channels side by side; returns how many deliveries ended in each state."""
        outcomes: Counter[str] = Counter()
        channels = self.active_channels()
        self.sweep(outcomes, channels)
        start = self.clock.now()
        self.tripped.clear()
        channels = self.gate.open_channels(channels, start)
        claimed = self.store.claim_due(start, self.policy.lease, channels, limit=BATCH) if channels else []
        queues: dict[str, list[Delivery]] = defaultdict(list)
        for delivery in claimed:
            queues[delivery.channel].append(delivery)
        more = len(claimed) >= BATCH  # more may be due than this claim took
        work = [functools.partial(self.drain_channel, name, batch, start, more) for name, batch in queues.items()]
        return outcomes + side_by_side(work, "publish")

    def drain_channel(self, channel: str, batch: list[Delivery], start: dt.datetime, more: bool) -> Counter[str]:
        """A channel's claimed deliveries, then its other ones due when the pass began, so that a slow channel
        never holds the others back; in lanes side by side where it may have more (see `lanes`)."""
        lanes = self.lanes(channel, len(batch), more)
        work = [functools.partial(self.drain_lane, channel, batch[lane::lanes], start) for lane in range(lanes)]
        return side_by_side(work, f"publish-{channel}")

    def lanes(self, channel: str, claimed: int, more: bool) -> int:
        """One, in turn, unless the claim may have left some of the channel's deliveries behind (it was `more`,
        full, or the channel's concurrency cap stopped it); then as many as the cap allows, at most LANES."""
        cap = self.policies[channel].concurrency
        if not (more or (cap is not None and claimed >= cap)):
            return 1
        return LANES if cap is None else min(cap, LANES)

    def drain_lane(self, channel: str, batch: list[Delivery], start: dt.datetime) -> Counter[str]:
        """Deliveries one at a time, a claimed batch after another; one retried in this pass waits for the next."""
        outcomes: Counter[str] = Counter()
        again: set[int] = set()  # scheduled again in this pass (the only ones a claim could hand back to us)
        for _ in range(MAX_BATCHES):
            ended = self.deliver_in_turn(batch)
            outcomes.update(ended.values())
            again.update(delivery_id for delivery_id, status in ended.items() if status == D.SCHEDULED)
            if not self.claims_more(channel):
                break
            now = self.clock.now()
            batch = self.store.claim_due(now, self.policy.lease, [channel], limit=BATCH, due_by=start, exclude=again)
            if not batch:
                break
        return outcomes

    def claims_more(self, channel: str) -> bool:
        """Whether this pass goes on claiming the channel's due deliveries (not once it is held back)."""
        return self.held(channel) is None

    def held(self, channel: str) -> Hold | None:
        """Whether this worker stopped sending to the channel in this pass: it paused it, or its breaker opened."""
        if channel in self.paused_now:
            return Hold("channel paused")
        if channel in self.tripped:
            return Hold("circuit breaker open", self.tripped[channel])
        return None

    def deliver_in_turn(self, queue: list[Delivery]) -> dict[int, DeliveryStatus]:
        """One channel's deliveries, one at a time, and the state each ended in; once the channel is held back
        the rest go back unsent."""
        ended: dict[int, DeliveryStatus] = {}
        for index, delivery in enumerate(queue):
            ended[delivery.id] = self.deliver(delivery)
            hold = self.held(delivery.channel)
            if hold is not None:
                for waiting in queue[index + 1 :]:
                    ended[waiting.id] = self._give_back(waiting, D.SCHEDULED, f"waiting: {hold.reason}", hold.until)
                break
        return ended

    def active_channels(self) -> list[str]:
        """The channels this worker serves, less those paused until someone resumes them."""
        paused = self.store.paused()
        self.paused_now &= set(paused)  # forget channels resumed since
        return [name for name in self.publishers if name not in paused]

    def deliver(self, delivery: Delivery) -> DeliveryStatus:
        publisher = self.publishers.get(delivery.channel)
        if publisher is None:
            return self._finish(delivery, D.FAILED, error=f"channel {delivery.channel!r} is not configured")
        progress = self.progress_for(delivery)
        try:
            receipt = publisher.publish(delivery, progress)
        except Exception as exc:
            return self._failed(delivery, publisher, progress, exc)
        log.info("delivery %s published to %s as %s", delivery.id, delivery.channel, receipt.remote_id)
        return self._finish(delivery, D.PUBLISHED, receipt=receipt)

    def _failed(self, delivery: Delivery, publisher: Publisher, progress: Progress, exc: Exception) -> DeliveryStatus:
        """What a publish that raised comes to; a temporary failure or an unknown outcome counts toward the
        channel's breaker, refused content shows the service works."""
        if isinstance(exc, InvalidTransition):  # our lease was taken over while we worked: the new owner decides
            log.warning("delivery %s: stopped, %s", delivery.id, exc)
            return D.PUBLISHING
        if isinstance(exc, AuthError):
            return self._pause(delivery, str(exc))
        if isinstance(exc, ContentRejected):
            self.breakers.answered(delivery.channel)
            return self._finish(delivery, D.FAILED, error=str(exc))
        self._trip(delivery.channel)
        if isinstance(exc, TemporaryError):
            return self._retry_or_fail(delivery, str(exc), exc.retry_after)
        if not isinstance(exc, OutcomeUnknown):  # a bug or an unclassified failure: it may have been sent
            log.exception("delivery %s on %s failed unexpectedly", delivery.id, delivery.channel)
        reason = str(exc) if isinstance(exc, PublishError) else f"{type(exc).__name__}: {exc}"
        return self._ambiguous(delivery, publisher, reason, progress)

    def _trip(self, channel: str) -> None:
        state = self.breakers.failed(channel)
        if state.open_until is not None and state.is_open(self.clock.now()):
            self.tripped[channel] = state.open_until

    def sweep(self, outcomes: Counter[str], channels: list[str]) -> None:
        """Deliveries whose worker died mid-flight: retry if safe, else reconcile or park as unknown; the
        dead worker's claim is given back (it says nothing about the service)."""
        for delivery in self.store.expired_leases(self.clock.now(), channels=channels):
            publisher = self.publishers[delivery.channel]
            reason = "the worker's lease expired mid-publish"
            outcomes[self._ambiguous(delivery, publisher, reason, self.progress_for(delivery), charged=False)] += 1

    def seconds_to_due(self) -> float:
        """How long until a delivery of an active channel is due (≤ 0: one is due now; inf: none is queued)."""
        due = self.store.next_due(self.active_channels())
        return math.inf if due is None else (due - self.clock.now()).total_seconds()

    def progress_for(self, delivery: Delivery) -> Progress:
        """What this delivery's attempts did so far, saved (fenced by its attempt) as it grows."""
        return Progress(delivery.progress, lambda values: self.store.save_progress(delivery, values, self.clock.now()))

    def _pause(self, delivery: Delivery, reason: str) -> DeliveryStatus:
        """Credentials refused: stop the channel until someone resumes it; the delivery waits, not failed."""
        log.error("channel %s paused: %s", delivery.channel, reason)
        now = self.clock.now()
        self.store.pause(delivery.channel, reason, now)
        self.paused_now.add(delivery.channel)
        return self._give_back(delivery, D.SCHEDULED, f"waiting: channel paused: {reason}", now)

    def _ambiguous(
        self, delivery: Delivery, publisher: Publisher, reason: str, progress: Progress, charged: bool = True
    ) -> DeliveryStatus:
        """The request may have gone through: retry where that is safe, else ask the service (with what this
        attempt saved so far), else leave it `unknown` for an editor."""
        if publisher.idempotent:
            return self._retry_or_fail(delivery, reason, None, charged)
        try:
            receipt = publisher.reconcile(delivery, progress)
        except TemporaryError as exc:  # cannot tell yet; the next publish() checks again before sending
            return self._retry_or_fail(delivery, f"{reason}; could not check yet: {exc}", exc.retry_after, charged)
        except PublishError as exc:
            receipt, reason = None, f"{reason}; reconcile failed: {exc}"
        if receipt is not None:
            return self._finish(delivery, D.PUBLISHED, receipt=receipt)
        return self._settle(delivery, D.UNKNOWN, f"{reason}; an editor must check {delivery.channel}", None, charged)

    def _retry_or_fail(
        self, delivery: Delivery, reason: str, retry_after: float | None, charged: bool = True
    ) -> DeliveryStatus:
        """Try again later, with backoff; a charged attempt past the budget fails the delivery instead."""
        if charged and delivery.attempt >= self.policy.max_attempts:  # the fencing number bounds what counted
            used = self.store.attempts_charged(delivery)
            if used >= self.policy.max_attempts:
                return self._finish(delivery, D.FAILED, error=f"gave up after {used} attempts: {reason}")
        delay = self.policy.delay(delivery.attempt, retry_after, self.rng)
        retry_at = self.clock.now() + dt.timedelta(seconds=delay)
        return self._settle(delivery, D.SCHEDULED, reason, retry_at, charged)

    def _settle(
        self, delivery: Delivery, status: DeliveryStatus, error: str, retry_at: dt.datetime | None, charged: bool
    ) -> DeliveryStatus:
        """Record an outcome without a receipt; a claim that is not charged is given back."""
        if charged:
            return self._finish(delivery, status, error=error, retry_at=retry_at)
        return self._give_back(delivery, status, error, retry_at)

    def _finish(self, delivery: Delivery, status: DeliveryStatus, **outcome: Any) -> DeliveryStatus:
        try:
            self.store.finish(delivery, status, self.clock.now(), **outcome)
        except InvalidTransition as exc:  # our lease expired and the delivery moved on without us
            log.warning("delivery %s: outcome %s not recorded: %s", delivery.id, status, exc)
        return status

    def _give_back(
        self, delivery: Delivery, status: DeliveryStatus, error: str, retry_at: dt.datetime | None = None
    ) -> DeliveryStatus:
        """Record an outcome whose claim does not count toward the delivery's attempts."""
        try:
            self.store.give_back(delivery, status, self.clock.now(), error, retry_at)
        except InvalidTransition as exc:
            log.warning("delivery %s: outcome %s not recorded: %s", delivery.id, status, exc)
        return status


def side_by_side(jobs: Sequence[Callable[[], Counter[str]]], name: str) -> Counter[str]:
    """Run the jobs in threads of their own (in this one when there is only one); their outcomes added up."""
    if len(jobs) <= 1:
        return sum((job() for job in jobs), Counter())
    with ThreadPoolExecutor(max_workers=len(jobs), thread_name_prefix=name) as pool:
        return sum(pool.map(lambda job: job(), jobs), Counter())
