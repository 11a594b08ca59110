"""schedule.yaml reloaded while `shortline run` runs: on SIGHUP, and when the file changes.

A poll job looks at the file's modification time every few seconds and, when it moved, at its
content hash; SIGHUP asks for a reload whatever the file looks like. A new configuration is applied
whole or not at all: one with problems is refused (each logged as `file:line: message`) and the last
good one stays in force. A good one replaces only what changed: the APScheduler job of each job whose
settings changed (stable ids `job:NAME`), jobs added and removed, and the publishers of the channels
that changed. A fire already under way finishes with the settings it read.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import logging
import threading
from collections.abc import Mapping
from pathlib import Path
from types import FrameType
from typing import TypeVar

from apscheduler.schedulers.base import BaseScheduler

from . import config, publish, scheduler
from .config import Config
from .errors import ConfigError
from .flow import Runtime
from .publish import Publisher
from .publish.tokens import StoredTokens

log = logging.getLogger(__name__)
POLL = dt.timedelta(seconds=2)
T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class Stamp:
    """What the poll compares: the file's modification time and size, then its content's hash."""

    mtime_ns: int
    size: int
    digest: str

    @classmethod
    def of(cls, path: Path, last: Stamp | None = None) -> Stamp | None:
        """The file's stamp; it is read and hashed only when its time or size moved since `last`."""
        try:
            stat = path.stat()
            if last is not None and (stat.st_mtime_ns, stat.st_size) == (last.mtime_ns, last.size):
                return last
            return cls(stat.st_mtime_ns, stat.st_size, hashlib.sha256(path.read_bytes()).hexdigest())
        except OSError:
            return None  # gone for now (an editor replacing it); loading it says why, if it stays gone


@dataclasses.dataclass(frozen=True)
class Diff:
    """Names added, changed and removed between two mappings (the rest are unchanged)."""

    added: list[str]
    changed: list[str]
    removed: list[str]

    @classmethod
    def of(cls, old: Mapping[str, T], new: Mapping[str, T]) -> Diff:
        changed = [name for name in new if name in old and old[name] != new[name]]
        return cls([n for n in new if n not in old], changed, [n for n in old if n not in new])

    def __str__(self) -> str:
        parts = [f"{what} {', '.join(names)}" for what, names in self._parts() if names]
        return "; ".join(parts) or "unchanged"

    def _parts(self) -> list[tuple[str, list[str]]]:
        return [("added", self.added), ("changed", self.changed), ("removed", self.removed)]


class Reloader:
    """Watches a running Runtime's schedule.yaml and applies good new versions to it and its scheduler."""

    def __init__(self, rt: Runtime, jobs: BaseScheduler) -> None:
        self.rt, self.jobs = rt, jobs
        self.path = rt.project.schedule
        self.seen = Stamp.of(self.path)
        self.loaded_at = rt.clock.now()
        self.requested = threading.Event()

    def on_signal(self, signum: int, frame: FrameType | None) -> None:
        """A signal handler (SIGHUP): only asks; the next poll reloads, outside the handler."""
        self.requested.set()

    def poll(self) -> bool | None:
        """Reload if SIGHUP asked for it or the file's content changed: whether the new one applied
        (None: nothing to do)."""
        stamp = Stamp.of(self.path, self.seen)
        changed = _digest(stamp) != _digest(self.seen)  # a new time with the same content is no change
        self.seen = stamp
        if self.requested.is_set():
            self.requested.clear()
            return self.reload("SIGHUP")
        return self.reload(f"{self.path.name} changed") if changed else None

    def reload(self, why: str) -> bool:
        """Load schedule.yaml and apply it whole, or keep the configuration in force and say why."""
        try:
            new = config.load(self.rt.project)
        except ConfigError as exc:
            kept = self.loaded_at.astimezone(self.rt.config.tz).isoformat(timespec="seconds")
            count = f"{len(exc.problems)} problem{'' if len(exc.problems) == 1 else 's'}"
            log.error("%s: %s has %s; kept the configuration loaded at %s:\n%s", why, self.path, count, kept, exc)
            return False
        jobs, channels = apply(self.rt, self.jobs, new)
        self.loaded_at = self.rt.clock.now()
        log.info("%s: reloaded %s; jobs: %s; channels: %s", why, self.path, jobs, channels)
        return True


def watch(rt: Runtime, jobs: BaseScheduler, every: dt.timedelta = POLL) -> Reloader:
    """A Reloader whose poll runs as the scheduler's job `reload`; hook `on_signal` to SIGHUP."""
    reloader = Reloader(rt, jobs)
    late = {"coalesce": True, "max_instances": 1, "misfire_grace_time": 60}
    jobs.add_job(reloader.poll, "interval", seconds=every.total_seconds(), id="reload", **late)
    return reloader


def apply(rt: Runtime, jobs: BaseScheduler, new: Config) -> tuple[Diff, Diff]:
    """Put a valid configuration in force: publishers first, then the config, then the jobs."""
    old = rt.config
    channels, job_changes = Diff.of(old.channels, new.channels), Diff.of(old.jobs, new.jobs)
    publishers = _publishers(rt, new, set(channels.added + channels.changed))
    rt.reconfigure(new, publishers)
    if old.tz != new.tz:  # every trigger counts in the timezone
        job_changes = dataclasses.replace(job_changes, changed=[n for n in new.jobs if n in old.jobs])
    for job_id in job_changes.removed:
        scheduler.unschedule(jobs, job_id)
    for job_id in job_changes.added + job_changes.changed:
        scheduler.schedule(jobs, rt, job_id, new.jobs[job_id])
    return job_changes, channels


def _publishers(rt: Runtime, new: Config, fresh: set[str]) -> tuple[dict[str, Publisher], dict[str, str]]:
    """The new config's publishers: those of unchanged channels kept (sessions, token caches), the rest built."""
    ready, skipped = rt.channels
    services = next(iter(ready.values())).services if ready else publish.services(rt.project, StoredTokens(rt.store))
    built, refused = publish.build_publishers(new.model_copy(update={"channels": _only(new, fresh)}), services)
    for name, reason in refused.items():
        log.warning("channel %s: %s; its deliveries wait in the queue", name, reason)
    kept = {name: ready[name] for name in new.channels if name not in fresh and name in ready}
    still = {name: skipped[name] for name in new.channels if name not in fresh and name in skipped}
    return {n: (kept | built)[n] for n in new.channels if n in kept | built}, still | refused


def _digest(stamp: Stamp | None) -> str | None:
    return stamp.digest if stamp else None


def _only(new: Config, names: set[str]) -> dict[str, config.ChannelConfig]:
    return {name: channel for name, channel in new.channels.items() if name in names}
