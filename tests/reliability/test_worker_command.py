"""`shortline worker` as an operator runs it, on SQLite and on PostgreSQL (SHORTLINE_DATABASE_URL).

It publishes what is due, pass after pass, logging each; SIGTERM or SIGINT stop it cleanly after the
delivery in flight, handing back unsent what it had claimed but not started.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml

from pipeline import workers
from pipeline.clock import SystemClock
from pipeline.model import Variant
from pipeline.store import Store
from tests.contract.apis import webhook
from tests.emulators.webhook import WebhookEmulator
from tests.reliability.harness import wait_for


@pytest.fixture
def emulator() -> Iterator[WebhookEmulator]:
    with WebhookEmulator(webhook.SECRET) as running:
        yield running


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    store = Store(database_url)
    store.create_tables()
    yield store
    store.engine.dispose()


@pytest.fixture
def project(project_dir: Path, emulator: WebhookEmulator) -> Path:
    """The example project with one channel, a signed webhook pointed at the emulator."""
    path = project_dir / "schedule.yaml"
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    config["channels"] = {"webhook": webhook.channel(emulator).model_dump(mode="json", exclude_none=True)}
    config["jobs"]["shenyang-profile"]["channels"] = ["webhook"]
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return project_dir


def command(project: Path, database_url: str, *args: str, log: Path) -> subprocess.Popen[str]:
    env = os.environ | webhook.CONTRACT.secrets | {"SHORTLINE_DATABASE_URL": database_url}
    argv = [sys.executable, "-m", "pipeline", "--project", str(project), "worker", *args]
    return subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=log.open("w"), text=True)


def queue(store: Store, tag: str, due_in: float = 0.0) -> list[int]:
    now = SystemClock().now()
    variants = [Variant("webhook", "webhook", lang, f"Shenyang {tag} {lang}") for lang in ("en", "zh")]
    due = now + dt.timedelta(seconds=due_in)
    post_id = store.add_post(f"command-{tag}", due, tag, variants, auto_approve=True, now=now)
    assert post_id is not None
    return [d.id for d in store.post(post_id).deliveries]


def states(store: Store) -> dict[int, tuple[str, str | None]]:
    return {d.id: (d.status, d.error) for post in store.posts() for d in post.deliveries}


def test_once_publishes_what_is_due_and_logs_the_pass(
    project: Path, database_url: str, store: Store, emulator: WebhookEmulator, tmp_path: Path
) -> None:
    due, later = queue(store, "due"), queue(store, "later", due_in=3600)
    worker = command(project, database_url, "--once", log=tmp_path / "log")
    out, _ = worker.communicate(timeout=60)
    log = (tmp_path / "log").read_text()
    assert (worker.returncode, out.strip()) == (0, "2 published"), log
    assert "pass 1: 2 published" in log and "worker: publishing to webhook from " in log
    assert len(emulator.posts) == 2
    expected = {i: "published" for i in due} | {i: "scheduled" for i in later}
    assert {i: state for i, (state, _) in states(store).items()} == expected


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_signal_lets_the_delivery_in_flight_finish_and_hands_back_the_rest(
    project: Path, database_url: str, store: Store, emulator: WebhookEmulator, tmp_path: Path, signum: int
) -> None:
    ids = queue(store, "a") + queue(store, "b")
    emulator.latency = 1.0  # the first delivery is still in flight when the signal comes
    worker = command(project, database_url, "--interval", "0.2", log=tmp_path / "log")
    wait_for("a delivery in flight", lambda: len(emulator.calls("receive")) == 1 or worker.poll() is not None, 60)
    assert worker.poll() is None, (tmp_path / "log").read_text()
    worker.send_signal(signum)
    out, _ = worker.communicate(timeout=30)
    log = (tmp_path / "log").read_text()
    assert (worker.returncode, out.strip()) == (0, "1 published, 3 scheduled"), log
    assert f"{signal.Signals(signum).name} received, stopping after the delivery in flight" in log
    assert "stopped after 1 pass: 1 published, 3 scheduled" in log
    assert len(emulator.calls("receive")) == len(emulator.posts) == 1  # the one in flight went out, nothing more
    after = states(store)
    assert sorted(s for s, _ in after.values()) == ["published", "scheduled", "scheduled", "scheduled"]
    assert {error for status, error in after.values() if status == "scheduled"} == {workers.HANDED_BACK}
    emulator.latency = 0.0  # the next worker sends what was handed back
    again = command(project, database_url, "--once", log=tmp_path / "log2")
    assert again.communicate(timeout=60)[0].strip() == "3 published"
    assert {state for state, _ in states(store).values()} == {"published"} and len(emulator.posts) == len(ids)


def test_a_second_stop_signal_stops_at_once(
    project: Path, database_url: str, store: Store, emulator: WebhookEmulator, tmp_path: Path
) -> None:
    """The operator insists: the worker dies without waiting; its claimed deliveries stay `publishing`
    until their lease runs out and a sweeper recovers them."""
    ids = queue(store, "a")
    emulator.latency = 5.0
    worker = command(project, database_url, "--interval", "0.2", log=tmp_path / "log")
    wait_for("a delivery in flight", lambda: len(emulator.calls("receive")) == 1 or worker.poll() is not None, 60)
    worker.send_signal(signal.SIGTERM)
    wait_for("the first signal noticed", lambda: "SIGTERM received" in (tmp_path / "log").read_text())
    worker.send_signal(signal.SIGTERM)
    worker.communicate(timeout=4)  # well before the answer
    log = (tmp_path / "log").read_text()
    assert worker.returncode == -signal.SIGTERM and "stopped after" not in log, log
    assert {state for state, _ in states(store).values()} == {"publishing"} and len(ids) == 2


def test_an_idle_worker_stops_at_once(project: Path, database_url: str, tmp_path: Path) -> None:
    log = tmp_path / "log"
    worker = command(project, database_url, "--interval", "30", log=log)
    wait_for("the worker to start", lambda: "publishing to webhook" in log.read_text() or worker.poll() is not None, 60)
    assert worker.poll() is None, log.read_text()
    worker.send_signal(signal.SIGTERM)
    out, _ = worker.communicate(timeout=5)  # not after the 30 s wait
    assert (worker.returncode, out.strip()) == (0, "nothing due"), log.read_text()


def test_a_pass_without_its_database_is_logged_and_the_next_one_tries_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    unreachable = f"sqlite:///{tmp_path}"  # a folder: every connection fails
    worker = workers.StoppableWorker(Store(unreachable), {}, SystemClock())
    threading.Timer(0.3, worker.stopping.set).start()
    with caplog.at_level(logging.ERROR, logger="pipeline.workers"):
        assert workers.serve(worker, interval=0.05) == Counter()
    failed = [r.getMessage() for r in caplog.records if "the database is unavailable" in r.getMessage()]
    assert len(failed) >= 2 and failed[0].startswith("pass 1: "), failed
    with pytest.raises(sa.exc.OperationalError):  # one pass only: its failure is the command's
        workers.serve(workers.StoppableWorker(Store(unreachable), {}, SystemClock()), interval=0.05, once=True)
