"""What every worker shares about a channel: the room a claim has under its limits, and its circuit breaker.

A claim takes a channel's due deliveries only as far as the channel's limits allow (none while it is
paused or its breaker open, deliveries in flight under its concurrency cap, published ones under its
quotas, one at a time while its breaker is half-open), counted inside the claim's own transaction. On
PostgreSQL the claim first takes each of its channels' advisory lock, so two workers count one after
the other; on SQLite, BEGIN IMMEDIATE already lets one writer in at a time.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from ..records import DeliveryStatus
from .tables import breakers, deliveries, pauses

D = DeliveryStatus
CLAIM_LOCKS = 0x5348_4F43  # "SHOC": the advisory lock class of channel claims (the key is the channel's hash)
LOCK = sa.text("SELECT pg_advisory_xact_lock(:locks, hashtext(:channel))")
SQLITE_NOW = sa.text("SELECT strftime('%Y-%m-%d %H:%M:%f', 'now')")


@dataclass(frozen=True)
class Quota:
    """At most `limit` deliveries published since `since` (in flight ones count too)."""

    since: dt.datetime
    limit: int


class ClaimRule(Protocol):
    """What a claim enforces for one channel (publish/policies.py makes them from schedule.yaml)."""

    @property
    def concurrency(self) -> int | None: ...

    def quotas(self, now: dt.datetime) -> Sequence[Quota]: ...


@dataclass(frozen=True)
class BreakerState:
    """Temporary failures in a row; while `open_until` is ahead nothing is sent, once it has passed one
    delivery at a time goes through (half-open)."""

    failures: int = 0
    open_until: dt.datetime | None = None

    def is_open(self, now: dt.datetime) -> bool:
        return self.open_until is not None and now < self.open_until

    def half_open(self, now: dt.datetime) -> bool:
        return self.open_until is not None and now >= self.open_until


CLOSED = BreakerState()


def lock(conn: sa.Connection, channels: Sequence[str]) -> None:
    """Take these channels' claim locks until the transaction ends (PostgreSQL; SQLite has one writer)."""
    if conn.dialect.name == "postgresql":
        for channel in sorted(channels):  # always in the same order, so that two claims never deadlock
            conn.execute(LOCK, {"locks": CLAIM_LOCKS, "channel": channel})


def room(
    conn: sa.Connection,
    channels: Sequence[str],
    rules: Mapping[str, ClaimRule],
    states: Mapping[str, BreakerState],
    now: dt.datetime,
    limit: int,
) -> dict[str, int]:
    """How many due deliveries of each channel this claim may take, at most `limit` (under `lock`)."""
    paused = set(conn.scalars(sa.select(pauses.c.channel).where(pauses.c.channel.in_(list(channels)))))
    counted = [c for c in channels if _capped(rules.get(c), now) or states.get(c, CLOSED).half_open(now)]
    flying = in_flight(conn, counted) if counted else {}
    return {
        c: 0 if c in paused else _room(conn, c, rules.get(c), states.get(c, CLOSED), flying.get(c, 0), now, limit)
        for c in channels
    }


def _room(
    conn: sa.Connection,
    channel: str,
    rule: ClaimRule | None,
    state: BreakerState,
    flying: int,
    now: dt.datetime,
    limit: int,
) -> int:
    if state.is_open(now):
        return 0
    caps = [limit, 1 - flying] if state.half_open(now) else [limit]
    if rule is not None and rule.concurrency is not None:
        caps.append(rule.concurrency - flying)
    for quota in rule.quotas(now) if rule is not None else ():
        caps.append(quota.limit - flying - published_since(conn, channel, quota.since)[0])
    return max(0, min(caps))


def _capped(rule: ClaimRule | None, now: dt.datetime) -> bool:
    return rule is not None and (rule.concurrency is not None or bool(rule.quotas(now)))


def in_flight(conn: sa.Connection, channels: Collection[str]) -> dict[str, int]:
    """Deliveries being published (claimed, not finished) per channel, whichever worker holds them."""
    query = (
        sa.select(deliveries.c.channel, sa.func.count())
        .where(deliveries.c.channel.in_(list(channels)), deliveries.c.status == D.PUBLISHING)
        .group_by(deliveries.c.channel)
    )
    return {channel: int(count) for channel, count in conn.execute(query)}


def published_since(conn: sa.Connection, channel: str, since: dt.datetime) -> tuple[int, dt.datetime | None]:
    """How many of the channel's deliveries were published since then, and when the first of them was."""
    query = sa.select(sa.func.count(), sa.func.min(deliveries.c.updated_at)).where(
        deliveries.c.channel == channel, deliveries.c.status == D.PUBLISHED, deliveries.c.updated_at >= since
    )
    count, first = conn.execute(query).one()
    return int(count), first


def breaker_states(conn: sa.Connection, channels: Collection[str]) -> dict[str, BreakerState]:
    rows = conn.execute(sa.select(breakers).where(breakers.c.channel.in_(list(channels))))
    return {row.channel: BreakerState(row.failures, row.open_until) for row in rows}


def change_breaker(conn: sa.Connection, channel: str, change: Callable[[BreakerState], BreakerState]) -> BreakerState:
    """Under the breaker's row lock, replace its state with `change(state)`."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    conn.execute(dialect.insert(breakers).values(channel=channel, failures=0).on_conflict_do_nothing())
    row = conn.execute(sa.select(breakers).where(breakers.c.channel == channel).with_for_update()).one()
    state = change(BreakerState(row.failures, row.open_until))
    values = dict(failures=state.failures, open_until=state.open_until)
    conn.execute(breakers.update().where(breakers.c.channel == channel).values(values))
    return state


def close_breaker(conn: sa.Connection, channel: str) -> None:
    """No failures and closed; nothing is written when it was so already."""
    tripped = (breakers.c.failures > 0) | breakers.c.open_until.is_not(None)
    conn.execute(breakers.update().where(breakers.c.channel == channel, tripped).values(failures=0, open_until=None))


def database_now(conn: sa.Connection) -> dt.datetime:
    """The database server's clock, aware UTC."""
    if conn.dialect.name == "postgresql":
        moment: dt.datetime = conn.execute(sa.text("SELECT clock_timestamp()")).scalar_one()
        return moment.astimezone(dt.UTC)
    return dt.datetime.fromisoformat(conn.execute(SQLITE_NOW).scalar_one()).replace(tzinfo=dt.UTC)
