"""Deliveries per second end to end, and how long a due delivery waits to be claimed, with worker processes.

    python bench/deliveries.py [--deliveries N] [--runs R] [--workers 1 2 4] [--databases sqlite postgresql]

Each run gets a fresh database (a SQLite file, or a PostgreSQL database created and dropped after) and
starts `shortline worker` loops (workers.serve, at the command's default interval) in processes of their
own, publishing to the signed-webhook receiver (the emulator, in its own process, answering at once):

  - throughput: N deliveries are queued due now while the workers wait at a barrier; from the go to the
    last receipt committed (claim → "publishing" → POST → receipt), deliveries per second;
  - due to claim: then, while the workers run, a feeder queues posts at a steady rate, half due on
    arrival (as an approval or a job fire makes them) and half a second after (as a retry comes due);
    each delivery's claim (its audited scheduled → publishing) less its due time.

The table shows the medians over the runs and their ratios to the targets (≥ 300/s on PostgreSQL with 2
workers, ≥ 100/s on SQLite, due-to-claim p99 ≤ 2 s), the store errors the workers logged ("database is
locked" would be one) and the deliveries not published.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import multiprocessing
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa

from pipeline import workers
from pipeline.clock import SystemClock
from pipeline.config import ChannelConfig
from pipeline.model import Variant
from pipeline.publish import PUBLISHERS, Services
from pipeline.records import DeliveryStatus
from pipeline.store import Store
from pipeline.store.tables import audit, deliveries, posts
from tests.contract.apis import webhook

PG_ADMIN = os.environ.get("SHORTLINE_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
TARGETS = {"postgresql": 300.0, "sqlite": 100.0}  # deliveries per second (PostgreSQL: with 2 workers)
P99_TARGET = 2.0  # seconds from due to claim
INTERVAL = 2.0  # `shortline worker --interval`'s default
SPAWN = multiprocessing.get_context("spawn")


@dataclass(frozen=True)
class Run:
    rate: float  # deliveries per second
    p50: float  # due to claim, seconds
    p99: float
    errors: int  # ERROR lines the workers logged (a store error, "database is locked" among them)
    lost: int  # deliveries not published


# -- the receiver and the databases ------------------------------------------------------------


def receive(channel: Any, ready: Any, stop: Any) -> None:
    """The webhook receiver's process: start it, hand back its channel's config, serve until told to stop."""
    with webhook.CONTRACT.emulator(SystemClock()) as emulator:
        channel.value = webhook.channel(emulator).model_dump_json(exclude_none=True).encode()
        ready.set()
        stop.wait()


@contextmanager
def receiver() -> Iterator[str]:
    """The receiver running; its channel's config as JSON."""
    channel, ready, stop = SPAWN.Array("c", 4096), SPAWN.Event(), SPAWN.Event()
    process = SPAWN.Process(target=receive, args=(channel, ready, stop), daemon=True)
    process.start()
    ready.wait(60)
    try:
        yield channel.value.decode()
    finally:
        stop.set()
        process.join(10)


@contextmanager
def database(kind: str, folder: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{folder / f'bench-{uuid.uuid4().hex[:8]}.db'}"
        return
    name = f"shortline_bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


# -- the workers -------------------------------------------------------------------------------


@dataclass(frozen=True)
class WorkerSpec:
    database: str
    channel: str  # the webhook channel's config, as JSON
    folder: str
    log: str


def work(spec: WorkerSpec, ready: Any, go: Any, stop: Any) -> None:
    """One `shortline worker`: its own store and session; its passes start at `go` and end at `stop`."""
    logging.basicConfig(filename=spec.log, level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("pipeline.publish").setLevel(logging.WARNING)  # not a line per delivery
    os.environ.update(webhook.CONTRACT.secrets)
    channel = ChannelConfig.model_validate_json(spec.channel)
    publisher = PUBLISHERS["webhook"]("webhook", channel, Services(Path(spec.folder)))
    worker = workers.StoppableWorker(Store(spec.database), {"webhook": publisher}, SystemClock())
    threading.Thread(target=lambda: stop.wait() and worker.stopping.set(), daemon=True).start()
    ready.wait()
    go.wait()
    workers.serve(worker, INTERVAL)


@contextmanager
def running(url: str, channel: str, count: int, folder: Path) -> Iterator[tuple[Any, list[Path]]]:
    """`count` worker processes, waiting at a barrier (pass it to go) until `go` is set; their logs."""
    ready, go, stop = SPAWN.Barrier(count + 1), SPAWN.Event(), SPAWN.Event()
    logs = [folder / f"worker-{uuid.uuid4().hex[:8]}.log" for _ in range(count)]
    processes = [SPAWN.Process(target=work, args=(WorkerSpec(url, channel, str(folder), str(log)), ready, go, stop))
                 for log in logs]  # fmt: skip
    for process in processes:
        process.start()
    try:
        ready.wait(120)
        yield go, logs
    finally:
        stop.set()
        for process in processes:
            process.join(30)


# -- one run -----------------------------------------------------------------------------------


def queue(store: Store, tag: str, index: int, due_in: float = 0.0) -> None:
    """A post of two deliveries (en, zh) to the webhook, due `due_in` seconds from now."""
    now = SystemClock().now()
    variants = [Variant("webhook", "webhook", lang, f"Shenyang {tag} {index} {lang}") for lang in ("en", "zh")]
    store.add_post(f"{tag}-{index}", now + dt.timedelta(seconds=due_in), tag, variants, auto_approve=True, now=now)


def published(store: Store) -> int:
    query = sa.select(sa.func.count()).where(deliveries.c.status == DeliveryStatus.PUBLISHED)
    with store.engine.connect() as conn:
        return int(conn.scalar(query) or 0)


def wait_published(store: Store, count: int, timeout: float) -> None:
    """Until `count` deliveries are published (or the timeout), looking now and then (not to load the machine)."""
    deadline = time.monotonic() + timeout
    while published(store) < count and time.monotonic() < deadline:
        time.sleep(0.1)


def throughput(store: Store, go: Any, count: int) -> float:
    """Deliveries per second from the go to the last receipt (its commit time, on this machine's clock)."""
    for index in range(count // 2):
        queue(store, "throughput", index)
    start = SystemClock().now()
    go.set()
    wait_published(store, count // 2 * 2, timeout=300)
    last = sa.select(sa.func.count(), sa.func.max(deliveries.c.updated_at)).where(
        deliveries.c.status == DeliveryStatus.PUBLISHED
    )
    with store.engine.connect() as conn:
        done, end = conn.execute(last).one()
    return int(done) / (end - start).total_seconds()


def due_to_claim(store: Store, seconds: float, posts_per_second: float) -> list[float]:
    """Feed posts for `seconds`, then the claim delay of each of their deliveries, sorted."""
    before = published(store)
    count = int(seconds * posts_per_second)
    for index in range(count):
        queue(store, "latency", index, due_in=float(index % 2))
        time.sleep(1 / posts_per_second)
    wait_published(store, before + 2 * count, timeout=60)
    claims = (
        sa.select(audit.c.at, deliveries.c.due_at)
        .join(deliveries, audit.c.delivery_id == deliveries.c.id)
        .join(posts, deliveries.c.post_id == posts.c.id)
        .where(posts.c.title == "latency", audit.c.to_status == DeliveryStatus.PUBLISHING)
    )
    with store.engine.connect() as conn:
        return sorted((at - due).total_seconds() for at, due in conn.execute(claims))


def one_run(kind: str, count: int, processes: int, channel: str, folder: Path, feed: tuple[float, float]) -> Run:
    with database(kind, folder) as url:
        store = Store(url)
        store.create_tables()
        with running(url, channel, processes, folder) as (go, logs):
            rate = throughput(store, go, count)
            delays = due_to_claim(store, *feed)
        total = count // 2 * 2 + 2 * int(feed[0] * feed[1])
        lost = total - published(store)
        store.engine.dispose()
    errors = sum(log.read_text().count(" ERROR ") for log in logs if log.exists())
    return Run(rate, _quantile(delays, 0.5), _quantile(delays, 0.99), errors, lost)


def _quantile(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


# -- the table ---------------------------------------------------------------------------------


def row(kind: str, processes: int, runs: list[Run]) -> str:
    rate, p50, p99 = (statistics.median(getattr(r, f) for r in runs) for f in ("rate", "p50", "p99"))
    goal = TARGETS[kind]
    ok = "✓" if rate >= goal and p99 <= P99_TARGET else "✗"
    errors, lost = sum(r.errors for r in runs), sum(r.lost for r in runs)
    return (f"| {kind:<10} | {processes:>7} | {rate:>12.0f} | {goal:>6.0f} | {rate / goal:>5.2f}× | {p50 * 1000:>7.0f} "
            f"| {p99 * 1000:>7.0f} | {p99 / P99_TARGET:>5.2f}× | {errors:>6} | {lost:>4} | {ok} |")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deliveries", type=int, default=1000, help="queued at once, per run")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", type=int, nargs="*", default=[1, 2, 4])
    parser.add_argument("--databases", nargs="*", default=["sqlite", "postgresql"], choices=sorted(TARGETS))
    parser.add_argument("--feed", type=float, nargs=2, default=(5.0, 20.0), metavar=("SECONDS", "POSTS_PER_S"))
    args = parser.parse_args()
    print(f"| {'database':<10} | {'workers':>7} | {'deliveries/s':>12} | {'target':>6} | {'ratio':>6} | "
          f"{'p50 ms':>7} | {'p99 ms':>7} | {'ratio':>6} | {'errors':>6} | {'lost':>4} |   |")  # fmt: skip
    print("|" + "|".join("-" * width for width in (12, 9, 14, 8, 8, 9, 9, 8, 8, 6, 3)) + "|")
    loads = [os.getloadavg()[0]]
    with tempfile.TemporaryDirectory() as tmp, receiver() as channel:
        for kind in args.databases:
            for processes in args.workers:
                runs = [one_run(kind, args.deliveries, processes, channel, Path(tmp), args.feed)
                        for _ in range(args.runs)]  # fmt: skip
                print(row(kind, processes, runs), flush=True)
                loads.append(os.getloadavg()[0])
    # everything (workers, receiver, database) shares this machine's CPUs: other work on it shows here
    print(f"load average {min(loads):.1f}–{max(loads):.1f} on {os.cpu_count()} CPUs during the runs")


if __name__ == "__main__":
    main()
