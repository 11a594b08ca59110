"""A worker's writes on its hot path, the progress of an attempt and its outcome, fenced by the attempt.

Each is one statement built once (parameters only), so that recording a delivery costs the database
round trips it needs and little else: the outcome's UPDATE first assumes the delivery is still
`publishing` (it nearly always is) and only when it is not reads what it became under a row lock.
On PostgreSQL that common case is a single statement with its audit row (a data-modifying WITH).

On PostgreSQL these statements run each on its own (autocommit: no BEGIN, no COMMIT) through an
engine of their own that does not ping the server at every checkout, which cost a fifth of the
throughput (bench/deliveries.py); a connection found dead instead is replaced and the statement run
once more, which is safe: saving the same progress twice changes nothing, and an outcome already
recorded is not recorded again (the fenced UPDATE no longer matches).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection
from typing import Any, TypeVar

import sqlalchemy as sa

from ..errors import InvalidTransition
from ..records import Delivery, DeliveryStatus, Receipt
from .tables import UTCDateTime, audit, deliveries

D = DeliveryStatus
T = TypeVar("T")
FENCED = (deliveries.c.id == sa.bindparam("delivery_id")) & (deliveries.c.attempt == sa.bindparam("claimed"))
OUTCOME = (
    deliveries.update()
    .where(FENCED, deliveries.c.status == sa.bindparam("source"))
    .values(
        status=sa.bindparam("target"),
        lease_until=None,
        updated_at=sa.bindparam("now", type_=UTCDateTime),
        error=sa.bindparam("reason", type_=sa.Text),
        remote_id=sa.func.coalesce(sa.bindparam("remote", type_=sa.Text), deliveries.c.remote_id),
        url=sa.func.coalesce(sa.bindparam("link", type_=sa.Text), deliveries.c.url),
        due_at=sa.func.coalesce(sa.bindparam("retry_at", type_=UTCDateTime), deliveries.c.due_at),
        given_back=deliveries.c.given_back + sa.bindparam("refund", type_=sa.Integer),
    )
)
PROGRESS = (
    deliveries.update()
    .where(FENCED, deliveries.c.status == D.PUBLISHING)
    .values(progress=sa.bindparam("values", type_=sa.JSON), updated_at=sa.bindparam("now", type_=UTCDateTime))
)
STATUS = sa.select(deliveries.c.status).where(FENCED)
_MOVED = OUTCOME.returning(deliveries.c.id, deliveries.c.post_id).cte("moved")
AUDITED = audit.insert().from_select(  # PostgreSQL: the outcome and its audit row at once
    ["post_id", "delivery_id", "at", "actor", "from_status", "to_status", "reason"],
    sa.select(_MOVED.c.post_id, _MOVED.c.id, sa.bindparam("now", type_=UTCDateTime), sa.literal("worker"),
              sa.bindparam("source"), sa.bindparam("target"), sa.bindparam("reason", type_=sa.Text)),
).returning(audit.c.id)  # fmt: skip


def autocommit_engine(engine: sa.Engine) -> sa.Engine | None:
    """PostgreSQL: the engine these statements run on, each its own transaction. None elsewhere (SQLite
    runs them in its BEGIN IMMEDIATE transactions)."""
    if engine.dialect.name != "postgresql":
        return None
    return sa.create_engine(engine.url, isolation_level="AUTOCOMMIT")


def run(engine: sa.Engine, work: Callable[[sa.Connection], T]) -> T:
    """`work` on a connection of the engine; once more on a fresh one if the first was found dead."""
    try:
        with engine.connect() as conn:
            return work(conn)
    except sa.exc.DBAPIError as exc:
        if not exc.connection_invalidated:
            raise
    with engine.connect() as conn:
        return work(conn)


def outcome(
    delivery: Delivery,
    status: DeliveryStatus,
    now: dt.datetime,
    error: str | None = None,
    retry_at: dt.datetime | None = None,
    receipt: Receipt | None = None,
    refund: bool = False,
) -> dict[str, Any]:
    """The parameters of an outcome: `refund` gives the claim back (it does not count as an attempt)."""
    remote, link = (receipt.remote_id, receipt.url) if receipt is not None else (None, None)
    return dict(delivery_id=delivery.id, claimed=delivery.attempt, target=status, now=now, reason=error,
                remote=remote, link=link, retry_at=retry_at, refund=int(refund))  # fmt: skip


def record_at_once(conn: sa.Connection, params: dict[str, Any]) -> bool:
    """PostgreSQL: the outcome and its audit row in one statement, if the delivery is still publishing."""
    return conn.execute(AUDITED, params | {"source": D.PUBLISHING}).first() is not None


def record(conn: sa.Connection, params: dict[str, Any], allowed: Collection[str]) -> str:
    """Write an outcome if the delivery may take it from where it is; the state it left."""
    if D.PUBLISHING in allowed and conn.execute(OUTCOME, params | {"source": D.PUBLISHING}).rowcount == 1:
        return D.PUBLISHING
    # not publishing any more: a late receipt may find its delivery `unknown` (swept), or another claim took it
    source = conn.scalar(STATUS.with_for_update(), params)
    if source not in allowed or conn.execute(OUTCOME, params | {"source": source}).rowcount == 0:
        current = source or "gone (or claimed again by another worker)"
        raise InvalidTransition(f"delivery {params['delivery_id']}", current, params["target"])
    return str(source)


def save_progress(conn: sa.Connection, delivery: Delivery, progress: dict[str, str], now: dt.datetime) -> None:
    params = dict(delivery_id=delivery.id, claimed=delivery.attempt, values=progress, now=now)
    if conn.execute(PROGRESS, params).rowcount == 0:
        current = conn.scalar(STATUS, params) or "gone (or claimed again by another worker)"
        raise InvalidTransition(f"delivery {delivery.id}", current, D.PUBLISHING)
