"""`shortline check`: every problem in a project, each as `file:line: problem`, without side effects."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path

import jinja2

from . import compose, config, facts, render, templating
from .config import Config, JobConfig, Project
from .errors import LocatedError, PipelineError, Problem
from .model import FactSet

CHECK_SIZES = ((1080, 1350), (1080, 1080), (1200, 675), (900, 383))


def check_project(project: Project) -> list[Problem]:
    try:
        cfg = config.load(project)
    except LocatedError as exc:
        return exc.problems
    env = templating.environment(project.templates.resolve())
    problems: list[Problem] = []
    for job in cfg.jobs.values():
        problems += _check_job(project, cfg, job, env)
    return problems


def _check_job(project: Project, cfg: Config, job: JobConfig, env: jinja2.Environment) -> list[Problem]:
    try:
        fact_set = facts.load_all(job.facts, project)
        compose.compose(env, job, fact_set, cfg.channels)
    except LocatedError as exc:
        return exc.problems
    langs = sorted({lang for name in job.channels for lang in cfg.channels[name].langs})
    return [p for name in job.cards for p in _check_card(project.templates / name, fact_set, langs, env)]


def _check_card(path: Path, fact_set: FactSet, langs: Sequence[str], env: jinja2.Environment) -> list[Problem]:
    """Render the card at every target size in every language, into a throwaway folder."""
    try:
        template = render.load_card_template(path)
        with tempfile.TemporaryDirectory() as media:
            for lang in langs:
                for size in CHECK_SIZES:
                    render.render_card(template, compose.context(fact_set, lang), size, Path(media), env)
    except LocatedError as exc:
        return exc.problems
    except PipelineError as exc:
        return [Problem(str(path), 0, str(exc))]
    return []
