"""kill -9 of a worker at each step of a delivery, over many randomized runs, on SQLite and on PostgreSQL.

Each run queues one or two posts, each with a delivery per channel (weibo, webhook, mastodon) and
language, all due; a worker process claims them all and publishes them, channels side by side, and
sends itself SIGKILL at a random occurrence of one step (see worker_process): after the claim, after
a delivery's "publishing" commit, during an HTTP call, or after the API accepted but before the
receipt commit. Then a survivor worker finishes: once the dead worker's short lease has run out, its
sweep retries the idempotent deliveries (same key) and parks the Weibo ones that may have gone out.

After every run: every delivery is in exactly one terminal state (and its audit trail reached one
terminal state, once), none was lost, none was posted twice (counted on the emulators); webhook and
Mastodon published each exactly once; Weibo, which can neither de-duplicate nor read back, published
or left for an editor as `unknown`, and was never sent the same delivery twice.
"""

from __future__ import annotations

import os
import random
import signal
import time
from collections import Counter

from tests.reliability.harness import Harness
from tests.reliability.worker_process import STEPS, drain

RUNS = int(os.environ.get("SHORTLINE_RELIABILITY_RUNS") or 40)  # per database, spread evenly over the steps
LEASE = 0.4  # seconds: the survivor waits this long at most for a dead worker's deliveries
LATENCY = 0.15  # in `http` runs the emulators hold every answer this long; the kill is timed within 0.1 s


def plan(rng: random.Random, runs: int) -> list[str]:
    """The step of each run: every step equally often, in a shuffled order."""
    steps: list[str] = []
    while len(steps) < runs:
        steps += rng.sample(STEPS, len(STEPS))
    return steps[:runs]


def test_kill_9_at_every_step_leaves_each_delivery_settled_once(harness: Harness, seed: int) -> None:
    rng, tally, began = random.Random(seed), Counter[str](), time.monotonic()
    survivor = harness.survivor(LEASE)
    for run, step in enumerate(plan(rng, RUNS)):
        ids = [i for post in range(rng.randint(1, 2)) for i in harness.queue(f"{seed}-{run}-{post}")]
        nth = 1 if step == "claim" else rng.randint(1, len(ids))
        delay = rng.uniform(0.0, LATENCY - 0.05) if step == "http" else 0.0
        print(f"run {run}: kill -9 at {step} #{nth} (+{delay * 1000:.0f} ms) of {len(ids)} deliveries {ids}")
        spec = harness.spec(step=step, nth=nth, delay=delay, lease=LEASE, seed=rng.randrange(2**32))
        harness.set_latency(LATENCY if step == "http" else 0.0)
        victim = harness.start(spec)
        victim.join(20)
        harness.set_latency(0.0)
        assert victim.exitcode == -signal.SIGKILL, f"not killed (exit {victim.exitcode})\n{harness.log(spec)}"
        if step == "http":  # did the kill land while the request was in flight?
            tally["http kills: " + ("after the answer" if harness.report(spec).of("answered") else "in flight")] += 1
        try:
            drain(survivor, timeout=20)
            tally.update(f"{step}: {label}" for label in harness.check_settled(ids))
        except BaseException:
            print(harness.log(spec))
            raise
    print(f"{RUNS} kills in {time.monotonic() - began:.1f} s on {harness.database.split(':')[0]}:")
    for label, count in sorted(tally.items()):
        print(f"  {count:4} × {label}")
