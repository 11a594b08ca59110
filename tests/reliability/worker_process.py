"""A publishing worker in a process of its own, for the reliability tests: it kills or freezes itself at a chosen step.

It builds a real Worker on the test's database with real publishers pointed at the emulators' base
URLs, then runs one pass (`until_idle`: passes until nothing is left to do). Steps, counted over the
whole process (`nth` picks the occurrence), with the hook that marks each, all in this file:

- claim       the claim committed: the batch is `publishing`, its attempts bumped, its lease set; nothing sent
- publishing  a delivery's own pre-send commit (its idempotency key, webhook-id or Weibo `sent_at`) is
              durable and its request has not left                              (after Store.save_progress)
- http        the request is in flight: a timer stops the process `delay` seconds after it starts to go
              out, while the emulator holds its answer                          (in the Session's send)
- accepted    the API answered with a receipt, Store.finish has not run         (after Publisher.publish)

Stopping is SIGKILL (kill -9) or SIGSTOP (frozen until the test sends SIGCONT). What the process did
is appended to `report` as JSON lines, written before the step's signal so that it survives it: the
claims, every outcome recorded, and every write the store refused (a stale attempt fenced off).

The tests start it through a multiprocessing fork server that has imported everything already (a
fresh interpreter takes about a second to import the pipeline; a fork takes milliseconds). It also
runs on its own: `python -m tests.reliability.worker_process spec.json`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import os
import random
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any

import requests
import sqlalchemy as sa

from pipeline.clock import SystemClock
from pipeline.config import ChannelConfig
from pipeline.errors import InvalidTransition
from pipeline.publish import PUBLISHERS, Progress, Publisher, Services
from pipeline.publish.http import Session, Timeouts
from pipeline.publish.tokens import MemoryTokens
from pipeline.publish.worker import RetryPolicy, Worker
from pipeline.records import Delivery, DeliveryStatus, Receipt
from pipeline.store import Store
from pipeline.store.tables import deliveries

STEPS = ("claim", "publishing", "http", "accepted")
OPEN = (DeliveryStatus.SCHEDULED, DeliveryStatus.PUBLISHING)
TIMEOUTS = Timeouts(connect=2.0, read=5.0)


@dataclasses.dataclass(frozen=True)
class Spec:
    database: str
    channels: dict[str, dict[str, Any]]  # name → ChannelConfig fields, base_url pointing at an emulator
    secrets: dict[str, str]  # the environment variables the channels' ${...} references read
    report: str  # JSON lines: what this process did
    log: str  # its log, and anything else it prints
    lease: float = 0.5  # seconds
    step: str | None = None  # where it stops itself (STEPS), or None
    nth: int = 1  # at the nth time it gets there
    signum: int = signal.SIGKILL  # SIGKILL, or SIGSTOP to freeze
    delay: float = 0.0  # for `http`: seconds after the request starts to go out
    until_idle: bool = False  # passes until nothing is left to do, rather than one
    go: str | None = None  # a file: say `ready`, then wait for it to exist before the first pass
    seed: int = 0
    timeout: float = 30.0  # `until_idle` gives up after this many seconds


def policy(lease: float) -> RetryPolicy:
    """Retries within a fraction of a second, so that a test waits for nothing but the lease."""
    return RetryPolicy(max_attempts=8, base=0.02, cap=0.1, lease=dt.timedelta(seconds=lease))


def publishers(channels: dict[str, dict[str, Any]], session: requests.Session, root: Path) -> dict[str, Publisher]:
    services = Services(root, root / "outbox", session, MemoryTokens(), TIMEOUTS, SystemClock())
    built = {}
    for name, fields in channels.items():
        config = ChannelConfig.model_validate(fields)
        built[name] = PUBLISHERS[config.type](name, config, services)
    return built


def open_deliveries(store: Store, channels: Sequence[str]) -> int:
    """Deliveries of these channels still to be settled: scheduled (due or not) or publishing."""
    query = sa.select(sa.func.count()).where(deliveries.c.status.in_(OPEN), deliveries.c.channel.in_(channels))
    with store.engine.connect() as conn:
        return int(conn.scalar(query) or 0)


def drain(worker: Worker, timeout: float, pause: float = 0.02) -> Counter[str]:
    """Passes until one does nothing and no delivery of the worker's channels is left open."""
    deadline, total = time.monotonic() + timeout, Counter[str]()
    while True:
        outcomes = worker.run_pass()
        total += outcomes
        if not outcomes and open_deliveries(worker.store, list(worker.publishers)) == 0:
            return total
        if time.monotonic() > deadline:
            raise TimeoutError(f"deliveries still open after {timeout} s; so far {dict(total)}")
        time.sleep(pause)


class Report:
    """Appends JSON lines, each in one write(), so that a line is whole even if the process dies next."""

    def __init__(self, path: str) -> None:
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self.lock = threading.Lock()

    def write(self, event: str, **fields: Any) -> None:
        line = json.dumps({"event": event, "pid": os.getpid(), **fields}, default=str) + "\n"
        with self.lock:
            os.write(self.fd, line.encode())


class Stopper:
    """Counts arrivals at the chosen step and sends this process its signal at the nth."""

    def __init__(self, spec: Spec, report: Report) -> None:
        self.step, self.nth, self.signum, self.delay = spec.step, spec.nth, spec.signum, spec.delay
        self.report, self.count, self.lock = report, 0, threading.Lock()

    def reached(self, step: str) -> bool:
        """Count an arrival at `step`; at the nth, stop (or, with a delay, arm a timer to). Whether it was the nth."""
        if step != self.step:
            return False
        with self.lock:
            self.count += 1
            if self.count != self.nth:
                return False
        self.report.write("stopping", step=step, nth=self.nth, signal=signal.Signals(self.signum).name)
        if self.delay > 0:
            threading.Timer(self.delay, self.stop).start()
        else:
            self.stop()
        return True

    def stop(self) -> None:
        logging.getLogger(__name__).warning("%s: sending myself %s", self.step, signal.Signals(self.signum).name)
        os.kill(os.getpid(), self.signum)
        self.report.write("resumed", step=self.step)  # only after SIGSTOP, once the test sends SIGCONT


class StoppingStore(Store):
    """The real Store, reporting claims, outcomes and refused writes, with the `claim` and `publishing` hooks."""

    def __init__(self, url: str, stopper: Stopper, report: Report) -> None:
        super().__init__(url)
        self.stopper, self.report = stopper, report

    def claim_due(
        self,
        now: dt.datetime,
        lease: dt.timedelta,
        channels: Sequence[str],
        limit: int = 50,
        due_by: dt.datetime | None = None,
        exclude: Collection[int] = (),
    ) -> list[Delivery]:
        claimed = super().claim_due(now, lease, channels, limit, due_by, exclude)
        if claimed:
            self.report.write("claimed", deliveries=[[d.id, d.attempt] for d in claimed])
            self.stopper.reached("claim")
        return claimed

    def save_progress(self, delivery: Delivery, progress: dict[str, str], now: dt.datetime) -> None:
        try:
            super().save_progress(delivery, progress, now)
        except InvalidTransition as exc:
            self.report.write("refused", call="save_progress", delivery=delivery.id, attempt=delivery.attempt, why=exc)
            raise
        self.stopper.reached("publishing")

    def finish(
        self,
        delivery: Delivery,
        status: DeliveryStatus,
        now: dt.datetime,
        receipt: Receipt | None = None,
        error: str | None = None,
        retry_at: dt.datetime | None = None,
    ) -> None:
        fields = dict(delivery=delivery.id, attempt=delivery.attempt, status=status)
        try:
            super().finish(delivery, status, now, receipt, error, retry_at)
        except InvalidTransition as exc:
            self.report.write("refused", call="finish", **fields, why=exc)
            raise
        self.report.write("finished", **fields, remote_id=receipt.remote_id if receipt else None)


class StoppingSession(Session):
    """The publishers' HTTP session, with the `http` hook as each request starts to go out."""

    def __init__(self, stopper: Stopper) -> None:
        super().__init__()
        self.stopper = stopper

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        armed = self.stopper.reached("http")
        response = super().send(request, **kwargs)
        if armed:  # the timer has not gone off yet: the answer came first (the tests count how often)
            self.stopper.report.write("answered", step="http")
        return response


def stopping(publisher: Publisher, stopper: Stopper) -> Publisher:
    """The same publisher, of a subclass with the `accepted` hook after publish() returns a receipt."""
    base = type(publisher)

    def publish(self: Publisher, delivery: Delivery, progress: Progress) -> Receipt:
        receipt = base.publish(self, delivery, progress)
        stopper.reached("accepted")
        return receipt

    publisher.__class__ = type(f"Stopping{base.__name__}", (base,), {"publish": publish})
    return publisher


def main(spec: Spec) -> None:
    """The process: log to its file, build the worker, wait for the start, run, report what it did."""
    _output_to(spec.log)
    os.environ.update(spec.secrets)
    report = Report(spec.report)
    stopper = Stopper(spec, report)
    store = StoppingStore(spec.database, stopper, report)
    session = StoppingSession(stopper)
    built = publishers(spec.channels, session, Path(spec.log).parent)
    worker = Worker(
        store,
        {n: stopping(p, stopper) for n, p in built.items()},
        SystemClock(),
        policy(spec.lease),
        random.Random(spec.seed),
    )
    if spec.go is not None:  # a barrier, so that two workers start their race together
        report.write("ready")
        while not Path(spec.go).exists():
            time.sleep(0.001)
    outcomes = drain(worker, spec.timeout) if spec.until_idle else worker.run_pass()
    report.write("done", outcomes=dict(outcomes))


def _output_to(path: str) -> None:
    """This process's stdout, stderr and log go to its own file (not to the fork server's inherited ones)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    sys.stdout = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115 -- the process's own stream
    sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s.%(msecs)03d %(process)d %(threadName)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
        force=True,
    )


if __name__ == "__main__":
    main(Spec(**json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))))
