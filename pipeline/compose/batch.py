"""Composing many posts at once on every core: a campaign, an import, a backfill.

Each process of the pool builds the template environment once and then composes its share of the
posts, so a batch costs about 1/N of the time on N cores; results come back in input order.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from types import TracebackType

import jinja2

from .. import templating
from ..config import ChannelConfig, JobConfig
from ..model import FactSet, Variant
from . import compose

Post = tuple[FactSet, str]  # the facts, and the post's identity (which seeds its wording)
_state: tuple[jinja2.Environment, JobConfig, Mapping[str, ChannelConfig]] | None = None


def _start(templates: Path, job: JobConfig, channels: Mapping[str, ChannelConfig]) -> None:
    global _state
    _state = (templating.environment(templates), job, channels)


def _compose_share(posts: Sequence[Post]) -> list[list[Variant]]:
    assert _state is not None, "the pool's initializer sets up each process"
    env, job, channels = _state
    return [compose(env, job, facts, channels, identity) for facts, identity in posts]


class Composer:
    """A pool of processes ready to compose one job's posts; close it (or use `with`) when done."""

    def __init__(
        self, templates: Path, job: JobConfig, channels: Mapping[str, ChannelConfig], workers: int | None = None
    ) -> None:
        self.workers = workers or len(os.sched_getaffinity(0))
        self.pool = ProcessPoolExecutor(self.workers, initializer=_start, initargs=(templates, job, channels))

    def compose_many(self, posts: Sequence[Post]) -> list[list[Variant]]:
        """Every post's variants, in input order; a ComposeError from any post is raised here."""
        size = -(-len(posts) // self.workers) if posts else 1
        shares = [posts[start : start + size] for start in range(0, len(posts), size)]
        return [variants for share in self.pool.map(_compose_share, shares) for variants in share]

    def close(self) -> None:
        self.pool.shutdown()

    def __enter__(self) -> Composer:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()
