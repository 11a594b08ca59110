"""The scheduler unattended, on SQLite and PostgreSQL: two schedulers on one database make each fire
once; a restart after downtime settles the missed fires by the job's misfire policy and says so;
`shortline run` reloads schedule.yaml on SIGHUP and when it changes, refusing a broken version whole."""

from __future__ import annotations

import datetime as dt
import logging
import os
import signal
import subprocess
import sys
import zoneinfo
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from pipeline import scheduler
from pipeline.config import Project
from pipeline.flow import Runtime
from pipeline.model import Variant
from pipeline.store import FireOutcome, Store
from pipeline.store.fires import FIRE_LEASE
from pipeline.testing import FakeClock, free_port
from tests.reliability.harness import wait_for

TZ = zoneinfo.ZoneInfo("Asia/Shanghai")
T0 = dt.datetime(2026, 11, 30, 0, 0, tzinfo=TZ)  # the hourly job's first fire
HOUR = dt.timedelta(hours=1)


def job(trigger: dict[str, str], **extra: str) -> dict[str, Any]:
    fields = {"facts": "facts/shenyang.yaml", "post": "posts/city-profile", "channels": ["outbox"], "trigger": trigger}
    return fields | extra


def write_schedule(project: Path, jobs: dict[str, dict[str, Any]]) -> str:
    config = {"timezone": "Asia/Shanghai", "channels": {"outbox": {"type": "outbox"}}, "jobs": jobs}
    text = yaml.safe_dump(config, sort_keys=False)
    (project / "schedule.yaml").write_text(text, encoding="utf-8")
    return text


def hourly(project: Path, misfire: str, max_lateness: str) -> None:
    trigger = {"every": "1h", "start": "2026-11-30 00:00"}
    write_schedule(project, {"hourly": job(trigger, misfire=misfire, max_lateness=max_lateness)})


def local(moment: dt.datetime) -> str:
    return moment.astimezone(TZ).isoformat(timespec="seconds")


@pytest.fixture
def project(project_dir: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SHORTLINE_DATABASE_URL", database_url)
    return project_dir


Start = Callable[[Path, dt.datetime], Runtime]


@pytest.fixture
def start() -> Iterator[Start]:
    """Starts a scheduler at a given time: its runtime, on the project's database (closed after the test)."""
    started: list[Runtime] = []

    def at(project: Path, moment: dt.datetime) -> Runtime:
        started.append(Runtime.load(Project(project), FakeClock(moment)))
        return started[-1]

    yield at
    for rt in started:
        rt.store.engine.dispose()


def settle(rt: Runtime, caplog: pytest.LogCaptureFixture) -> str:
    """The start-up catch-up, and what it logged about the job."""
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="pipeline.scheduler"):
        scheduler.catch_up(rt)
    [line] = [r.getMessage() for r in caplog.records if r.getMessage().startswith("job hourly: ")]
    return line


def fire_times(rt: Runtime) -> list[dt.datetime]:
    return sorted(post.fire_time for post in rt.store.posts())


# -- downtime, then a restart ------------------------------------------------------------------


def test_skip_makes_nothing_for_the_fires_missed_while_down(
    project: Path, start: Start, caplog: pytest.LogCaptureFixture
) -> None:
    hourly(project, "skip", "2h")
    before = start(project, T0 + dt.timedelta(minutes=1))
    made = scheduler.fire_latest(before, "hourly")
    assert made is not None and made.outcome == FireOutcome.QUEUED
    after = start(project, T0 + 5 * HOUR + dt.timedelta(minutes=30))  # down for five fires
    line = settle(after, caplog)
    assert line == (
        f"job hourly: missed 5 fires since its fire at {local(T0)} (queued post {made.post_id}): "
        f"{local(T0 + HOUR)} … {local(T0 + 5 * HOUR)}; misfire: skip, none made"
    )
    assert fire_times(after) == [T0]
    assert [fire.fire_time for fire in after.store.fires("hourly")] == [T0]


def test_catch_up_once_makes_only_the_latest_missed_fire(
    project: Path, start: Start, caplog: pytest.LogCaptureFixture
) -> None:
    hourly(project, "catch_up_once", "1h")
    scheduler.fire_latest(start(project, T0 + dt.timedelta(minutes=1)), "hourly")
    after = start(project, T0 + 5 * HOUR + dt.timedelta(minutes=30))
    line = settle(after, caplog)
    [latest] = [post for post in after.store.posts() if post.fire_time == T0 + 5 * HOUR]
    assert line == (
        f"job hourly: missed 5 fires since its fire at {local(T0)} (queued post {latest.id - 1}): "
        f"{local(T0 + HOUR)} … {local(T0 + 5 * HOUR)}; misfire: catch_up_once, "
        f"made the latest, {local(T0 + 5 * HOUR)}: queued post {latest.id}"
    )
    assert fire_times(after) == [T0, T0 + 5 * HOUR]
    fires = [(fire.fire_time, fire.outcome, fire.post_id) for fire in after.store.fires("hourly")]
    assert fires[1] == (T0 + 5 * HOUR, FireOutcome.QUEUED, latest.id)
    again = start(project, T0 + 5 * HOUR + dt.timedelta(minutes=40))  # a second restart finds nothing missed
    assert settle(again, caplog) == f"job hourly: no fire missed since its fire at {local(T0 + 5 * HOUR)} " \
        f"(queued post {latest.id})"  # fmt: skip
    assert len(again.store.posts()) == 2


def test_catch_up_once_makes_nothing_beyond_max_lateness(
    project: Path, start: Start, caplog: pytest.LogCaptureFixture
) -> None:
    hourly(project, "catch_up_once", "20m")
    scheduler.fire_latest(start(project, T0 + dt.timedelta(minutes=1)), "hourly")
    after = start(project, T0 + 5 * HOUR + dt.timedelta(minutes=30))  # the latest missed fire is 30 minutes old
    assert settle(after, caplog).endswith(
        f"{local(T0 + HOUR)} … {local(T0 + 5 * HOUR)}; misfire: catch_up_once, "
        "but the latest is 0:30:00 late, beyond max_lateness 0:20:00: none made"
    )
    assert fire_times(after) == [T0]


def test_a_failed_fire_is_recorded_and_caught_up_after_the_fix(
    project: Path, start: Start, caplog: pytest.LogCaptureFixture
) -> None:
    hourly(project, "catch_up_once", "1h")
    facts = project / "facts/shenyang.yaml"
    good = facts.read_text(encoding="utf-8")
    facts.write_text(good.replace("    value: 16\n", "    value: sixteen\n"), encoding="utf-8")
    failed = scheduler.fire_latest(start(project, T0 + dt.timedelta(minutes=1)), "hourly")
    assert failed is not None and failed.outcome == FireOutcome.FAILED
    assert failed.reason is not None and f"{facts}:" in failed.reason and "impact_rank" in failed.reason
    facts.write_text(good, encoding="utf-8")
    after = start(project, T0 + dt.timedelta(minutes=10))
    line = settle(after, caplog)
    assert line.startswith(f"job hourly: missed 1 fire since its fire at {local(T0)} (failed: {facts}:")
    assert line.endswith(
        f"misfire: catch_up_once, made the latest, {local(T0)}: queued post {after.store.posts()[0].id}"
    )
    [fire] = after.store.fires("hourly")
    assert (fire.outcome, fire.reason, fire.finished_at) == (FireOutcome.QUEUED, None, T0 + dt.timedelta(minutes=10))


def test_a_fire_whose_scheduler_died_is_made_once_its_claim_is_stale(
    project: Path, start: Start, caplog: pytest.LogCaptureFixture
) -> None:
    hourly(project, "catch_up_once", "1h")
    dead = start(project, T0 + dt.timedelta(minutes=1))
    assert dead.store.start_fire("hourly", T0, dead.clock.now())  # claimed, then the process died
    soon_after = start(project, T0 + dt.timedelta(minutes=5))
    started = local(T0 + dt.timedelta(minutes=1))
    assert settle(soon_after, caplog) == (
        f"job hourly: missed 1 fire since its fire at {local(T0)} (unfinished, started {started}): "
        f"{local(T0)}; misfire: catch_up_once, made the latest, {local(T0)}: another scheduler has it"
    )
    later = start(project, T0 + FIRE_LEASE + dt.timedelta(minutes=2))  # the claim is older than FIRE_LEASE
    assert settle(later, caplog).endswith(f"made the latest, {local(T0)}: queued post {later.store.posts()[0].id}")
    assert [(f.fire_time, f.outcome) for f in later.store.fires()] == [(T0, FireOutcome.QUEUED)]


def test_a_long_downtime_is_counted_up_to_a_limit_and_its_latest_fire_found(
    project: Path, start: Start, caplog: pytest.LogCaptureFixture
) -> None:
    trigger = {"every": "1m", "start": "2026-11-30 00:00"}
    write_schedule(project, {"hourly": job(trigger, misfire="catch_up_once", max_lateness="5m")})
    scheduler.fire_latest(start(project, T0), "hourly")
    after = start(project, T0 + dt.timedelta(days=3, seconds=30))
    line = settle(after, caplog)
    assert line.startswith(f"job hourly: missed more than 1000 fires since its fire at {local(T0)} ")
    latest = T0 + dt.timedelta(days=3)
    assert line.endswith(f"… {local(latest)}; misfire: catch_up_once, made the latest, {local(latest)}: queued post 2")
    assert fire_times(after) == [T0, latest]


def test_a_fire_whose_post_is_queued_already_says_so(project: Path, start: Start) -> None:
    hourly(project, "skip", "1h")
    rt = start(project, T0 + dt.timedelta(minutes=1))
    variants = [Variant("outbox", "outbox", "en", "made by hand")]
    post_id = rt.store.add_post("hourly", T0, "by hand", variants, auto_approve=False, now=T0)
    made = scheduler.fire_latest(rt, "hourly")
    assert made is not None and (made.outcome, made.post_id) == (FireOutcome.ALREADY_QUEUED, None)
    assert [post.id for post in rt.store.posts()] == [post_id]
    assert str(rt.store.last_fire("hourly")) == "already queued"


# -- real `shortline run` processes ------------------------------------------------------------



class Run:
    """`shortline run` in a process of its own, its log in a file."""

    def __init__(self, project: Path, database_url: str, log: Path) -> None:
        self.log = log
        env = os.environ | {"SHORTLINE_DATABASE_URL": database_url}
        argv = [sys.executable, "-m", "pipeline", "--project", str(project), "run", "--port", str(free_port())]
        self.process = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=log.open("w"), text=True)

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8")

    def wait_for(self, fragment: str, seconds: float = 60) -> None:
        done = lambda: fragment in self.text() or self.process.poll() is not None  # noqa: E731
        wait_for(f"{fragment!r} in {self.log.name}", done, seconds, pause=0.1)
        assert fragment in self.text(), self.text()

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=30)
        assert self.process.returncode == 0 and "Traceback" not in self.text(), self.text()


@pytest.fixture
def runs() -> Iterator[list[Run]]:
    started: list[Run] = []
    yield started
    for run in started:
        if run.process.poll() is None:
            run.process.kill()
            run.process.wait()


def soon(seconds: float) -> tuple[dt.datetime, str]:
    """A whole second `seconds` from now, and how schedule.yaml writes it (local time)."""
    moment = (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=seconds)).replace(microsecond=0)
    return moment, moment.astimezone(TZ).strftime("%Y-%m-%d %H:%M:%S")


def test_two_schedulers_on_one_database_make_each_fire_once(
    project: Path, database_url: str, runs: list[Run], tmp_path: Path
) -> None:
    fire, at = soon(20)  # both processes are up well before
    names = ("alpha", "beta", "gamma")
    write_schedule(project, {name: job({"at": at}) for name in names})
    runs += [Run(project, database_url, tmp_path / f"run-{n}.log") for n in (1, 2)]
    for run in runs:
        run.wait_for("preview at")
    assert dt.datetime.now(dt.UTC) < fire, "the schedulers started too late to race"
    store = Store(database_url)
    wait_for("three fires recorded", lambda: sum(f.finished_at is not None for f in store.fires()) == 3, 60)
    for run in runs:
        run.stop()
    assert sorted((post.job_id, post.fire_time) for post in store.posts()) == [(name, fire) for name in names]
    posts = {post.job_id: post.id for post in store.posts()}
    assert [(f.job_id, f.outcome, f.post_id) for f in store.fires()] == [(n, "queued", posts[n]) for n in names]
    logs = "".join(run.text() for run in runs)
    for name in names:
        assert logs.count(f"job {name} fired for {local(fire)}: post {posts[name]}") == 1, logs
        assert logs.count(f"job {name} at {local(fire)}: another scheduler made this fire or is making it") == 1, logs
    store.engine.dispose()


def test_sighup_and_a_changed_file_reload_a_running_scheduler(
    project: Path, database_url: str, runs: list[Run], tmp_path: Path
) -> None:
    schedule = project / "schedule.yaml"
    weekly = {"weekly": job({"cron": "0 9 * * 1"})}
    write_schedule(project, weekly)
    run = Run(project, database_url, tmp_path / "run.log")
    runs.append(run)
    run.wait_for("preview at")
    run.process.send_signal(signal.SIGHUP)
    run.wait_for(f"SIGHUP: reloaded {schedule}; jobs: unchanged; channels: unchanged")

    broken = write_schedule(project, weekly | {"daily": job({"cron": "0 9 * * *"}, reveiw="auto")})
    where = f"{schedule}:{next(n for n, s in enumerate(broken.splitlines(), 1) if 'reveiw' in s)}"
    problem = f"{where}: jobs.daily.reveiw: unknown key (did you mean 'review'?)"
    run.wait_for(f"schedule.yaml changed: {schedule} has 1 problem; kept the configuration loaded at ")
    run.wait_for(problem)
    run.process.send_signal(signal.SIGHUP)
    run.wait_for(f"SIGHUP: {schedule} has 1 problem; kept the configuration loaded at ")
    assert run.text().count(problem) == 2

    fire, at = soon(6)
    write_schedule(project, weekly | {"now": job({"at": at}, review="auto")})
    run.wait_for(f"schedule.yaml changed: reloaded {schedule}; jobs: added now; channels: unchanged")
    store = Store(database_url)
    published = lambda: [(p.job_id, p.fire_time, {d.status for d in p.deliveries}) for p in store.posts()]  # noqa: E731
    wait_for("the new job's post published", lambda: published() == [("now", fire, {"published"})], 60)
    run.stop()
    store.engine.dispose()
