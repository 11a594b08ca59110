"""Channel policies against the real webhook emulator and real worker processes, on SQLite and on PostgreSQL.

- the circuit breaker opens on 503s, holds every worker (another process too: its state is in the
  store) without using an attempt, lets one delivery through when half-open, and closes on its success;
- two worker processes together never have more of a channel's deliveries in flight than its
  concurrency cap, counted where it matters: at the API;
- a claim that never reached the API (handed back by a stopping worker, or swept after its worker was
  killed) leaves the delivery's attempt budget whole.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import random
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from pipeline import workers
from pipeline.clock import SystemClock
from pipeline.publish.worker import RetryPolicy
from pipeline.records import Delivery, DeliveryStatus
from pipeline.store.tables import deliveries
from pipeline.testing import FakeClock
from tests.contract.apis import webhook
from tests.emulators.base import Fault
from tests.emulators.webhook import WebhookEmulator
from tests.reliability import worker_process
from tests.reliability.harness import Harness, wait_for
from tests.reliability.worker_process import drain

D = DeliveryStatus


def policy_channel(harness: Harness, **policy: Any) -> dict[str, dict[str, Any]]:
    """The webhook channel's fields, with these policies: what a worker process is given."""
    return {"webhook": harness.channels["webhook"] | policy}


def local_worker(harness: Harness, clock: Any, attempts: int = 8, **policy: Any) -> workers.StoppableWorker:
    """A worker in this process for the webhook channel alone, with these policies."""
    built = worker_process.publishers(policy_channel(harness, **policy), harness.session, harness.folder)
    retry = RetryPolicy(max_attempts=attempts, base=0.02, cap=0.1, lease=dt.timedelta(seconds=0.4))
    return workers.StoppableWorker(harness.store, built, clock, retry, random.Random(1))


def requests_for(emulator: WebhookEmulator, delivery: Delivery) -> int:
    """The requests that carried this delivery to the webhook."""
    return sum(1 for call in emulator.calls("receive") if call.json()["data"]["delivery_id"] == delivery.id)


def test_the_breaker_opens_on_503s_holds_every_worker_lets_one_through_and_closes(harness: Harness) -> None:
    emulator = harness.emulators["webhook"]
    assert isinstance(emulator, WebhookEmulator)
    emulator.inject("receive", *(Fault.server_error(503) for _ in range(4)))
    ids = [i for post in range(3) for i in harness.queue(f"breaker-{post}", ["webhook"])]
    clock = FakeClock(SystemClock().now())
    breaker = {"concurrency": 1, "breaker": {"failures": 3, "cooldown": "10m"}}
    assert local_worker(harness, clock, **breaker).run_pass() == {"scheduled": 3}
    assert len(emulator.calls("receive")) == 3 and not emulator.posts  # open after three 503s in a row

    other = dataclasses.replace(harness.spec(), channels=policy_channel(harness, **breaker))
    process = harness.start(other)  # another worker process, one pass: the breaker is shared through the store
    process.join(20)
    assert process.exitcode == 0 and harness.report(other).of("done")[0]["outcomes"] == {}, harness.log(other)
    assert len(emulator.calls("receive")) == 3
    waiting = harness.deliveries(ids)
    assert all(d.status == D.SCHEDULED and "circuit breaker open" in (d.error or "") for d in waiting), waiting

    clock.advance(600)  # half-open: one delivery goes through, its 503 opens the breaker again at once
    assert local_worker(harness, clock, **breaker).run_pass() == {"scheduled": 1}
    assert len(emulator.calls("receive")) == 4
    clock.advance(600)  # half-open again: the one goes through, the breaker closes, the rest follow
    assert local_worker(harness, clock, **breaker).run_pass() == {"published": 6}
    assert harness.store.breakers(["webhook"])["webhook"].failures == 0
    for delivery in harness.deliveries(ids):  # every attempt counted was a request: none used while open
        assert harness.store.attempts_charged(delivery) == requests_for(emulator, delivery), delivery
    harness.check_settled(ids)


class CountingWebhook(WebhookEmulator):
    """The webhook receiver, counting the requests it is answering at once (each held `latency` seconds)."""

    def __init__(self) -> None:
        super().__init__(webhook.SECRET)
        self.answering, self.most, self.counting = 0, 0, threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        with self.counting:
            self.answering += 1
            self.most = max(self.most, self.answering)
        try:
            return super().__call__(environ, start_response)
        finally:
            with self.counting:
                self.answering -= 1


@pytest.fixture
def counted(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
    """The reliability bench with the counting webhook receiver as its only API."""
    with contextlib.ExitStack() as stack:
        bench = Harness(database_url, tmp_path, {"webhook": stack.enter_context(CountingWebhook())})
        for key, value in bench.secrets.items():
            monkeypatch.setenv(key, value)
        stack.callback(bench.close)
        yield bench


def most_in_flight(harness: Harness, stop: threading.Event, seen: list[int]) -> None:
    """Sample how many webhook deliveries the queue holds `publishing`, until told to stop."""
    query = sa.select(sa.func.count()).where(deliveries.c.status == D.PUBLISHING, deliveries.c.channel == "webhook")
    while not stop.is_set():
        with harness.store.engine.connect() as conn:
            seen.append(int(conn.scalar(query) or 0))
        time.sleep(0.002)


def test_two_worker_processes_never_exceed_the_concurrency_cap(counted: Harness) -> None:
    emulator = counted.emulators["webhook"]
    assert isinstance(emulator, CountingWebhook)
    emulator.latency = 0.05
    ids = [i for post in range(15) for i in counted.queue(f"cap-{post}", ["webhook"])]
    go = counted.folder / "go"
    specs = [
        dataclasses.replace(counted.spec(until_idle=True, lease=60.0, go=str(go), seed=n),
                            channels=policy_channel(counted, concurrency=2))
        for n in range(2)
    ]  # fmt: skip
    processes = [counted.start(spec) for spec in specs]
    wait_for("both workers ready", lambda: all(counted.report(s).of("ready") for s in specs), 30)
    stop, seen = threading.Event(), [0]
    sampler = threading.Thread(target=most_in_flight, args=(counted, stop, seen))
    sampler.start()
    go.touch()
    for process, spec in zip(processes, specs, strict=True):
        process.join(60)
        assert process.exitcode == 0, counted.log(spec)
    stop.set()
    sampler.join()
    assert emulator.most == 2 and max(seen) <= 2, (emulator.most, max(seen))  # the cap, and reached
    assert [d.status for d in counted.deliveries(ids)] == [D.PUBLISHED] * len(ids)
    assert len(emulator.posts) == len(ids) == len(emulator.calls("receive"))


def test_a_claim_swept_after_its_worker_was_killed_keeps_the_attempt_budget(harness: Harness) -> None:
    [delivery_id] = harness.queue("swept", ["webhook"], langs=["zh"])
    victim = harness.spec(step="claim", lease=0.4)
    harness.start(victim).join(20)
    assert harness.report(victim).of("stopping"), harness.log(victim)
    wait_for("the dead worker's lease to run out", lambda: bool(harness.store.expired_leases(
        SystemClock().now(), ["webhook"])))  # fmt: skip
    emulator = harness.emulators["webhook"]
    emulator.inject("receive", Fault.server_error(503))
    survivor = local_worker(harness, SystemClock(), attempts=2)
    # the sweep retries it (the dead worker's claim given back), the 503 is one attempt of two, then it goes out
    assert drain(survivor, timeout=20) == {"scheduled": 2, "published": 1}
    [delivery] = harness.deliveries([delivery_id])
    assert (delivery.attempt, harness.store.attempts_charged(delivery)) == (3, 2)
    harness.check_settled([delivery_id])


def test_deliveries_handed_back_by_a_stopping_worker_keep_the_attempt_budget(harness: Harness) -> None:
    ids = [i for post in range(2) for i in harness.queue(f"handed-{post}", ["webhook"])]
    emulator = harness.emulators["webhook"]
    emulator.latency = 0.3
    stopping = local_worker(harness, SystemClock(), attempts=2)
    first_sent = threading.Thread(
        target=lambda: wait_for("the first request", lambda: bool(emulator.calls("receive"))) or stopping.stopping.set()
    )
    first_sent.start()
    assert stopping.run_pass() == {"published": 1, "scheduled": 3}
    first_sent.join()
    handed = [d for d in harness.deliveries(ids) if d.status == D.SCHEDULED]
    assert {d.error for d in handed} == {workers.HANDED_BACK}
    assert [harness.store.attempts_charged(d) for d in handed] == [0, 0, 0]
    emulator.latency = 0.0
    emulator.inject("receive", *(Fault.server_error(503) for _ in handed))
    after = local_worker(harness, SystemClock(), attempts=2)
    assert drain(after, timeout=20) == {"scheduled": 3, "published": 3}  # a 503 is one attempt of two: retried
    harness.check_settled(ids)
