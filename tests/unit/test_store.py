"""The queue's transitions, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import sqlite3

import pytest

from pipeline.errors import InvalidTransition, NotFound
from pipeline.model import Variant
from pipeline.records import DeliveryStatus, PostStatus, Receipt
from pipeline.store import Store, engine

NOW = dt.datetime(2026, 11, 30, 1, 0, tzinfo=dt.UTC)
LEASE = dt.timedelta(minutes=5)
VARIANTS = [Variant("outbox", "outbox", "en", "Hello"), Variant("outbox", "outbox", "zh", "你好")]


@pytest.fixture
def store(database_url: str) -> Store:
    store = Store(database_url)
    store.create_tables()
    return store


def _queue(store: Store, auto: bool = False, fire: dt.datetime = NOW) -> int:
    post_id = store.add_post("job", fire, "Hello", VARIANTS, auto_approve=auto, now=NOW)
    assert post_id is not None
    return post_id


def test_a_fire_is_queued_once(store: Store) -> None:
    _queue(store)
    assert store.add_post("job", NOW, "Hello", VARIANTS, auto_approve=False, now=NOW) is None
    assert len(store.posts()) == 1


def test_review_then_claim_then_publish(store: Store) -> None:
    post_id = _queue(store)
    assert store.claim_due(NOW, LEASE, ["outbox"]) == []  # in review: nothing is due
    store.approve(post_id, "editor", NOW)
    claimed = store.claim_due(NOW, LEASE, ["outbox"])
    assert [(d.variant.lang, d.status, d.attempt) for d in claimed] == [
        ("en", "publishing", 1),
        ("zh", "publishing", 1),
    ]
    assert store.claim_due(NOW, LEASE, ["outbox"]) == []  # claimed work is not handed out twice
    for delivery in claimed:
        store.finish(delivery, DeliveryStatus.PUBLISHED, NOW, receipt=Receipt(f"r{delivery.id}", "file:///x"))
    post = store.post(post_id)
    assert post.status == PostStatus.APPROVED
    assert {(d.status, d.remote_id) for d in post.deliveries} == {("published", f"r{d.id}") for d in claimed}


def test_auto_review_skips_to_scheduled(store: Store) -> None:
    _queue(store, auto=True)
    assert len(store.claim_due(NOW, LEASE, ["outbox"])) == 2


def test_deliveries_wait_until_due(store: Store) -> None:
    _queue(store, auto=True, fire=NOW + dt.timedelta(hours=1))
    assert store.claim_due(NOW, LEASE, ["outbox"]) == []
    assert len(store.claim_due(NOW + dt.timedelta(hours=1), LEASE, ["outbox"])) == 2


def test_reject_cancels_and_is_audited(store: Store) -> None:
    post_id = _queue(store)
    store.reject(post_id, "editor", "figure is outdated", NOW)
    post = store.post(post_id)
    assert post.status == "rejected" and {d.status for d in post.deliveries} == {"cancelled"}
    trail = store.audit_trail(post_id)
    assert (trail[1].actor, trail[1].from_status, trail[1].to_status, trail[1].reason) == (
        "editor",
        "in_review",
        "rejected",
        "figure is outdated",
    )
    with pytest.raises(InvalidTransition, match="is rejected; it cannot become approved"):
        store.approve(post_id, "editor", NOW)


def test_fencing_refuses_a_stale_attempt(store: Store) -> None:
    _queue(store, auto=True)
    first = store.claim_due(NOW, LEASE, ["outbox"])[0]
    store.finish(first, DeliveryStatus.SCHEDULED, NOW, error="temporary")  # released for a retry
    second = next(d for d in store.claim_due(NOW, LEASE, ["outbox"]) if d.id == first.id)
    assert second.attempt == first.attempt + 1
    with pytest.raises(InvalidTransition):
        store.finish(first, DeliveryStatus.PUBLISHED, NOW, receipt=Receipt("late"))
    store.finish(second, DeliveryStatus.PUBLISHED, NOW, receipt=Receipt("ok"))


def test_expired_leases_are_found(store: Store) -> None:
    _queue(store, auto=True)
    store.claim_due(NOW, LEASE, ["outbox"])
    assert store.expired_leases(NOW + LEASE, ["outbox"]) == []
    assert len(store.expired_leases(NOW + LEASE + dt.timedelta(seconds=1), ["outbox"])) == 2


def test_unknown_post(store: Store) -> None:
    with pytest.raises(NotFound):
        store.approve(999, "editor", NOW)
    with pytest.raises(NotFound):
        store.post(999)


def test_times_come_back_aware_utc(store: Store) -> None:
    local = NOW.astimezone(dt.timezone(dt.timedelta(hours=8)))
    post_id = store.add_post("job", local, "t", VARIANTS, auto_approve=False, now=NOW)
    assert post_id is not None
    assert store.post(post_id).fire_time == NOW and store.post(post_id).fire_time.tzinfo == dt.UTC


def test_only_the_named_channels_are_claimed(store: Store) -> None:
    _queue(store, auto=True)
    assert store.claim_due(NOW, LEASE, ["weibo"]) == []
    assert len(store.claim_due(NOW, LEASE, ["weibo", "outbox"])) == 2


def test_the_migrations_make_exactly_the_tables_the_code_declares(store: Store) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from pipeline.store.tables import metadata

    with store.engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), metadata)
    assert differences == []


def test_a_database_from_before_migrations_is_upgraded_with_its_posts(database_url: str) -> None:
    """The first release made its tables without Alembic: they are taken as revision 0001 and upgraded."""
    import importlib

    import sqlalchemy as sa
    from alembic.migration import MigrationContext
    from alembic.operations import Operations

    engine = sa.create_engine(database_url)
    with engine.begin() as conn:
        operations = Operations(MigrationContext.configure(conn))
        initial = importlib.import_module("pipeline.store.migrations.versions.0001_initial")
        with Operations.context(operations.migration_context):
            initial.upgrade()
        conn.execute(
            sa.text("INSERT INTO posts (job_id, fire_time, status, title, created_at, updated_at) VALUES "
                    "('job', :t, 'approved', 'old post', :t, :t)"),
            {"t": NOW.replace(tzinfo=None)},
        )  # fmt: skip
    engine.dispose()
    store = Store(database_url)
    store.create_tables()
    store.create_tables()  # and again: nothing left to do
    [post] = store.posts()
    assert post.title == "old post" and store.paused() == {} and store.token("wechat") is None


class _Contended:
    """A new SQLite file that another process holds while this one tries to switch it to WAL."""

    def __init__(self, refusals: int) -> None:
        self.refusals, self.mode = refusals, "delete"

    def execute(self, sql: str) -> _Contended:
        if sql == "PRAGMA journal_mode=WAL":
            if self.refusals:
                self.refusals -= 1
                raise sqlite3.OperationalError("database is locked")
            self.mode = "wal"
        return self

    def fetchone(self) -> tuple[str]:
        return (self.mode,)


def test_the_wal_switch_waits_for_a_process_holding_a_new_file() -> None:
    contended = _Contended(refusals=3)
    engine._use_wal(contended)
    assert contended.mode == "wal" and contended.refusals == 0


def test_the_wal_switch_gives_up_after_its_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine, "WAL_WAIT", 0.0)
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        engine._use_wal(_Contended(refusals=1_000_000))
