"""Channel policies: posting windows, quotas, concurrency caps and circuit breakers; attempts that are given back;
leases on the database's clock. Pure rules first, then a real worker on a real queue (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import random
import zoneinfo
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline import config
from pipeline.clock import SystemClock
from pipeline.config import ChannelConfig, PostingWindow, Project
from pipeline.errors import ConfigError, TemporaryError
from pipeline.model import Variant
from pipeline.publish.base import Progress, Publisher, Services
from pipeline.publish.breaker import after_failure
from pipeline.publish.policies import ChannelPolicy, local_midnight, next_opening
from pipeline.publish.worker import RetryPolicy, Worker
from pipeline.records import Delivery, DeliveryStatus, Receipt
from pipeline.store import BreakerState, Store
from pipeline.testing import FakeClock

UTC, SHANGHAI, NEW_YORK = dt.UTC, zoneinfo.ZoneInfo("Asia/Shanghai"), zoneinfo.ZoneInfo("America/New_York")
NOW = dt.datetime(2026, 11, 30, 15, 0, tzinfo=UTC)  # 23:00 in Shanghai
LEASE = dt.timedelta(minutes=5)


def at(text: str, tz: zoneinfo.ZoneInfo = SHANGHAI) -> dt.datetime:
    """A local wall-clock time as an aware UTC instant (the first showing, where a time repeats)."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=tz).astimezone(UTC)


def windows(*texts: str) -> tuple[PostingWindow, ...]:
    return ChannelConfig(type="outbox", window=texts).window


# -- schedule.yaml -------------------------------------------------------------------------------


def _with_policies(root: Path, policies: str) -> Path:
    path = root / "schedule.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("    type: outbox ", f"{policies}\n    type: outbox ", 1), encoding="utf-8")
    return path


def test_policies_are_read_in_the_project_timezone_unless_a_channel_names_its_own(project_dir: Path) -> None:
    policies = """    window: ["08:00-12:00", "22:00-02:00"]
    quota: {per_day: 100, per_hour: 20}
    concurrency: 3
    breaker: {failures: 4, cooldown: 90s}"""
    _with_policies(project_dir, policies)
    loaded = config.load(Project(project_dir))
    outbox, weibo = loaded.channels["outbox"], loaded.channels["weibo"]
    assert [str(w) for w in outbox.window] == ["08:00-12:00", "22:00-02:00"]
    assert (outbox.quota.per_day, outbox.quota.per_hour, outbox.concurrency) == (100, 20, 3)
    assert (outbox.breaker.failures, outbox.breaker.cooldown) == (4, dt.timedelta(seconds=90))
    assert outbox.timezone == weibo.timezone == "Asia/Shanghai"
    assert ChannelConfig.model_validate(outbox.model_dump(mode="json")) == outbox  # a worker process reads it back
    own = ChannelConfig.model_validate({"type": "x", "timezone": "Europe/Berlin"})
    assert ChannelPolicy.of(own).tz.key == "Europe/Berlin"


@pytest.mark.parametrize(
    ("policy", "key", "expected"),
    [
        ('    window: ["8am-10pm"]', "channels.outbox.window.0", "is not a posting window such as '08:00-22:00'"),
        ('    window: "09:00-09:00"', "channels.outbox.window.0", "is not a posting window"),
        ("    quota: {per_day: 0}", "channels.outbox.quota.per_day", "greater than 0"),
        ("    quota: {per_week: 5}", "channels.outbox.quota.per_week", "unknown key"),
        ("    concurrency: 0", "channels.outbox.concurrency", "greater than 0"),
        ("    breaker: {cooldown: soon}", "channels.outbox.breaker.cooldown", "is not a duration"),
        ("    timezone: Mars/Olympus", "channels.outbox.timezone", "is not an IANA timezone"),
    ],
)
def test_bad_policies_name_the_file_the_line_and_the_key(
    project_dir: Path, policy: str, key: str, expected: str
) -> None:
    path = _with_policies(project_dir, policy)
    line = 1 + path.read_text(encoding="utf-8").splitlines().index(policy)
    with pytest.raises(ConfigError) as caught:
        config.load(Project(project_dir))
    [problem] = [str(p) for p in caught.value.problems]
    assert problem.startswith(f"{path}:{line}: {key}: ") and expected in problem


def test_the_social_apis_take_one_delivery_at_a_time_unless_told_otherwise() -> None:
    assert ChannelPolicy.of(ChannelConfig(type="weibo")).concurrency == 1
    assert ChannelPolicy.of(ChannelConfig(type="mastodon", concurrency=4)).concurrency == 4
    assert ChannelPolicy.of(ChannelConfig(type="webhook")).concurrency is None  # our own endpoint: no cap


# -- posting windows and quotas ------------------------------------------------------------------


def test_a_window_past_midnight_is_open_across_the_day_boundary() -> None:
    late = windows("22:00-02:00")
    assert next_opening(late, SHANGHAI, at("2026-11-30T23:30")) is None
    assert next_opening(late, SHANGHAI, at("2026-12-01T01:59")) is None  # the window that began yesterday
    assert next_opening(late, SHANGHAI, at("2026-12-01T02:00")) == at("2026-12-01T22:00")
    assert next_opening(late, SHANGHAI, at("2026-12-31T21:00")) == at("2026-12-31T22:00")


def test_the_next_opening_is_the_nearest_of_several_windows_and_none_means_always() -> None:
    day = windows("08:00-12:00", "14:00-18:00")
    assert next_opening(day, SHANGHAI, at("2026-11-30T12:30")) == at("2026-11-30T14:00")
    assert next_opening(day, SHANGHAI, at("2026-11-30T19:00")) == at("2026-12-01T08:00")
    assert next_opening(windows("00:00-24:00"), SHANGHAI, at("2026-11-30T03:00")) is None
    assert next_opening((), SHANGHAI, NOW) is None


def test_windows_across_daylight_saving_changes_follow_the_wall_clock() -> None:
    morning = windows("08:00-10:00")
    # New York springs forward on 8 March 2026 (02:00 → 03:00) and falls back on 1 November (02:00 → 01:00)
    assert next_opening(morning, NEW_YORK, at("2026-03-07T12:00", NEW_YORK)) == at("2026-03-08T08:00", NEW_YORK)
    assert next_opening(morning, NEW_YORK, at("2026-10-31T12:00", NEW_YORK)) == at("2026-11-01T08:00", NEW_YORK)
    assert at("2026-03-08T08:00", NEW_YORK).hour == 12 and at("2026-11-01T08:00", NEW_YORK).hour == 13  # EDT, EST
    skipped = windows("02:30-05:00")  # 02:30 does not happen on 8 March: read with the offset before the change
    half_past_three = dt.datetime(2026, 3, 8, 7, 30, tzinfo=UTC)  # EDT, an hour after the skipped 02:30 EST
    assert next_opening(skipped, NEW_YORK, at("2026-03-08T01:00", NEW_YORK)) == half_past_three
    assert next_opening(skipped, NEW_YORK, dt.datetime(2026, 3, 8, 7, 15, tzinfo=UTC)) == half_past_three
    doubled = windows("01:30-03:00")  # 01:30 happens twice on 1 November: the window opens at the first
    opening = next_opening(doubled, NEW_YORK, at("2026-11-01T00:00", NEW_YORK))
    assert opening == dt.datetime(2026, 11, 1, 5, 30, tzinfo=UTC)  # 01:30 EDT
    assert next_opening(doubled, NEW_YORK, dt.datetime(2026, 11, 1, 7, 30, tzinfo=UTC)) is None  # 02:30 EST


def test_the_daily_quota_counts_from_local_midnight_and_the_hourly_one_is_rolling() -> None:
    policy = ChannelPolicy(SHANGHAI, per_hour=2, per_day=3)
    now = at("2026-12-01T00:30")
    hour, day = policy.quotas(now)
    assert (hour.since, hour.limit) == (now - dt.timedelta(hours=1), 2)
    assert (day.since, day.limit) == (at("2026-12-01T00:00"), 3)
    first = at("2026-12-01T00:05")
    hourly = policy.spent(now, lambda since: (2, first) if since < first else (0, None))
    assert hourly is not None and hourly.until == first + dt.timedelta(hours=1) and "per_hour 2" in hourly.reason
    daily = ChannelPolicy(SHANGHAI, per_day=3).spent(now, lambda since: (3, first))
    assert daily is not None and daily.until == at("2026-12-02T00:00") and "per_day 3" in daily.reason
    assert policy.spent(now, lambda since: (1, first)) is None
    assert local_midnight(dt.datetime(2026, 3, 8, 12, tzinfo=UTC), NEW_YORK) == dt.datetime(2026, 3, 8, 5, tzinfo=UTC)


def test_the_breaker_opens_at_its_threshold_and_again_at_once_when_half_open() -> None:
    settings = ChannelConfig(type="x", breaker={"failures": 3, "cooldown": "1m"}).breaker
    state = BreakerState()
    for _ in range(2):
        state = after_failure(state, settings, NOW)
    assert state == BreakerState(2, None) and not state.is_open(NOW)
    state = after_failure(state, settings, NOW)
    assert state.is_open(NOW) and state.open_until == NOW + dt.timedelta(minutes=1)
    later = NOW + dt.timedelta(minutes=2)
    assert state.half_open(later) and after_failure(state, settings, later).is_open(later)


# -- a worker on a real queue --------------------------------------------------------------------


class Scripted(Publisher):
    """Answers as scripted: an exception to raise or a receipt to return, counting the calls."""

    type = "scripted"
    idempotent = True

    def __init__(self, answers: list[Exception | Receipt], **channel: object) -> None:
        settings = ChannelConfig.model_validate({"type": "webhook", "concurrency": 1} | channel)
        super().__init__("scripted", settings, Services(Path(".")))
        self.answers, self.calls = answers, 0

    def publish(self, delivery: Delivery, progress: Progress) -> Receipt:
        self.calls += 1
        answer = self.answers.pop(0) if self.answers else Receipt(f"r{self.calls}")
        if isinstance(answer, Exception):
            raise answer
        return answer


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    store = Store(database_url)
    store.create_tables()
    yield store
    store.engine.dispose()


def queue(store: Store, clock: FakeClock, count: int = 1) -> list[int]:
    """`count` deliveries to the scripted channel, due now, each in a post of its own."""
    ids = []
    for index in range(count):
        variant = Variant("scripted", "x", "en", f"post {index}")
        post_id = store.add_post(f"job-{index}", clock.now(), "t", [variant], auto_approve=True, now=clock.now())
        assert post_id is not None
        ids += [d.id for d in store.post(post_id).deliveries]
    return ids


def deliveries(store: Store, ids: list[int]) -> list[Delivery]:
    found = {d.id: d for post in store.posts() for d in post.deliveries}
    return [found[i] for i in ids]


def reasons(store: Store, delivery: Delivery) -> list[tuple[str | None, str, str | None]]:
    trail = store.audit_trail(delivery.post_id)
    return [(e.from_status, e.to_status, e.reason) for e in trail if e.delivery_id == delivery.id]


def worker(store: Store, publisher: Publisher, clock: FakeClock, attempts: int = 8) -> Worker:
    policy = RetryPolicy(max_attempts=attempts, base=1.0, cap=1.0, lease=LEASE)
    return Worker(store, {publisher.name: publisher}, clock, policy, random.Random(7))


def test_a_delivery_due_outside_the_window_waits_for_the_opening_without_using_an_attempt(store: Store) -> None:
    clock, publisher = FakeClock(NOW), Scripted([], window=["08:00-22:00"], timezone="Asia/Shanghai")
    [delivery_id] = queue(store, clock)
    assert worker(store, publisher, clock).run_pass() == {} and publisher.calls == 0
    [waiting] = deliveries(store, [delivery_id])
    opening = at("2026-12-01T08:00")
    assert (waiting.status, waiting.attempt, waiting.due_at) == ("scheduled", 0, opening)
    reason = f"waiting: outside the posting windows 08:00-22:00 (Asia/Shanghai); due {opening.isoformat()}"
    assert reasons(store, waiting)[-1] == ("scheduled", "scheduled", reason)
    clock.advance((opening - NOW).total_seconds() - 1)
    assert worker(store, publisher, clock).run_pass() == {}
    clock.advance(1)
    assert worker(store, publisher, clock).run_pass() == {"published": 1}


def test_a_spent_daily_quota_holds_the_rest_until_local_midnight(store: Store) -> None:
    clock = FakeClock(at("2026-11-30T09:00"))
    publisher = Scripted([], quota={"per_day": 2}, timezone="Asia/Shanghai")
    ids = queue(store, clock, 3)
    assert worker(store, publisher, clock).run_pass() == {"published": 2}
    third = next(d for d in deliveries(store, ids) if d.status == "scheduled")
    assert worker(store, publisher, clock).run_pass() == {} and publisher.calls == 2
    [held] = deliveries(store, [third.id])
    assert (held.attempt, held.due_at) == (0, at("2026-12-01T00:00"))
    assert "quota used up: 2 published, per_day 2" in (reasons(store, held)[-1][2] or "")
    clock.advance((at("2026-12-01T00:00") - clock.now()).total_seconds())
    assert worker(store, publisher, clock).run_pass() == {"published": 1}


def test_the_breaker_opens_holds_deliveries_without_attempts_lets_one_through_then_closes(store: Store) -> None:
    failing = [TemporaryError("scripted", "503") for _ in range(3)]
    clock, publisher = FakeClock(NOW), Scripted(failing, breaker={"failures": 2, "cooldown": "1m"})
    first, second, third = queue(store, clock, 3)
    assert worker(store, publisher, clock).run_pass() == {"scheduled": 2} and publisher.calls == 2
    opened = NOW + dt.timedelta(minutes=1)
    assert store.breakers(["scripted"])["scripted"] == BreakerState(2, opened)
    clock.advance(10)  # open: nothing is sent by any worker; what is due waits for the cool-down, no attempt used
    other = Store(str(store.engine.url.render_as_string(hide_password=False)))
    assert worker(other, publisher, clock).run_pass() == {} and publisher.calls == 2
    other.engine.dispose()
    held = deliveries(store, [first, second, third])
    assert [(d.attempt, d.due_at) for d in held] == [(1, opened), (1, opened), (0, opened)]
    assert "circuit breaker open after 2 failures in a row" in (reasons(store, held[2])[-1][2] or "")
    clock.advance(50)  # half-open: one goes through; it fails, so the breaker opens again at once
    assert worker(store, publisher, clock).run_pass() == {"scheduled": 1} and publisher.calls == 3
    clock.advance(60)  # half-open again: this one succeeds, the breaker closes, the rest follow in the same pass
    assert worker(store, publisher, clock).run_pass() == {"published": 3} and publisher.calls == 6
    assert store.breakers(["scripted"])["scripted"] == BreakerState()


def test_two_workers_together_never_exceed_the_concurrency_cap_or_the_half_open_probe(database_url: str) -> None:
    first, second = Store(database_url), Store(database_url)  # as two worker processes would
    first.create_tables()
    clock = FakeClock(NOW)
    queue(first, clock, 5)
    for each in (first, second):
        each.rules["scripted"] = ChannelPolicy(concurrency=2)
    held = first.claim_due(NOW, LEASE, ["scripted"])
    assert (len(held), second.claim_due(NOW, LEASE, ["scripted"])) == (2, [])
    first.finish(held[0], DeliveryStatus.PUBLISHED, NOW, receipt=Receipt("1"))
    [theirs] = second.claim_due(NOW, LEASE, ["scripted"])  # room for one again
    first.finish(held[1], DeliveryStatus.PUBLISHED, NOW, receipt=Receipt("2"))
    second.finish(theirs, DeliveryStatus.PUBLISHED, NOW, receipt=Receipt("3"))
    for each in (first, second):
        each.rules.clear()  # no cap any more: only the half-open breaker limits them
    first.change_breaker("scripted", lambda state: BreakerState(5, NOW - dt.timedelta(seconds=1)))
    assert len(first.claim_due(NOW, LEASE, ["scripted"])) == 1  # the one delivery let through
    assert second.claim_due(NOW, LEASE, ["scripted"]) == []
    for each in (first, second):
        each.engine.dispose()


def test_handed_back_and_swept_claims_keep_the_attempt_budget(store: Store) -> None:
    clock = FakeClock(NOW)
    [delivery_id] = queue(store, clock)
    [claimed] = store.claim_due(NOW, LEASE, ["scripted"])
    store.give_back(claimed, DeliveryStatus.SCHEDULED, NOW, "handed back unsent: the worker was stopping")
    store.claim_due(NOW, LEASE, ["scripted"])  # claimed again; then its worker dies
    clock.advance(LEASE.total_seconds() + 1)
    failing = [TemporaryError("scripted", "503"), TemporaryError("scripted", "503 again")]
    publisher = Scripted(failing)
    assert worker(store, publisher, clock, attempts=2).run_pass() == {"scheduled": 1}  # the sweep retries it
    assert store.attempts_charged(deliveries(store, [delivery_id])[0]) == 0
    for expected in ("scheduled", "failed"):  # then two real attempts: the budget of two
        clock.advance(60)
        assert list(worker(store, publisher, clock, attempts=2).run_pass()) == [expected]
    [failed] = deliveries(store, [delivery_id])
    assert (failed.attempt, failed.error) == (4, "gave up after 2 attempts: scripted: 503 again")
    store.retry(delivery_id, "editor", clock.now())  # an editor tries again: with the whole budget
    assert store.attempts_charged(deliveries(store, [delivery_id])[0]) == 0


def test_leases_run_on_the_database_clock_so_a_skewed_machine_does_not_take_over_early(database_url: str) -> None:
    here, ahead = Store(database_url), Store(database_url)  # two machines; the second's clock is 10 min fast
    here.create_tables()
    clock = FakeClock(SystemClock().now())
    queue(here, clock)
    here.claim_due(clock.now(), LEASE, ["scripted"])
    skew = dt.timedelta(minutes=10)
    assert ahead.expired_leases(clock.now() + skew, ["scripted"]) == []  # by its own clock the lease ran out
    assert len(ahead.expired_leases(clock.now() + skew + LEASE + dt.timedelta(seconds=1), ["scripted"])) == 1
    for each in (here, ahead):
        each.engine.dispose()


def test_a_worker_statement_outlives_a_server_restart_of_its_connection(database_url: str) -> None:
    """PostgreSQL runs a worker's progress and outcome on connections it does not ping first: one found dead
    is replaced, and the statement run again (SQLite has no connections to lose)."""
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL's connections only")
    store = Store(database_url)
    store.create_tables()
    clock = FakeClock(NOW)
    queue(store, clock)
    [claimed] = store.claim_due(NOW, LEASE, ["scripted"])
    store.save_progress(claimed, {"key": "planned"}, NOW)  # the connection is in the pool now
    with store.engine.connect() as conn:  # as a server restart would: every other connection is cut
        conn.exec_driver_sql(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    store.save_progress(claimed, {"key": "planned", "id": "42"}, NOW)
    store.finish(claimed, DeliveryStatus.PUBLISHED, NOW, receipt=Receipt("42"))
    [delivery] = deliveries(store, [claimed.id])
    assert (delivery.status, delivery.remote_id) == ("published", "42")
    assert delivery.progress == {"key": "planned", "id": "42"}
    store.engine.dispose()
