"""Two workers and a frozen one, on SQLite and on PostgreSQL.

A worker process freezes itself (SIGSTOP) at a step of its delivery and stays frozen past its lease;
a second worker process takes the delivery over; then the frozen one is woken (SIGCONT) and carries
on as if nothing had happened. The fencing attempt number refuses its late writes, and the store's
state guards stop it before it sends anything it should not: there is never a second post.
"""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass

import pytest

from pipeline.records import Delivery
from tests.reliability.harness import Harness, Report, lease_expired, stopped, wait_for
from tests.reliability.worker_process import Spec

LEASE = 0.5
LATENCY, DELAY = 0.15, 0.05  # `http`: the API holds its answer 150 ms; the worker freezes 50 ms into the request


@dataclass(frozen=True)
class Takeover:
    delivery_id: int
    frozen: Spec  # the worker that froze, then woke
    taken: Delivery  # the delivery as the other worker left it, before the frozen one woke


def freeze_then_take_over(harness: Harness, channel: str, step: str) -> Takeover:
    """Queue one delivery; a worker freezes at `step`; once its lease has run out another worker settles
    the delivery; then the frozen one is woken and finishes its pass."""
    [delivery_id] = harness.queue(f"frozen-{channel}-{step}", [channel], langs=["zh"])
    delay = DELAY if step == "http" else 0.0
    frozen_spec = harness.spec(step=step, signum=signal.SIGSTOP, delay=delay, lease=LEASE)
    harness.set_latency(LATENCY if step == "http" else 0.0)
    frozen = harness.start(frozen_spec)
    pid = frozen.pid
    assert pid is not None
    wait_for("the first worker to freeze", lambda: stopped(pid) or not frozen.is_alive())
    assert frozen.is_alive(), harness.log(frozen_spec)
    wait_for("its lease to run out", lease_expired(harness.store, delivery_id))
    taker_spec = harness.spec(until_idle=True, lease=LEASE)
    taker = harness.start(taker_spec)
    taker.join(20)
    assert taker.exitcode == 0, harness.log(taker_spec)
    [taken] = harness.deliveries([delivery_id])
    os.kill(pid, signal.SIGCONT)
    frozen.join(20)
    assert frozen.exitcode == 0, harness.log(frozen_spec)
    return Takeover(delivery_id, frozen_spec, taken)


def refused(report: Report) -> list[tuple[str, int, str | None]]:
    return [(e["call"], e["attempt"], e.get("status")) for e in report.of("refused")]


@pytest.mark.parametrize("channel", ["webhook", "mastodon"])
@pytest.mark.parametrize(
    "step",
    [
        "publishing",  # its key (webhook-id, Idempotency-Key) is committed; frozen before the request leaves
        "http",  # frozen while its request is in flight
        "accepted",  # the post is made; frozen before its receipt is committed
    ],
)
def test_a_frozen_worker_is_taken_over_and_its_late_writes_are_refused(
    harness: Harness, channel: str, step: str
) -> None:
    takeover = freeze_then_take_over(harness, channel, step)
    delivery_id, frozen_spec, taken = takeover.delivery_id, takeover.frozen, takeover.taken
    assert (taken.status, taken.attempt) == ("published", 2)  # the second worker claimed it afresh, as attempt 2
    [final] = harness.deliveries([delivery_id])
    assert final == taken  # nothing the woken worker did changed the delivery
    report = harness.report(frozen_spec)
    assert refused(report) == [("finish", 1, "published")]  # its receipt, fenced off by attempt 1
    assert report.of("finished") == [] and report.of("resumed")
    sent = harness.sent(final)
    assert (sent.posts, sent.requests) == ([final.remote_id], 2)  # two requests with one key: one post
    assert [(source, target) for source, target, _ in harness.trail(final)] == [
        ("scheduled", "publishing"),  # attempt 1, the frozen worker
        ("publishing", "scheduled"),  # the sweep: lease expired, safe to retry
        ("scheduled", "publishing"),  # attempt 2, the other worker
        ("publishing", "published"),
    ]
    harness.check_settled([delivery_id])


def test_a_frozen_weibo_worker_woken_after_the_sweep_sends_nothing(harness: Harness) -> None:
    """Frozen right after its claim, before anything was sent: the sweep sees no `sent_at`, so the other
    worker sends it; woken, the frozen worker's pre-send commit is refused, so its request never leaves."""
    takeover = freeze_then_take_over(harness, "weibo", "claim")
    assert takeover.taken.status == "published"
    [final] = harness.deliveries([takeover.delivery_id])
    assert final == takeover.taken
    assert refused(harness.report(takeover.frozen)) == [("save_progress", 1, None)]
    sent = harness.sent(final)
    assert (len(sent.posts), sent.requests) == (1, 1)  # the other worker's one request: one post
    harness.check_settled([final.id])


def test_a_frozen_weibo_worker_woken_after_the_sweep_records_its_real_receipt(harness: Harness) -> None:
    """Frozen after Weibo accepted the share: the sweep parks it as `unknown`; woken, the worker's receipt
    (same attempt: nobody claimed it again) resolves the unknown to published, with the real status id."""
    takeover = freeze_then_take_over(harness, "weibo", "accepted")
    assert takeover.taken.status == "unknown"
    [final] = harness.deliveries([takeover.delivery_id])
    sent = harness.sent(final)
    assert (final.status, final.attempt, sent.posts, sent.requests) == ("published", 1, [final.remote_id], 1)
    assert refused(harness.report(takeover.frozen)) == []
    assert [(source, target) for source, target, _ in harness.trail(final)] == [
        ("scheduled", "publishing"),
        ("publishing", "unknown"),  # the sweep
        ("unknown", "published"),  # the woken worker's receipt
    ]
