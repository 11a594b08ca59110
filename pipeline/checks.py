"""`shortline check`: every problem in a project, each as `file:line: problem`, without side effects."""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import jinja2

from . import compose, config, facts, render, templating, triggers, yamldoc
from .compose.channels import SPECS
from .config import Config, JobConfig, Project
from .errors import ConfigError, LocatedError, PipelineError, Problem
from .model import FactSet

if TYPE_CHECKING:
    from .render.encode import ImageFormat

CHECK_SIZES = ((1080, 1350), (1080, 1080), (1200, 675), (900, 383))


def check_project(project: Project) -> list[Problem]:
    try:
        cfg = config.load(project)
    except LocatedError as exc:
        return exc.problems
    env = templating.environment(project.templates.resolve())
    problems: list[Problem] = _clock_changes(project, cfg)
    for job in cfg.jobs.values():
        problems += _check_job(project, cfg, job, env)
    return problems


def _clock_changes(project: Project, cfg: Config) -> list[Problem]:
    """Fire times in the coming year that a daylight-saving change skips or doubles."""
    document = yamldoc.load(project.schedule, ConfigError)
    now = dt.datetime.now(dt.UTC)
    return [
        Problem(str(project.schedule), document.line_of(("jobs", job_id, "trigger")), f"jobs.{job_id}.trigger: {text}")
        for job_id, job in cfg.jobs.items()
        for text in triggers.dst_problems(job, cfg.tz, now)
    ]


def _check_job(project: Project, cfg: Config, job: JobConfig, env: jinja2.Environment) -> list[Problem]:
    try:
        fact_set = facts.load_all(job.facts, project)
        compose.compose(env, job, fact_set, cfg.channels)
    except LocatedError as exc:
        return exc.problems
    langs = sorted({lang for name in job.channels for lang in cfg.channels[name].langs})
    return [
        problem
        for name, targets in _card_targets(cfg, job).items()
        for problem in _check_card(project.templates / name, fact_set, langs, env, targets)
    ]


Target = tuple[tuple[int, int], "ImageFormat", int | None]


def _card_targets(cfg: Config, job: JobConfig) -> dict[str, set[Target]]:
    """Each card template's targets: every standard size, and each channel's size, format and byte budget."""
    specs = [SPECS[cfg.channels[name].type] for name in job.channels]
    cards: set[Target] = {(size, "png", None) for size in CHECK_SIZES}
    cards |= {(spec.card_size, spec.card_format, spec.card_budget) for spec in specs}
    targets = {name: set(cards) for name in job.cards}
    covers = {(spec.cover_size, spec.cover_format, spec.cover_budget) for spec in specs if spec.cover_size}
    if job.cover_template and covers:
        targets.setdefault(job.cover_template, set()).update(covers)
    return targets


def _check_card(
    path: Path, fact_set: FactSet, langs: Sequence[str], env: jinja2.Environment, targets: set[Target]
) -> list[Problem]:
    """Render the card for every target in every language, into a throwaway folder: text that does not
    fit and an image that cannot be brought within its budget are both found here, not at publish time."""
    try:
        template = render.load_card_template(path)
        with tempfile.TemporaryDirectory() as media:
            for lang in langs:
                context = compose.context(fact_set, lang)
                for size, fmt, budget in sorted(targets, key=str):
                    render.render_card(template, context, size, Path(media), env, fmt, budget)
    except LocatedError as exc:
        return exc.problems
    except PipelineError as exc:
        return [Problem(str(path), 0, str(exc))]
    return []
