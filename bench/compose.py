"""Compose throughput: posts per second on one core (target 2,000/s).

    python bench/compose.py [--posts N] [--repeat N]

A post is one fire of the example job: every channel variant (10 channels x 2 languages) of the
Shenyang facts, each with its own identity (so wording choices are drawn afresh), fitted to its
channel's limits and checked for number provenance. Facts are loaded and templates compiled once,
as in the scheduler; cards are not rendered (bench/cards measures those).
Rows:
  - "repeat fires": the same facts fired again and again (the steady state of a campaign);
  - "new paragraph figures every post": every post has its own sister-city and trade figures, never
    used before in the process (nor by an earlier pass), so the paragraphs that state them, and
    every count over them, are new to every cache;
  - "new figures every post": as above, and a new impact rank too, which a short-line run states: the
    run is new in every post and goes through the breaker (an English line whose digits alone changed
    takes the breaks found for its shape before; a Chinese one that fits is its own line);
  - "new figures, breaker cold": as above, and the breaker remembers nothing from post to post (its
    broken lines and its per-paragraph analysis are cleared before each post), so every line of
    the new run is broken from scratch.
All rows run on one core.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipeline import compose, config, facts, templating
from pipeline.compose import breaker, runs
from pipeline.model import FactSet, Variant

REPO = Path(__file__).resolve().parent.parent
TARGET = 2_000.0


Compose = Callable[[FactSet, str], list[Variant]]
PARAGRAPH_FIGURES = ("sister_cities", "trade_partners")  # each stated in a paragraph
NEW_FIGURES = (*PARAGRAPH_FIGURES, "impact_rank")  # the rank is stated in a short-line run


def composer() -> tuple[Compose, FactSet]:
    """compose() for the example job with everything loaded once, and the example facts."""
    project = config.Project(REPO)
    cfg = config.load(project)
    job = cfg.jobs["shenyang-profile"]
    env = templating.environment((REPO / "templates").resolve())

    def make(fact_set: FactSet, identity: str) -> list[Variant]:
        return compose.compose(env, job, fact_set, cfg.channels, identity)

    return make, facts.load_all(job.facts, project)


def with_figures(fact_set: FactSet, n: int, keys: tuple[str, ...] = NEW_FIGURES) -> FactSet:
    changed = {key: dataclasses.replace(fact_set.facts[key], value=n) for key in keys}
    return dataclasses.replace(fact_set, facts=fact_set.facts | changed)


def posts_per_second(make: Compose, fact_set: FactSet, posts: int, mode: str, figures: Iterator[int]) -> float:
    """One pass of `posts` posts; `figures` hands out figures never used before in this process."""
    keys = {"repeat": (), "paragraphs": PARAGRAPH_FIGURES}.get(mode, NEW_FIGURES)
    inputs = [with_figures(fact_set, next(figures), keys) if keys else fact_set for _ in range(posts)]
    elapsed = 0.0
    for n, post_facts in enumerate(inputs):
        if mode == "cold":
            runs._break.cache_clear()
            breaker.cache_clear()
        start = time.perf_counter()
        make(post_facts, f"shenyang-profile@{n}")
        elapsed += time.perf_counter() - start
    return posts / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--posts", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    make, fact_set = composer()
    variants = len(make(fact_set, "warm-up"))
    print(f"| {'compose (' + str(variants) + ' variants/post)':<32} | {'posts/s':>9} | {'target':>7} | {'ratio':>6} |")
    print(f"|{'-' * 34}|{'-' * 11}|{'-' * 9}|{'-' * 8}|")
    rows = {
        "repeat": "repeat fires",
        "paragraphs": "new paragraph figures every post",
        "new": "new figures every post",
        "cold": "new figures, breaker cold",
    }
    figures = itertools.count(1000)  # no figure twice, across passes and rows: each is new to every cache
    for mode, name in rows.items():
        passes = [posts_per_second(make, fact_set, args.posts, mode, figures) for _ in range(args.repeat)]
        median = statistics.median(passes)
        print(f"| {name:<32} | {median:>9,.0f} | {TARGET:>7,.0f} | {median / TARGET:>6.2f} |")


if __name__ == "__main__":
    main()
