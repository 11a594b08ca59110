"""One worker pass: claim due deliveries, publish each, record exactly one outcome per attempt.

"publishing" is committed (by the claim) before any request leaves; the receipt is committed after.
A failure that may have reached the service is never re-sent blindly: an idempotent channel
simply tries again, any other asks `reconcile()` and otherwise parks the delivery as `unknown`.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import random
from collections import Counter, defaultdict
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from ..clock import Clock
from ..errors import AuthError, ContentRejected, InvalidTransition, OutcomeUnknown, PublishError, TemporaryError
from ..model import Delivery, DeliveryStatus
from ..store import Store
from .base import Progress, Publisher

log = logging.getLogger(__name__)
BATCH = 20  # deliveries claimed at a time: few enough that each is sent well within its lease
MAX_BATCHES = 50  # per channel and pass; the next pass carries on
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

    def run_pass(self) -> Counter[str]:
        """Publish everything due now, channels side by side; returns how many deliveries ended in each state."""
        outcomes: Counter[str] = Counter()
        channels = self.active_channels()
        self.sweep(outcomes, channels)
        start = self.clock.now()
        queues: dict[str, list[Delivery]] = defaultdict(list)
        for delivery in self.store.claim_due(start, self.policy.lease, channels=channels, limit=BATCH):
            queues[delivery.channel].append(delivery)
        work = [functools.partial(self.drain_channel, channel, batch, start) for channel, batch in queues.items()]
        if len(work) <= 1:
            return outcomes + sum((job() for job in work), Counter())
        with ThreadPoolExecutor(max_workers=len(work), thread_name_prefix="publish") as pool:
            return outcomes + sum(pool.map(lambda job: job(), work), Counter())

    def drain_channel(self, channel: str, batch: list[Delivery], start: dt.datetime) -> Counter[str]:
        """A channel's claimed deliveries, then its other ones due when the pass began, a batch at a time,
        so that a slow channel never holds the others back; a delivery retried in this pass waits for the next."""
        outcomes: Counter[str] = Counter()
        tried: set[int] = set()
        for _ in range(MAX_BATCHES):
            tried.update(delivery.id for delivery in batch)
            outcomes += self.deliver_in_turn(batch)
            if not self.claims_more(channel):
                break
            now = self.clock.now()
            batch = self.store.claim_due(now, self.policy.lease, [channel], limit=BATCH, due_by=start, exclude=tried)
            if not batch:
                break
        return outcomes

    def claims_more(self, channel: str) -> bool:
        """Whether this pass goes on claiming the channel's due deliveries (not once it paused it)."""
        return channel not in self.paused_now

    def deliver_in_turn(self, queue: list[Delivery]) -> Counter[str]:
        """One channel's deliveries, one at a time; after a pause the rest go back to wait."""
        outcomes: Counter[str] = Counter()
        for index, delivery in enumerate(queue):
            outcomes[self.deliver(delivery)] += 1
            if delivery.channel in self.paused_now:
                for waiting in queue[index + 1 :]:
                    outcomes[self._finish(waiting, D.SCHEDULED, error="waiting: channel paused")] += 1
                break
        return outcomes

    def active_channels(self) -> list[str]:
        """The channels this worker serves, less those paused until someone resumes them."""
        paused = self.store.paused()
        self.paused_now &= set(paused)  # forget channels resumed since
        return [name for name in self.publishers if name not in paused]

    def deliver(self, delivery: Delivery) -> DeliveryStatus:
        publisher = self.publishers.get(delivery.channel)
        if publisher is None:
            return self._finish(delivery, D.FAILED, error=f"channel {delivery.channel!r} is not configured")
        try:
            receipt = publisher.publish(delivery, progress := self.progress_for(delivery))
        except TemporaryError as exc:
            return self._retry_or_fail(delivery, str(exc), exc.retry_after)
        except AuthError as exc:
            return self._pause(delivery, str(exc))
        except ContentRejected as exc:
            return self._finish(delivery, D.FAILED, error=str(exc))
        except OutcomeUnknown as exc:
            return self._ambiguous(delivery, publisher, str(exc), progress)
        except InvalidTransition as exc:  # our lease was taken over while we worked: the new owner decides
            log.warning("delivery %s: stopped, %s", delivery.id, exc)
            return D.PUBLISHING
        except Exception as exc:  # a bug or an unclassified failure: it may have been sent
            log.exception("delivery %s on %s failed unexpectedly", delivery.id, delivery.channel)
            return self._ambiguous(delivery, publisher, f"{type(exc).__name__}: {exc}", progress)
        log.info("delivery %s published to %s as %s", delivery.id, delivery.channel, receipt.remote_id)
        return self._finish(delivery, D.PUBLISHED, receipt=receipt)

    def sweep(self, outcomes: Counter[str], channels: list[str]) -> None:
        """Deliveries whose worker died mid-flight: retry if safe, else reconcile or park as unknown."""
        for delivery in self.store.expired_leases(self.clock.now(), channels=channels):
            publisher = self.publishers[delivery.channel]
            reason = "the worker's lease expired mid-publish"
            outcomes[self._ambiguous(delivery, publisher, reason, self.progress_for(delivery))] += 1

    def progress_for(self, delivery: Delivery) -> Progress:
        """What this delivery's attempts did so far, saved (fenced by its attempt) as it grows."""
        return Progress(delivery.progress, lambda values: self.store.save_progress(delivery, values, self.clock.now()))

    def _pause(self, delivery: Delivery, reason: str) -> DeliveryStatus:
        """Credentials refused: stop the channel until someone resumes it; the delivery waits, not failed."""
        log.error("channel %s paused: %s", delivery.channel, reason)
        now = self.clock.now()
        self.store.pause(delivery.channel, reason, now)
        self.paused_now.add(delivery.channel)
        return self._finish(delivery, D.SCHEDULED, error=f"waiting: channel paused: {reason}", retry_at=now)

    def _ambiguous(self, delivery: Delivery, publisher: Publisher, reason: str, progress: Progress) -> DeliveryStatus:
        """The request may have gone through: retry where that is safe, else ask the service (with what this
        attempt saved so far), else leave it `unknown` for an editor."""
        if publisher.idempotent:
            return self._retry_or_fail(delivery, reason, None)
        try:
            receipt = publisher.reconcile(delivery, progress)
        except TemporaryError as exc:  # cannot tell yet; the next publish() checks again before sending
            return self._retry_or_fail(delivery, f"{reason}; could not check yet: {exc}", exc.retry_after)
        except PublishError as exc:
            receipt, reason = None, f"{reason}; reconcile failed: {exc}"
        if receipt is not None:
            return self._finish(delivery, D.PUBLISHED, receipt=receipt)
        return self._finish(delivery, D.UNKNOWN, error=f"{reason}; an editor must check {delivery.channel}")

    def _retry_or_fail(self, delivery: Delivery, reason: str, retry_after: float | None) -> DeliveryStatus:
        if delivery.attempt >= self.policy.max_attempts:
            return self._finish(delivery, D.FAILED, error=f"gave up after {delivery.attempt} attempts: {reason}")
        delay = self.policy.delay(delivery.attempt, retry_after, self.rng)
        retry_at = self.clock.now() + dt.timedelta(seconds=delay)
        return self._finish(delivery, D.SCHEDULED, error=reason, retry_at=retry_at)

    def _finish(self, delivery: Delivery, status: DeliveryStatus, **outcome: Any) -> DeliveryStatus:
        try:
            self.store.finish(delivery, status, self.clock.now(), **outcome)
        except InvalidTransition as exc:  # our lease expired and the delivery moved on without us
            log.warning("delivery %s: outcome %s not recorded: %s", delivery.id, status, exc)
        return status
