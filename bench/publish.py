"""Publishes per second for one worker against the API emulators (target: ≥ 200/s without latency).

    python bench/publish.py [--posts N] [--latency-posts N] [--only TYPE ...]

Each API's real publisher sends the example job's English variant (its text numbered, since APIs
refuse duplicates) with its rendered card through the real queue (SQLite, synchronous=FULL) and one
Worker. The emulators run in their own process, as a remote API would, so the worker's figures are
its own. Columns:
  - per channel, no latency: publishes/s, HTTP requests per publish, TCP connections used (one shared
    requests.Session, so connections are reused: one per channel however many posts);
  - all channels queued together (N posts each): the same one worker, one thread per channel;
  - 100 ms: every emulator answers each request 100 ms late; all channels together, against the time
    one at a time would need (requests × 100 ms).
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import itertools
import multiprocessing
import os
import pkgutil
import sys
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


from pipeline.clock import SystemClock
from pipeline.config import ChannelConfig
from pipeline.publish import Publisher, Services
from pipeline.publish.tokens import StoredTokens
from pipeline.publish.worker import Worker
from pipeline.store import Store
from tests.contract import apis
from tests.contract.conftest import Example, build_example
from tests.contract.contracts import Contract
from tests.emulators.base import Emulator

TARGET = 200.0


def contracts(only: list[str]) -> dict[str, Contract]:
    names = [m.name for m in pkgutil.iter_modules(apis.__path__) if not only or m.name in only]
    found = [importlib.import_module(f"{apis.__name__}.{name}").CONTRACT for name in names]
    return {contract.type: contract for contract in found}


def serve(types: list[str], pipe: Connection) -> None:
    """The emulators' process: start them, send back each channel's config, then answer commands."""
    emulators = {name: contract.emulator(SystemClock()).start() for name, contract in contracts(types).items()}
    for emulator in emulators.values():
        lift_limits(emulator)
    pipe.send({name: contracts(types)[name].channel(emulator) for name, emulator in emulators.items()})
    while (command := pipe.recv()) != "stop":
        if command == "counts":
            pipe.send({name: (len(e.requests), e.connections(), time.process_time()) for name, e in emulators.items()})
        else:
            for emulator in emulators.values():
                emulator.latency = float(command)
            pipe.send(None)


def lift_limits(emulator: Emulator) -> None:
    """Quotas and processing delays off: the bench measures Shortline, not the APIs' daily quotas
    (WeChat's publish quota, X's 100 posts per 15 minutes) or their image processing."""
    for attribute, value in (("publish_quota", 10**9), ("polls_to_finish", 0), ("processing_polls", 0)):
        if hasattr(emulator, attribute):
            setattr(emulator, attribute, value)
    x_limits = getattr(sys.modules.get(type(emulator).__module__), "LIMITS", None)
    if isinstance(x_limits, dict):
        x_limits.update(dict.fromkeys(x_limits, 10**9))


class Remote:
    """Each emulator in its own process, as each API is its own server, driven through pipes."""

    def __init__(self, types: list[str]) -> None:
        self.pipes: dict[str, Connection] = {}
        self.processes: list[multiprocessing.Process] = []
        for name in types:
            self.pipes[name], child = multiprocessing.Pipe()
            process = multiprocessing.Process(target=serve, args=([name], child), daemon=True)
            process.start()
            self.processes.append(process)
        self.channels: dict[str, ChannelConfig] = {n: c for pipe in self.pipes.values() for n, c in pipe.recv().items()}

    def counts(self) -> dict[str, tuple[int, int, float]]:
        """Requests and connections each emulator has seen, and the CPU seconds its process used."""
        return {name: count for pipe in self.pipes.values() for name, count in self.ask(pipe, "counts").items()}

    def requests(self) -> tuple[int, float]:
        """All requests so far, and the CPU seconds the emulators used."""
        counts = self.counts().values()
        return sum(count[0] for count in counts), sum(count[2] for count in counts)

    def latency(self, seconds: float) -> None:
        for pipe in self.pipes.values():
            self.ask(pipe, str(seconds))

    @staticmethod
    def ask(pipe: Connection, command: str) -> Any:
        pipe.send(command)
        return pipe.recv()

    def stop(self) -> None:
        for pipe in self.pipes.values():
            pipe.send("stop")
        for process in self.processes:
            process.join(5)


SERIAL = itertools.count(1)  # numbers every post of the run: no text is ever sent twice


def numbered(example: Example, contract: Contract, index: int) -> Any:
    """The English variant with a number at the end of its text (and LinkedIn's commentary)."""
    variant = example.variant(contract.type, "en")
    mark = f" {index:x}"  # 4 characters up to 65,535 posts: every post stays within its limit
    extra = dict(variant.extra)
    if "commentary" in extra:
        extra["commentary"] += mark
    return dataclasses.replace(variant, text=variant.text + mark, extra=extra)


def setup(root: Path, example: Example, remote: Remote, names: list[str], db: str) -> tuple[Store, Worker]:
    store = Store(f"sqlite:///{root / db}")
    store.create_tables()
    services = Services(example.root, example.root / "var/outbox", tokens=StoredTokens(store))
    found = contracts(names)
    for contract in found.values():
        os.environ.update(contract.secrets)
    publishers: dict[str, Publisher] = {
        name: contract.publisher(name, remote.channels[name], services) for name, contract in found.items()
    }
    return store, Worker(store, publishers, SystemClock())


def queue(store: Store, example: Example, names: list[str], posts: range, tag: str) -> None:
    found = contracts(names)
    now = SystemClock().now()
    for index in posts:
        serial = next(SERIAL)
        variants = [numbered(example, found[name], serial) for name in names]
        store.add_post(f"{tag}-{index}", now, "bench", variants, auto_approve=True, now=now)


def drain(worker: Worker) -> tuple[int, float, int]:
    start, published, failed = time.perf_counter(), 0, 0
    while outcomes := worker.run_pass():
        published += outcomes["published"]
        failed += outcomes["failed"] + outcomes["unknown"]
    return published, time.perf_counter() - start, failed


@dataclasses.dataclass
class Run:
    published: int
    seconds: float
    failed: int
    requests: int
    worker_cpu: float  # CPU seconds of this process (the worker)
    emulator_cpu: float  # CPU seconds of the emulators' processes


def measure(root: Path, example: Example, remote: Remote, names: list[str], posts: int) -> Run:
    """Publish `posts` posts to each channel (after three warm-up posts) and time it."""
    store, worker = setup(root, example, remote, names, f"{'-'.join(names)}-{time.monotonic_ns()}.db")
    queue(store, example, names, range(3), "warm")
    drain(worker)  # tokens, sessions and connections in place, as in a running worker
    requests, emulator_cpu = remote.requests()
    queue(store, example, names, range(posts), "run")
    cpu = time.process_time()
    published, seconds, failed = drain(worker)
    cpu = time.process_time() - cpu
    requests_after, emulator_after = remote.requests()
    return Run(published, seconds, failed, requests_after - requests, cpu, emulator_after - emulator_cpu)


def row(name: str, run: Run, connections: int | str) -> str:
    rate = run.published / run.seconds
    mark = "✓" if rate >= TARGET else "✗"
    per = run.requests / max(run.published + run.failed, 1)
    worker_ms, emulator_ms = (1000 * cpu / max(run.published, 1) for cpu in (run.worker_cpu, run.emulator_cpu))
    figures = f"{rate:>10.0f} {rate / TARGET:>7.2f}× {mark} {per:>9.1f} {connections:>6}"
    return f"{name:<14} {run.published:>6} {run.failed:>5} {figures} {worker_ms:>10.2f} {emulator_ms:>12.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--posts", type=int, default=300)
    parser.add_argument("--latency-posts", type=int, default=5)
    parser.add_argument("--only", nargs="*", default=[], help="channel types to run (default: all)")
    args = parser.parse_args()
    names = list(contracts(args.only))
    remote = Remote(names)
    try:
        with tempfile.TemporaryDirectory() as folder:
            root = Path(folder)
            (root / "example").mkdir()
            example = build_example(root / "example")
            header = f"{'channel':<14} {'posts':>6} {'lost':>5} {'publish/s':>10} {'ratio':>8}   {'req/post':>9}"
            print(f"{header} {'conns':>6} {'worker ms':>10} {'emulator ms':>12}  (CPU per publish)")
            for name in names:
                result = measure(root, example, remote, [name], args.posts)
                print(row(name, result, remote.counts()[name][1]), flush=True)
            print(row("all together", measure(root, example, remote, names, args.posts), "-"), flush=True)
            remote.latency(0.1)
            run = measure(root, example, remote, names, args.latency_posts)
            serial = run.requests * 0.1
            print(
                f"100 ms per request, {len(names)} channels × {args.latency_posts} posts: {run.published} published "
                f"in {run.seconds:.2f} s = {run.published / run.seconds:.1f}/s; one request at a time would take "
                f"≥ {serial:.1f} s ({serial / run.seconds:.1f}× longer)"
            )
    finally:
        remote.stop()


if __name__ == "__main__":
    main()
