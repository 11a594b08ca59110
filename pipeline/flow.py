"""The whole pipeline, read left to right: facts → compose → render → queue → publish.

Drivers (the CLI, the scheduler, the preview) build one Runtime and call these functions; no stage
knows about any driver.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections import Counter
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

import jinja2

from . import compose, config, facts, publish, render, templating, triggers
from .clock import Clock
from .compose.channels import SPECS
from .config import Config, JobConfig, Project
from .errors import ConfigError, Problem, PublishError
from .model import Card, FactSet, Variant
from .publish import Publisher, build_publishers
from .publish.base import ChannelReport
from .publish.tokens import StoredTokens
from .publish.worker import Worker
from .store import Store
from .store.media_files import card_files

if TYPE_CHECKING:
    from .render.encode import ImageFormat

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    """Everything a driver needs, built once from a project folder."""

    project: Project
    config: Config
    clock: Clock

    @classmethod
    def load(cls, project: Project, clock: Clock) -> Runtime:
        return cls(project, config.load(project), clock)

    @cached_property
    def env(self) -> jinja2.Environment:
        return templating.environment(self.project.templates.resolve())

    @cached_property
    def store(self) -> Store:
        store = Store(self.project.database_url)
        store.create_tables()
        return store

    @cached_property
    def channels(self) -> tuple[dict[str, Publisher], dict[str, str]]:
        """The publishers ready to send, and why each other channel is skipped (said once, here)."""
        tokens = StoredTokens(self.store)
        ready, skipped = build_publishers(self.config, publish.services(self.project, tokens))
        for name, reason in skipped.items():
            log.warning("channel %s: %s; its deliveries wait in the queue", name, reason)
        return ready, skipped

    def reconfigure(self, new: Config, channels: tuple[dict[str, Publisher], dict[str, str]]) -> None:
        """Put a reloaded configuration in force, with the publishers already built for it."""
        self.config = new
        self.__dict__["channels"] = channels  # the cached property's new value

    def job(self, job_id: str) -> JobConfig:
        if job_id not in self.config.jobs:
            known = ", ".join(self.config.jobs)
            raise ConfigError([Problem(str(self.project.schedule), 0, f"no job named {job_id!r} (jobs: {known})")])
        return self.config.jobs[job_id]


def generate(
    rt: Runtime, job_id: str, fire_time: dt.datetime | None = None, fact_set: FactSet | None = None
) -> list[Variant]:
    """Compose every channel variant of a job and render its cards, without queueing anything.

    A dry run (no fire time) previews the post of the job's latest scheduled fire, wording included.
    `fact_set` replaces the job's own facts.
    """
    job = rt.job(job_id)
    fire_time = fire_time or triggers.previous_fire(job, rt.config.tz, rt.clock.now())
    fact_set = fact_set or load_facts(rt, job)
    variants = compose.compose(rt.env, job, fact_set, rt.config.channels, f"{job_id}@{fire_time.isoformat()}")
    return attach_cards(rt, job, fact_set, variants)


def load_facts(rt: Runtime, job: JobConfig) -> FactSet:
    fact_set = facts.load_all(job.facts, rt.project)
    if job.max_fact_age is not None:
        facts.require_fresh(fact_set, job.max_fact_age, rt.clock.now().astimezone(rt.config.tz).date())
    return fact_set


def attach_cards(rt: Runtime, job: JobConfig, fact_set: FactSet, variants: list[Variant]) -> list[Variant]:
    """Each variant's cards at its channel's size, format and budget; a cover first where the channel shows one."""
    templates = [render.load_card_template(rt.project.templates / name) for name in job.cards]
    cover = job.cover_template
    cover_template = render.load_card_template(rt.project.templates / cover) if cover else None
    rendered: dict[tuple[object, ...], Card] = {}

    def card(
        template: render.CardTemplate, lang: str, size: tuple[int, int], fmt: ImageFormat, budget: int | None
    ) -> Card:
        key = (id(template), lang, size, fmt, budget)
        if key not in rendered:
            rendered[key] = _card(rt, template, compose.context(fact_set, lang), size, fmt, budget)
        return rendered[key]

    result = []
    for variant in variants:
        spec = SPECS[variant.type]
        cards = [card(t, variant.lang, spec.card_size, spec.card_format, spec.card_budget) for t in templates]
        if spec.cover_size and cover_template is not None:
            cards.insert(0, card(cover_template, variant.lang, spec.cover_size, spec.cover_format, spec.cover_budget))
        result.append(dataclasses.replace(variant, cards=tuple(cards)))
    return result


def _card(
    rt: Runtime,
    template: render.CardTemplate,
    context: dict[str, object],
    size: tuple[int, int],
    fmt: ImageFormat,
    budget: int | None,
) -> Card:
    card = render.render_card(template, context, size, rt.project.media, rt.env, fmt, budget)
    return dataclasses.replace(card, path=card.path.resolve().relative_to(rt.project.root.resolve()))


def fire(rt: Runtime, job_id: str, fire_time: dt.datetime) -> int | None:
    """One job fire: generate and queue its post once; None if this fire was already queued."""
    job = rt.job(job_id)
    fact_set = load_facts(rt, job)
    variants = generate(rt, job_id, fire_time, fact_set)
    title = variants[0].text.splitlines()[0] if variants else job_id
    auto, now = job.review == "auto", rt.clock.now()
    files = card_files(rt.project.root, variants)
    return rt.store.add_post(
        job_id, fire_time, title, variants, auto_approve=auto, now=now, facts=fact_set, files=files
    )


def check_channels(rt: Runtime) -> list[ChannelReport]:
    """Every channel's credentials, limits and quota, verified without posting, in schedule.yaml's order."""
    ready, skipped = rt.channels
    paused = rt.store.paused()
    reports = []
    for name in rt.config.channels:
        if name in skipped:
            reports.append(ChannelReport(name, False, skipped[name], skipped=True))
            continue
        report = _verify(ready[name])
        if name in paused:
            report = dataclasses.replace(report, detail=f"{report.detail}; PAUSED: {paused[name]}")
        reports.append(report)
    return reports


def _verify(publisher: Publisher) -> ChannelReport:
    try:
        return publisher.verify()
    except PublishError as exc:
        return ChannelReport(publisher.name, False, str(exc))


def publish_due(rt: Runtime) -> Counter[str]:
    """One publishing pass over every approved, due delivery."""
    ready, _ = rt.channels
    return Worker(rt.store, ready, rt.clock).run_pass()
