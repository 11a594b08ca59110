"""Every card of a job, on every core: each template in each language at each size its channels need,
encoded in each format and byte budget those channels take (compose.channels.SPECS).

    tasks, fact_set = plan(rt, "shenyang-profile")
    for result in render_all(rt, tasks, fact_set, progress=bar.update):
        print(result.card or result.error)

A task is one template, language and size: it is laid out and drawn once, then encoded once per
(format, budget). Tasks run in a ProcessPoolExecutor with one worker per usable CPU; results come
back in plan order (job.cards, then en before zh, then sizes in the order the job's channels first
need them), whichever worker finishes first. A card that cannot be made (text that does not fit, a
budget no quality meets) is reported with its error and the others still render.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .. import compose
from ..compose.channels import SPECS
from ..errors import LocatedError, PipelineError
from ..model import LANGS, Card, FactSet
from . import card_image, card_label, load_card_template, save_card
from .encode import ImageFormat, encode_within

if TYPE_CHECKING:
    import jinja2

    from ..flow import Runtime
    from .template import CardTemplate


@dataclass(frozen=True)
class Target:
    """One encoding a card needs, and the job's channels that take it."""

    format: ImageFormat
    budget: int | None
    channels: tuple[str, ...]


@dataclass(frozen=True)
class Task:
    """One card template in one language at one size, and every encoding of it the job needs."""

    name: str  # as the job names it: cards/stat.yaml
    path: Path
    lang: str
    size: tuple[int, int]
    targets: tuple[Target, ...]


@dataclass(frozen=True)
class Result:
    """One card as written (`card`, with its byte count and quality), or why it could not be."""

    task: Task
    target: Target
    card: Card | None = None
    bytes: int = 0
    quality: int | None = None
    error: str | None = None
    located: bool = False  # the error names a file and line: a template or facts problem

    @property
    def ok(self) -> bool:
        return self.error is None


def plan(rt: Runtime, job_id: str) -> tuple[list[Task], FactSet]:
    """The job's cards (templates loaded and checked here, so a bad one fails before any work) and
    its facts."""
    from ..flow import load_facts

    job = rt.job(job_id)
    for name in job.cards:
        load_card_template(rt.project.templates / name)
    cards: Needs = {}
    covers: Needs = {}
    for channel_name in job.channels:
        spec = SPECS[rt.config.channels[channel_name].type]
        for lang in rt.config.channels[channel_name].langs:
            _need(cards, lang, spec.card_size, spec.card_format, spec.card_budget, channel_name)
            if spec.cover_size:
                _need(covers, lang, spec.cover_size, spec.cover_format, spec.cover_budget, channel_name)
    tasks = _tasks(rt, job.cards, cards)
    if job.cover_template and covers:
        tasks += _tasks(rt, (job.cover_template,), covers)
    return tasks, load_facts(rt, job)


Needs = dict[tuple[str, tuple[int, int]], dict[tuple[ImageFormat, int | None], list[str]]]


def _need(needs: Needs, lang: str, size: tuple[int, int], fmt: ImageFormat, budget: int | None, channel: str) -> None:
    needs.setdefault((lang, size), {}).setdefault((fmt, budget), []).append(channel)


def _tasks(rt: Runtime, names: tuple[str, ...], needs: Needs) -> list[Task]:
    order = sorted(needs, key=lambda key: LANGS.index(key[0]))  # stable: sizes keep first-need order
    templates = rt.project.templates
    return [
        Task(name, templates / name, lang, size, _targets(needs[(lang, size)]))
        for name in names
        for lang, size in order
    ]


def _targets(encodings: dict[tuple[ImageFormat, int | None], list[str]]) -> tuple[Target, ...]:
    return tuple(Target(fmt, budget, tuple(channels)) for (fmt, budget), channels in encodings.items())


def workers_available() -> int:
    """The CPUs this process may run on (os.process_cpu_count() from Python 3.13)."""
    counter = getattr(os, "process_cpu_count", None)
    if counter is not None:
        return int(counter() or 1)
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


def render_all(
    rt: Runtime,
    tasks: list[Task],
    fact_set: FactSet,
    workers: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> list[Result]:
    """Render every task into the project's media folder; results in task order, then target order.

    One worker runs in this process; more run in a process pool. `progress(1)` is called as each
    task finishes.
    """
    workers = max(1, min(workers or workers_available(), len(tasks)))
    setup = (rt.project.templates.resolve(), fact_set, rt.project.media.resolve())
    done: dict[int, list[Result]] = {}
    if workers == 1 or len(tasks) <= 1:
        _start(*setup)
        for index, task in enumerate(tasks):
            done[index] = _render(task)
            if progress:
                progress(1)
    else:
        with concurrent.futures.ProcessPoolExecutor(workers, initializer=_start, initargs=setup) as pool:
            futures = {pool.submit(_render, task): index for index, task in enumerate(tasks)}
            for future in concurrent.futures.as_completed(futures):
                done[futures[future]] = future.result()
                if progress:
                    progress(1)
    root = rt.project.root.resolve()
    return [_relative(result, root) for index in range(len(tasks)) for result in done[index]]


def _relative(result: Result, root: Path) -> Result:
    """Card paths relative to the project, as generate writes them."""
    if result.card is None or not result.card.path.is_relative_to(root):
        return result
    return dataclasses.replace(result, card=dataclasses.replace(result.card, path=result.card.path.relative_to(root)))


@dataclass
class _Worker:
    """What each worker process holds, set once by _start: the Jinja environment, the facts, the
    media folder and the templates it has loaded."""

    env: jinja2.Environment
    facts: FactSet
    media: Path
    templates: dict[Path, CardTemplate]


_worker: _Worker | None = None


def _start(templates: Path, fact_set: FactSet, media: Path) -> None:
    from .. import templating

    global _worker
    _worker = _Worker(templating.environment(templates), fact_set, media, {})


def _render(task: Task) -> list[Result]:
    """Draw one task and encode each of its targets. Errors come back as text: some library
    exceptions (TextDoesNotFit) do not survive pickling."""
    worker = _worker
    assert worker is not None, "_start() runs first in every worker"
    try:
        template = worker.templates.get(task.path)
        if template is None:
            template = worker.templates[task.path] = load_card_template(task.path)
        context = compose.context(worker.facts, task.lang)
        image, alt = card_image(template, context, task.size, worker.env)
    except PipelineError as exc:
        return [_failed(task, target, exc) for target in task.targets]
    results = []
    for target in task.targets:
        try:
            encoded = encode_within(image, target.format, target.budget, card_label(template, context, task.size))
        except PipelineError as exc:
            results.append(_failed(task, target, exc))
            continue
        card = save_card(encoded, alt, worker.media)
        results.append(Result(task, target, card, len(encoded.data), encoded.quality))
    return results


def _failed(task: Task, target: Target, exc: PipelineError) -> Result:
    return Result(task, target, error=str(exc), located=isinstance(exc, LocatedError))
