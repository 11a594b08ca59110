"""schedule.yaml reloaded in a running scheduler: a version with problems is refused whole (the jobs
in force stay, each problem is logged as file:line), a good one replaces only what changed."""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from apscheduler.schedulers.background import BackgroundScheduler

from pipeline import reload, scheduler
from pipeline.clock import SystemClock
from pipeline.config import Project
from pipeline.flow import Runtime

SECRET = "reload-test-webhook-secret"


def job(trigger: dict[str, str], **extra: Any) -> dict[str, Any]:
    fields = {"facts": "facts/shenyang.yaml", "post": "posts/city-profile", "channels": ["outbox"], "trigger": trigger}
    return fields | extra


def schedule(**changes: Any) -> dict[str, Any]:
    """A project with two channels and three jobs; `changes` replace top-level keys."""
    webhook = {"type": "webhook", "base_url": "http://127.0.0.1:9/a", "credentials": {"secret": "${RELOAD_SECRET}"}}
    jobs = {"daily": job({"cron": "0 9 * * *"}), "hourly": job({"every": "1h"}), "weekly": job({"cron": "0 9 * * 1"})}
    channels = {"outbox": {"type": "outbox"}, "webhook": webhook}
    return {"timezone": "Asia/Shanghai", "channels": channels, "jobs": jobs} | changes


@dataclass
class Running:
    rt: Runtime
    jobs: BackgroundScheduler
    reloader: reload.Reloader

    @property
    def path(self) -> Path:
        return self.rt.project.schedule

    def write(self, config: dict[str, Any]) -> str:
        text = yaml.safe_dump(config, sort_keys=False)
        self.path.write_text(text, encoding="utf-8")
        return text

    def triggers(self) -> dict[str, str]:
        return {job.id: str(job.trigger) for job in self.jobs.get_jobs()}


@pytest.fixture
def running(project_dir: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Running]:
    """A scheduler built from the project, started paused (its jobs are scheduled; none runs)."""
    monkeypatch.setenv("SHORTLINE_DATABASE_URL", database_url)
    monkeypatch.setenv("RELOAD_SECRET", SECRET)
    (project_dir / "schedule.yaml").write_text(yaml.safe_dump(schedule(), sort_keys=False), encoding="utf-8")
    rt = Runtime.load(Project(project_dir), SystemClock())
    jobs = scheduler.build(rt)
    reloader = reload.watch(rt, jobs)
    jobs.start(paused=True)
    yield Running(rt, jobs, reloader)
    jobs.shutdown(wait=False)
    rt.store.engine.dispose()


def line_of(text: str, fragment: str) -> int:
    return next(number for number, line in enumerate(text.splitlines(), 1) if fragment in line)


def test_every_job_has_a_stable_id_coalesces_and_a_grace_time(running: Running) -> None:
    assert running.triggers() == {
        "job:daily": "cron[month='*', day='*', day_of_week='*', hour='9', minute='0']",
        "job:hourly": "interval[1:00:00]",
        "job:weekly": "cron[month='*', day='*', day_of_week='mon', hour='9', minute='0']",  # cron's 1: Monday
        "worker": "interval[0:00:02]",
        "reload": "interval[0:00:02]",
    }
    grace = {job.id: job.misfire_grace_time for job in running.jobs.get_jobs()}
    assert grace == {"job:daily": 60, "job:hourly": 60, "job:weekly": 60, "worker": 30, "reload": 60}
    assert all(job.coalesce and job.max_instances == 1 for job in running.jobs.get_jobs())


def test_a_version_with_problems_is_refused_whole(running: Running, caplog: pytest.LogCaptureFixture) -> None:
    before, config = running.triggers(), running.rt.config
    broken = schedule()
    broken["jobs"]["daily"]["trigger"] = {"cron": "30 7 * * *"}  # a good change, in a file that is not good
    broken["jobs"]["hourly"]["reveiw"] = "auto"
    text = running.write(broken)
    with caplog.at_level(logging.INFO, logger="pipeline.reload"):
        assert running.reloader.poll() is False
        assert running.reloader.poll() is None  # said once, not at every poll
    assert running.triggers() == before and running.rt.config is config
    [record] = [r for r in caplog.records if r.levelno == logging.ERROR]
    message = record.getMessage()
    assert message.startswith(f"schedule.yaml changed: {running.path} has 1 problem; kept the configuration loaded at ")
    assert (
        f"{running.path}:{line_of(text, 'reveiw')}: jobs.hourly.reveiw: unknown key (did you mean 'review'?)" in message
    )


def test_a_good_version_replaces_only_what_changed(running: Running, caplog: pytest.LogCaptureFixture) -> None:
    daily = running.jobs.get_job("job:daily")
    outbox, webhook = (running.rt.channels[0][name] for name in ("outbox", "webhook"))
    new = schedule()
    new["jobs"]["hourly"]["trigger"] = {"every": "2h"}
    new["jobs"]["daily"]["review"] = "required"  # the value it had: no change
    del new["jobs"]["weekly"]
    new["jobs"]["monthly"] = job({"cron": "0 9 1 * *"}, misfire="catch_up_once", max_lateness="2d")
    new["channels"]["webhook"]["base_url"] = "http://127.0.0.1:9/b"
    running.write(new)
    with caplog.at_level(logging.INFO, logger="pipeline.reload"):
        assert running.reloader.poll() is True
    assert set(running.triggers()) == {"job:daily", "job:hourly", "job:monthly", "worker", "reload"}
    assert running.triggers()["job:hourly"] == "interval[2:00:00]"
    assert running.jobs.get_job("job:daily").next_run_time == daily.next_run_time
    assert running.jobs.get_job("job:monthly").misfire_grace_time == 2 * 86400
    ready, skipped = running.rt.channels
    assert ready["outbox"] is outbox and ready["webhook"] is not webhook and skipped == {}
    assert ready["webhook"].config.base_url == "http://127.0.0.1:9/b"
    assert set(running.rt.config.jobs) == {"daily", "hourly", "monthly"}
    assert f"schedule.yaml changed: reloaded {running.path}; jobs: added monthly; changed hourly; removed weekly; " \
        "channels: changed webhook" in caplog.text  # fmt: skip


def test_after_a_refused_version_the_fixed_one_applies(running: Running) -> None:
    broken = schedule()
    broken["timezone"] = "Asia/Shang_Hai"
    running.write(broken)
    assert running.reloader.poll() is False
    fixed = schedule(timezone="Europe/Berlin")
    running.write(fixed)
    assert running.reloader.poll() is True
    assert running.rt.config.timezone == "Europe/Berlin"
    zones = {str(job.trigger.timezone) for job in running.jobs.get_jobs() if job.id.startswith("job:")}
    assert zones == {"Europe/Berlin"}  # a new timezone replaces every job


def test_sighup_reloads_an_unchanged_file_and_a_touch_does_not(
    running: Running, caplog: pytest.LogCaptureFixture
) -> None:
    stat = running.path.stat()
    os.utime(running.path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
    assert running.reloader.poll() is None  # a new time, the same content
    running.reloader.on_signal(signal.SIGHUP, None)
    with caplog.at_level(logging.INFO, logger="pipeline.reload"):
        assert running.reloader.poll() is True
    assert f"SIGHUP: reloaded {running.path}; jobs: unchanged; channels: unchanged" in caplog.text
    assert running.reloader.poll() is None


def test_a_file_gone_for_a_while_keeps_the_config(running: Running, caplog: pytest.LogCaptureFixture) -> None:
    text = running.path.read_text()
    running.path.unlink()
    assert running.reloader.poll() is False
    assert f"{running.path}: cannot read" in caplog.text
    assert running.reloader.poll() is None
    running.path.write_text(text + "# back\n")
    assert running.reloader.poll() is True
