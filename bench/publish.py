"""Publishes per second for one worker against the API emulators (target: ≥ 200/s without latency).

    python bench/publish.py [--posts N] [--latency-posts N]

Each API's real publisher sends the example job's real variant (text and rendered card) to its
emulator on loopback, through the real queue (SQLite, synchronous=FULL) and one Worker:
  - "no latency": one channel at a time, N posts; publishes/s, HTTP requests per publish, and TCP
    connections used (one shared requests.Session: connections are reused, so far fewer than requests);
  - "100 ms": every emulator answers each request 100 ms late; all channels queued together and one
    worker pass publishes them with one thread per channel, against the sum of one-at-a-time times.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipeline.publish import Publisher, Services
from pipeline.publish.tokens import StoredTokens
from pipeline.publish.worker import Worker
from pipeline.store import Store
from pipeline.testing import FakeClock
from tests.contract import apis
from tests.contract.conftest import NOW, Example, build_example
from tests.contract.contracts import Contract
from tests.emulators.base import Emulator

TARGET = 200.0


def contracts(only: list[str]) -> list[Contract]:
    names = [m.name for m in pkgutil.iter_modules(apis.__path__) if not only or m.name in only]
    return [importlib.import_module(f"{apis.__name__}.{name}").CONTRACT for name in names]


def publisher(contract: Contract, emulator: Emulator, services: Services) -> Publisher:
    os.environ.update(contract.secrets)
    return contract.publisher(contract.type, contract.channel(emulator), services)


def queue(store: Store, example: Example, contract: Contract, posts: int, tag: str) -> None:
    variant = example.variant(contract.type, contract.lang)
    for index in range(posts):
        store.add_post(f"{tag}-{index}", NOW, "bench", [variant], auto_approve=True, now=NOW)


def drain(worker: Worker) -> tuple[int, float]:
    start, published = time.perf_counter(), 0
    while outcomes := worker.run_pass():
        published += outcomes["published"]
    return published, time.perf_counter() - start


def one_channel(root: Path, example: Example, contract: Contract, posts: int) -> str:
    store = Store(f"sqlite:///{root / f'{contract.type}.db'}")
    store.create_tables()
    clock = FakeClock(NOW)  # one clock for the queue, the publisher and the emulator
    services = Services(example.root, example.root / "var/outbox", tokens=StoredTokens(store), clock=clock)
    with contract.emulator(clock) as emulator:
        worker = Worker(store, {contract.type: publisher(contract, emulator, services)}, clock)
        queue(store, example, contract, 3, "warm")
        drain(worker)  # tokens, sessions and connections in place, as in a running worker
        before = len(emulator.requests)
        queue(store, example, contract, posts, "run")
        published, seconds = drain(worker)
        requests_per = (len(emulator.requests) - before) / max(published, 1)
    rate = published / seconds
    mark = "✓" if rate >= TARGET else "✗"
    figures = f"{rate:>10.0f} {rate / TARGET:>7.2f}× {mark} {requests_per:>9.1f} {emulator.connections():>6}"
    return f"{contract.type:<10} {published:>6} {figures}"


def with_latency(root: Path, example: Example, all_contracts: list[Contract], posts: int) -> str:
    store = Store(f"sqlite:///{root / 'latency.db'}")
    store.create_tables()
    clock = FakeClock(NOW)
    services = Services(example.root, example.root / "var/outbox", tokens=StoredTokens(store), clock=clock)
    emulators = [c.emulator(clock).start() for c in all_contracts]
    try:
        publishers = {c.type: publisher(c, e, services) for c, e in zip(all_contracts, emulators, strict=True)}
        worker = Worker(store, publishers, clock)
        for contract in all_contracts:
            queue(store, example, contract, 1, "warm")
        drain(worker)
        for emulator in emulators:
            emulator.latency = 0.1
        before = sum(len(e.requests) for e in emulators)
        for contract in all_contracts:
            queue(store, example, contract, posts, "run")
        published, seconds = drain(worker)
        calls = sum(len(e.requests) for e in emulators) - before
    finally:
        for emulator in emulators:
            emulator.stop()
    serial = calls * 0.1
    return (
        f"{len(all_contracts)} channels × {posts} posts, 100 ms per request: {published} published in {seconds:.2f} s "
        f"= {published / seconds:.1f}/s; one at a time would take ≥ {serial:.1f} s ({serial / seconds:.1f}× slower)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=300)
    parser.add_argument("--latency-posts", type=int, default=5)
    parser.add_argument("--only", nargs="*", default=[], help="channel types to run (default: all)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "example").mkdir()
        example = build_example(root / "example")
        found = contracts(args.only)
        print(f"{'channel':<10} {'posts':>6} {'publish/s':>10} {'ratio':>8}   {'req/post':>9} {'conns':>6}")
        for contract in found:
            print(one_channel(root, example, contract, args.posts), flush=True)
        print(with_latency(root, example, found, args.latency_posts))


if __name__ == "__main__":
    main()
