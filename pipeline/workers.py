"""`shortline worker`: publishing workers only, pass after pass, so several machines can share one database.

Each pass is Worker.run_pass(); the claim (FOR UPDATE SKIP LOCKED on PostgreSQL, BEGIN IMMEDIATE on
SQLite) hands each due delivery to one worker. Between passes the worker looks for due work every
POLL seconds (or when the next delivery comes due, if sooner), so a due delivery waits at most about
that long; a full pass (with its sweep of expired leases) runs at least every `interval` seconds, and
at once after a pass that did something while more is due.

SIGINT or SIGTERM stops the loop after the delivery in flight: that one is finished and recorded,
deliveries this worker claimed but has not started go back to the queue unsent (due as before, the
claim not counted as an attempt), and nothing more is claimed. A second signal stops at once (the
lease and the sweeper then take care of what was in flight).
"""

from __future__ import annotations

import logging
import random
import signal
import threading
import time
from collections import Counter
from collections.abc import Mapping
from types import FrameType

import sqlalchemy as sa

from .clock import Clock
from .flow import Runtime
from .publish import Publisher
from .publish.worker import RetryPolicy, Worker
from .records import Delivery, DeliveryStatus
from .store import Store

log = logging.getLogger(__name__)
HANDED_BACK = "handed back unsent: the worker was stopping"
POLL = 0.25  # seconds between looks for due work while idle


class StoppableWorker(Worker):
    """A Worker that can be asked, from any thread, to stop between deliveries (`stopping.set()`)."""

    def __init__(
        self,
        store: Store,
        publishers: Mapping[str, Publisher],
        clock: Clock,
        policy: RetryPolicy | None = None,
        rng: random.Random | None = None,
    ) -> None:
        super().__init__(store, publishers, clock, policy or RetryPolicy(), rng)
        self.stopping = threading.Event()

    def deliver(self, delivery: Delivery) -> DeliveryStatus:
        if self.stopping.is_set():  # claimed but not started: back to the queue, nothing sent, no attempt used
            return self._give_back(delivery, DeliveryStatus.SCHEDULED, HANDED_BACK)
        return super().deliver(delivery)

    def claims_more(self, channel: str) -> bool:
        return super().claims_more(channel) and not self.stopping.is_set()


def build(rt: Runtime) -> StoppableWorker:
    """A worker for every channel that can publish now, on the project's database."""
    ready, _ = rt.channels
    worker = StoppableWorker(rt.store, ready, rt.clock)
    database = rt.store.engine.url.render_as_string(hide_password=True)
    if ready:
        log.info("worker: publishing to %s from %s", ", ".join(ready), database)
    else:
        log.warning("worker: no channel can publish (see the warnings above); %s is only watched", database)
    return worker


def run(worker: StoppableWorker, interval: float, once: bool = False) -> Counter[str]:
    """Passes every `interval` seconds (one, with `once`) until SIGINT or SIGTERM; their outcomes added up.

    The passes run in their own thread so that the signal handlers, which run in the main thread,
    only ever set the stop flag and never wait on a lock the interrupted code holds.
    """
    outcomes: Counter[str] = Counter()
    failure: list[BaseException] = []

    def loop() -> None:
        try:
            outcomes.update(serve(worker, interval, once))
        except BaseException as exc:  # handed to the main thread, which raises it
            failure.append(exc)

    def stop(signum: int, frame: FrameType | None) -> None:
        log.info("worker: %s received, stopping after the delivery in flight", signal.Signals(signum).name)
        worker.stopping.set()
        for other in (signal.SIGINT, signal.SIGTERM):
            signal.signal(other, signal.SIG_DFL if other == signal.SIGTERM else signal.default_int_handler)

    previous = {signum: signal.signal(signum, stop) for signum in (signal.SIGINT, signal.SIGTERM)}
    thread = threading.Thread(target=loop, name="shortline-worker", daemon=True)
    thread.start()
    try:
        thread.join()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if failure:
        raise failure[0]
    return outcomes


def serve(worker: StoppableWorker, interval: float, once: bool = False) -> Counter[str]:
    """The loop itself: a pass, then a wait for work, until the worker is stopping; each pass is logged.

    A pass that cannot reach the database is logged and the next one tries again (with `once`, it raises).
    """
    total: Counter[str] = Counter()
    passes = 0
    while not worker.stopping.is_set():
        passes += 1
        outcomes: Counter[str] = Counter()
        try:
            outcomes = one_pass(worker, passes)
        except sa.exc.OperationalError as exc:
            if once:
                raise
            log.error("pass %d: the database is unavailable, trying again next pass: %s", passes, exc.orig or exc)
        total += outcomes
        if once:
            break
        wait_for_work(worker, interval, busy=bool(outcomes))
    log.info("worker: stopped after %d %s: %s", passes, "pass" if passes == 1 else "passes", summary(total))
    return total


def wait_for_work(worker: StoppableWorker, interval: float, busy: bool) -> None:
    """Until the next pass: none after a busy pass while more is due; else a look every POLL seconds (or at
    the next due time, if sooner) until something is due, at most `interval`, or till the worker stops."""
    deadline = time.monotonic() + interval
    if not busy and worker.stopping.wait(min(POLL, interval)):
        return
    while (left := deadline - time.monotonic()) > 0:
        try:
            due_in = worker.seconds_to_due()
        except sa.exc.OperationalError:  # the next pass says so; until then, the whole interval
            due_in = left
        if due_in <= 0 or worker.stopping.wait(min(due_in, POLL, left)):
            return


def one_pass(worker: Worker, number: int) -> Counter[str]:
    """One pass, logged: what it did, or at debug level that nothing was due."""
    started = time.monotonic()
    outcomes = worker.run_pass()
    took = time.monotonic() - started
    if outcomes:
        log.info("pass %d: %s (%.2f s)", number, summary(outcomes), took)
    else:
        log.debug("pass %d: nothing due (%.2f s)", number, took)
    return outcomes


def summary(outcomes: Counter[str]) -> str:
    """`2 published, 1 unknown`, or `nothing due`."""
    return ", ".join(f"{n} {state}" for state, n in sorted(outcomes.items()) if n) or "nothing due"
