"""The reliability bench: a queue on SQLite or PostgreSQL, three emulated APIs on loopback, and workers in processes.

Channels: `weibo` (no idempotency, no read-back: a delivery that may have gone out is `unknown`),
`webhook` (the receiver de-duplicates on webhook-id) and `mastodon` (Idempotency-Key): the last
two are idempotent, so every delivery must end published exactly once.
"""

from __future__ import annotations

import itertools
import json
import multiprocessing
import multiprocessing.process
import os
import signal
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import requests
import sqlalchemy as sa

from pipeline.clock import SystemClock
from pipeline.model import Variant
from pipeline.publish.worker import Worker
from pipeline.records import Delivery, DeliveryStatus
from pipeline.store import Store
from pipeline.store.tables import deliveries
from tests.contract.apis import mastodon, webhook, weibo
from tests.contract.contracts import Contract
from tests.emulators.base import Emulator, Recorded
from tests.emulators.mastodon import MastodonEmulator
from tests.emulators.webhook import WebhookEmulator
from tests.emulators.weibo import WeiboEmulator
from tests.reliability import worker_process
from tests.reliability.worker_process import Spec

D = DeliveryStatus
TERMINAL = {D.PUBLISHED, D.FAILED, D.UNKNOWN, D.CANCELLED}
CONTRACTS: dict[str, Contract] = {c.type: c for c in (weibo.CONTRACT, webhook.CONTRACT, mastodon.CONTRACT)}
IDEMPOTENT = {"webhook", "mastodon"}
FORKS = multiprocessing.get_context("forkserver")
FORKS.set_forkserver_preload(["pytest", "tests.reliability.worker_process"])


@dataclass(frozen=True)
class Sent:
    """What one delivery left on its API: the posts it made (their remote ids) and the create requests it sent."""

    posts: list[str]
    requests: int


@dataclass(frozen=True)
class Report:
    """A worker process's report (see worker_process): its events, in order."""

    events: list[dict[str, Any]]

    def of(self, event: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["event"] == event]

    def claimed(self) -> list[tuple[int, int]]:
        return [(d, a) for e in self.of("claimed") for d, a in e["deliveries"]]


class Harness:
    def __init__(self, database: str, folder: Path, emulators: dict[str, Emulator]) -> None:
        self.database, self.folder, self.emulators = database, folder, emulators
        self.store = Store(database)
        self.store.create_tables()
        self.channels = {name: _channel_fields(CONTRACTS[name], e) for name, e in emulators.items()}
        self.secrets = {k: v for c in CONTRACTS.values() for k, v in c.secrets.items()}
        self.session = requests.Session()
        self.processes: list[multiprocessing.process.BaseProcess] = []
        self._names = itertools.count(1)

    def close(self) -> None:
        for process in self.processes:  # a test that failed half way may leave one frozen
            if process.is_alive() and process.pid is not None:
                os.kill(process.pid, signal.SIGKILL)
                os.kill(process.pid, signal.SIGCONT)
                process.join(5)
        self.session.close()
        self.store.engine.dispose()

    # -- the queue ---------------------------------------------------------------------------

    def queue(self, tag: str, channels: Iterable[str] | None = None, langs: Sequence[str] = ("en", "zh")) -> list[int]:
        """One post, due now, approved, with a delivery per channel and language; their ids."""
        now = SystemClock().now()
        names = list(channels or self.channels)
        variants = [_variant(name, tag, lang) for name in names for lang in langs]
        post_id = self.store.add_post(f"reliability-{tag}", now, tag, variants, auto_approve=True, now=now)
        assert post_id is not None
        return [d.id for d in self.store.post(post_id).deliveries]

    def deliveries(self, ids: Iterable[int]) -> list[Delivery]:
        wanted = set(ids)
        found = [d for post in self.store.posts() for d in post.deliveries if d.id in wanted]
        assert len(found) == len(wanted), f"deliveries {sorted(wanted - {d.id for d in found})} vanished"
        return sorted(found, key=lambda d: d.id)

    def trail(self, delivery: Delivery) -> list[tuple[str | None, str, str | None]]:
        """(from, to, reason) of every audited transition of one delivery, in order."""
        events = self.store.audit_trail(delivery.post_id)
        return [(e.from_status, e.to_status, e.reason) for e in events if e.delivery_id == delivery.id]

    # -- workers -----------------------------------------------------------------------------

    def spec(self, **fields: Any) -> Spec:
        name = f"worker-{next(self._names)}"
        base = Spec(
            self.database,
            self.channels,
            self.secrets,
            str(self.folder / f"{name}.jsonl"),
            str(self.folder / f"{name}.log"),
        )
        return replace(base, **fields)

    def start(self, spec: Spec) -> multiprocessing.process.BaseProcess:
        """The worker of `spec` in a process of its own (forked from the preloaded fork server)."""
        process = FORKS.Process(target=worker_process.main, args=(spec,), name=Path(spec.log).stem, daemon=True)
        process.start()
        self.processes.append(process)
        return process

    def survivor(self, lease: float) -> Worker:
        """A worker in this process, for the same channels (the `harness` fixture sets their secrets)."""
        built = worker_process.publishers(self.channels, self.session, self.folder)
        return Worker(self.store, built, SystemClock(), worker_process.policy(lease))

    def report(self, spec: Spec) -> Report:
        path = Path(spec.report)
        lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
        return Report([json.loads(line) for line in lines])

    def log(self, spec: Spec, lines: int = 40) -> str:
        path = Path(spec.log)
        text = path.read_text(encoding="utf-8", errors="replace") if path.exists() else "(no log)"
        return f"--- {path.name} ---\n" + "\n".join(text.splitlines()[-lines:])

    # -- what went out -----------------------------------------------------------------------

    def sent(self, delivery: Delivery) -> Sent:
        """Its posts, matched by text (webhook: by delivery id), and the requests that carried it whole.

        A worker killed between a request's headers and its body (two writes) leaves a request with an
        empty body, which the emulators record and refuse: it did not carry this delivery.
        """
        text = delivery.variant.text
        emulator = self.emulators[delivery.channel]
        if isinstance(emulator, WeiboEmulator):
            calls = [c for c in emulator.calls("share") if c.form.get("status") == text]
            return Sent([p["idstr"] for p in list(emulator.posts) if p["text"] == text], len(calls))
        if isinstance(emulator, WebhookEmulator):
            calls = [c for c in emulator.calls("receive") if _json(c).get("data", {}).get("delivery_id") == delivery.id]
            posts = [key for key, event in list(emulator.posts.items()) if event["data"]["delivery_id"] == delivery.id]
            return Sent(posts, len(calls))
        assert isinstance(emulator, MastodonEmulator)
        calls = [c for c in emulator.calls("create_status") if _json(c).get("status") == text]
        return Sent([s.id for s in list(emulator.statuses) if s.text == text], len(calls))

    def check_settled(self, ids: Iterable[int]) -> list[str]:
        """Every delivery in exactly one terminal state, none lost, none posted twice; a label for each."""
        labels = []
        for delivery in self.deliveries(ids):
            sent, trail = self.sent(delivery), self.trail(delivery)
            where = f"delivery {delivery.id} ({delivery.channel}/{delivery.variant.lang}, attempt {delivery.attempt})"
            assert delivery.status in TERMINAL, f"{where} was left {delivery.status}: {trail}"
            ends = [to for _, to, _ in trail if to in TERMINAL]
            assert ends == [delivery.status] and trail[-1][1] == delivery.status, f"{where}: {trail}"
            assert len(sent.posts) <= 1, f"{where} was posted {len(sent.posts)} times: {sent}"
            if delivery.status == D.PUBLISHED:
                assert sent.posts == [delivery.remote_id], f"{where}: receipt {delivery.remote_id}, posts {sent}"
            if delivery.channel in IDEMPOTENT:
                assert delivery.status == D.PUBLISHED, f"{where}: {delivery.status} ({delivery.error})"
            else:  # never re-sent after an attempt that may have gone out
                assert sent.requests <= 1, f"{where}: {sent.requests} requests sent"
                assert delivery.status in (D.PUBLISHED, D.UNKNOWN), f"{where}: {delivery.status} ({delivery.error})"
            labels.append(f"{delivery.channel} {delivery.status}, {len(sent.posts)} post")
        return labels

    def set_latency(self, seconds: float) -> None:
        for emulator in self.emulators.values():
            emulator.latency = seconds


def wait_for(what: str, condition: Callable[[], bool], seconds: float = 10.0, pause: float = 0.01) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {seconds} s")
        time.sleep(pause)


def stopped(pid: int) -> bool:
    """Whether the process is stopped by a signal (state T in /proc/PID/stat)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] == "T"


def lease_expired(store: Store, delivery_id: int) -> Callable[[], bool]:
    """Whether the delivery's lease has run out (it is publishing with a lease in the past)."""
    query = sa.select(deliveries.c.status, deliveries.c.lease_until).where(deliveries.c.id == delivery_id)

    def expired() -> bool:
        with store.engine.connect() as conn:
            status, lease = conn.execute(query).one()
        return bool(status == D.PUBLISHING and lease is not None and lease < SystemClock().now())

    return expired


def _json(request: Recorded) -> dict[str, Any]:
    try:
        body = request.json()
    except ValueError:  # empty: its worker was killed before it sent the body
        return {}
    return body if isinstance(body, dict) else {}


def _variant(channel: str, tag: str, lang: str) -> Variant:
    if channel == "weibo":  # text Weibo has not seen before, with a link on the app's safe domain
        return Variant(channel, channel, lang, f"沈阳 {tag} {lang} {weibo.LINK}")
    return Variant(channel, channel, lang, f"Shenyang {tag} {lang}")


def _channel_fields(contract: Contract, emulator: Emulator) -> dict[str, Any]:
    fields: dict[str, Any] = contract.channel(emulator).model_dump(mode="json", exclude_none=True)
    return fields
