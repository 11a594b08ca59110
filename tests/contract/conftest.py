"""The contract harness: a real queue, a worker with a fake clock, a publisher pointed at its emulator.

Posts are the example job's real variants (composed text, rendered cards), so every emulator
checks what Shortline would actually send.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import random
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from pipeline import flow
from pipeline.clock import SystemClock
from pipeline.config import Project
from pipeline.model import Variant
from pipeline.publish import Publisher, Services
from pipeline.publish.http import Timeouts
from pipeline.publish.tokens import StoredTokens
from pipeline.publish.worker import RetryPolicy, Worker
from pipeline.records import Delivery, DeliveryStatus
from pipeline.store import Store
from pipeline.testing import FakeClock
from tests.emulators.base import Emulator

REPO = Path(__file__).resolve().parents[2]
NOW = dt.datetime(2026, 11, 30, 1, 0, tzinfo=dt.UTC)
# Short enough that faults resolve quickly; emulator faults sleep 1 s, past the read timeout.
TIMEOUTS = Timeouts(connect=1.0, read=0.5)
TERMINAL = {DeliveryStatus.PUBLISHED, DeliveryStatus.FAILED, DeliveryStatus.UNKNOWN, DeliveryStatus.CANCELLED}


@dataclass(frozen=True)
class Example:
    root: Path
    variants: dict[tuple[str, str], Variant]  # (channel, lang) → the variant generate makes

    def variant(self, channel_type: str, lang: str = "zh", name: str | None = None) -> Variant:
        variant = self.variants[(channel_type, lang)]
        return Variant(**{**variant.__dict__, "channel": name or variant.channel})


@pytest.fixture(scope="session")
def example(tmp_path_factory: pytest.TempPathFactory) -> Example:
    return build_example(tmp_path_factory.mktemp("example"))


def build_example(root: Path) -> Example:
    """The example job generated once: every channel in both languages, cards rendered."""
    shutil.copy(REPO / "schedule.yaml", root)
    for folder in ("facts", "templates", "assets"):
        shutil.copytree(REPO / folder, root / folder)
    runtime = flow.Runtime.load(Project(root), FakeClock(NOW))
    variants = flow.generate(runtime, "shenyang-profile", NOW)
    return Example(root, {(v.channel, v.lang): v for v in variants})


class Harness:
    """Queue one variant, then run worker passes, moving the fake clock to each retry, until it settles."""

    def __init__(self, store: Store, example: Example, session: requests.Session) -> None:
        self.store, self.example, self.clock = store, example, FakeClock(NOW)
        self.services = Services(
            example.root, example.root / "var/outbox", session, StoredTokens(store), TIMEOUTS, self.clock
        )
        self.waits: list[dt.timedelta] = []  # how far each retry was pushed out

    def worker(self, publisher: Publisher) -> Worker:
        policy = RetryPolicy(max_attempts=5, base=1.0, cap=60.0)
        return Worker(self.store, {publisher.name: publisher}, self.clock, policy, random.Random(7))

    def publish(self, publisher: Publisher, variant: Variant, passes: int = 6) -> Delivery:
        post_id = self.store.add_post("job", self.clock.now(), "t", [variant], auto_approve=True, now=self.clock.now())
        assert post_id is not None
        worker = self.worker(publisher)
        for _ in range(passes):
            worker.run_pass()
            delivery = self.store.post(post_id).deliveries[0]
            if delivery.status in TERMINAL or self.paused(publisher):
                return delivery
            self.waits.append(delivery.due_at - self.clock.now())
            self.clock.advance(max(0.0, (delivery.due_at - self.clock.now()).total_seconds()) + 1)
        return delivery

    def paused(self, publisher: Publisher) -> bool:
        return publisher.name in self.store.paused()

    def outcome(self, publisher: Publisher, delivery: Delivery) -> str:
        """published | failed ("rejected") | unknown | paused, as the contract suite names them."""
        if self.paused(publisher):
            return "paused"
        return {DeliveryStatus.FAILED: "rejected"}.get(delivery.status, str(delivery.status))


@pytest.fixture
def store(tmp_path: Path) -> Store:
    store = Store(f"sqlite:///{tmp_path / 'queue.db'}")
    store.create_tables()
    return store


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


@pytest.fixture
def harness(store: Store, example: Example, session: requests.Session) -> Harness:
    return Harness(store, example, session)


@pytest.fixture
def emulators() -> Iterator[dict[str, Emulator]]:
    """Every API's emulator, running."""
    from tests.contract.projects import CONTRACTS

    with contextlib.ExitStack() as stack:
        yield {c.type: stack.enter_context(c.emulator(SystemClock())) for c in CONTRACTS}
