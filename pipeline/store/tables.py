"""The queue's tables, in SQLAlchemy Core, for SQLite and PostgreSQL alike.

The schema itself is made by the migrations (migrations/versions/): a change here needs a revision
there, and tests/unit/test_store.py checks that the two agree.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.engine import Dialect


class UTCDateTime(sa.TypeDecorator[dt.datetime]):
    """Aware UTC in and out, whatever the database keeps (SQLite has no time zones)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value.isoformat()} cannot be stored")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


metadata = sa.MetaData()

posts = sa.Table(
    "posts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("job_id", sa.String(200), nullable=False),
    sa.Column("fire_time", UTCDateTime, nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("job_id", "fire_time", name="uq_posts_job_fire"),
)

deliveries = sa.Table(
    "deliveries",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("post_id", sa.Integer, sa.ForeignKey("posts.id"), nullable=False),
    sa.Column("channel", sa.String(100), nullable=False),
    sa.Column("lang", sa.String(8), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("attempt", sa.Integer, nullable=False, default=0),  # the fencing number: every claim bumps it
    # claims that did not count toward max_attempts: handed back unsent, swept, or held by the channel
    sa.Column("given_back", sa.Integer, nullable=False, server_default=sa.text("0")),
    sa.Column("due_at", UTCDateTime, nullable=False),
    sa.Column("lease_until", UTCDateTime),
    sa.Column("payload", sa.JSON, nullable=False),
    sa.Column("remote_id", sa.Text),
    sa.Column("url", sa.Text),
    sa.Column("error", sa.Text),
    sa.Column("progress", sa.JSON, nullable=False, server_default=sa.text("'{}'")),  # keys planned, ids returned
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("post_id", "channel", "lang", name="uq_deliveries_variant"),
    sa.Index("ix_deliveries_due", "status", "due_at"),
    sa.Index("ix_deliveries_channel", "channel", "status", "updated_at"),  # in flight and quota counts
)

audit = sa.Table(
    "audit",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("post_id", sa.Integer, sa.ForeignKey("posts.id"), nullable=False),
    sa.Column("delivery_id", sa.Integer, sa.ForeignKey("deliveries.id")),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("actor", sa.String(100), nullable=False),
    sa.Column("from_status", sa.String(20)),
    sa.Column("to_status", sa.String(20), nullable=False),
    sa.Column("reason", sa.Text),
)

# Short-lived credentials that APIs hand out (never the configured secrets, which stay in the
# environment), so that every worker process reuses one WeChat access_token or Bluesky session.
tokens = sa.Table(
    "tokens",
    metadata,
    sa.Column("key", sa.String(200), primary_key=True),
    sa.Column("value", sa.Text),
    sa.Column("expires_at", UTCDateTime),
    sa.Column("account", sa.Text),
    sa.Column("extra", sa.JSON, nullable=False, default=dict),
)

# A channel whose credentials were refused waits here until someone resumes it.
pauses = sa.Table(
    "channel_pauses",
    metadata,
    sa.Column("channel", sa.String(100), primary_key=True),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("at", UTCDateTime, nullable=False),
)

# One row per job fire (job, fire time), written by the scheduler that made it: when it started and
# finished, and what came of it (a queued post, a post queued already, or a failure and its reason).
job_fires = sa.Table(
    "job_fires",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("job_id", sa.String(200), nullable=False),
    sa.Column("fire_time", UTCDateTime, nullable=False),
    sa.Column("started_at", UTCDateTime, nullable=False),
    sa.Column("finished_at", UTCDateTime),
    sa.Column("outcome", sa.String(20)),
    sa.Column("post_id", sa.Integer, sa.ForeignKey("posts.id")),
    sa.Column("reason", sa.Text),
    sa.UniqueConstraint("job_id", "fire_time", name="uq_job_fires_job_fire"),
)

# An editor's change to one delivery's text: what it said before and after (review.py).
edits = sa.Table(
    "edits",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("post_id", sa.Integer, sa.ForeignKey("posts.id"), nullable=False),
    sa.Column("delivery_id", sa.Integer, sa.ForeignKey("deliveries.id"), nullable=False),
    sa.Column("channel", sa.String(100), nullable=False),
    sa.Column("lang", sa.String(8), nullable=False),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("actor", sa.String(100), nullable=False),
    sa.Column("before", sa.Text, nullable=False),
    sa.Column("after", sa.Text, nullable=False),
    sa.Index("ix_edits_post", "post_id"),
)

# The facts a post was composed from, as they were then: edits are checked against them and cards
# re-rendered from them even after the fact file has changed (store/snapshot.py writes the JSON).
post_facts = sa.Table(
    "post_facts",
    metadata,
    sa.Column("post_id", sa.Integer, sa.ForeignKey("posts.id"), primary_key=True),
    sa.Column("facts", sa.JSON, nullable=False),
)

# Every content-addressed file (var/media/<sha256>.<ext>) that a queued post refers to.
media = sa.Table(
    "media",
    metadata,
    sa.Column("sha256", sa.String(64), primary_key=True),
    sa.Column("path", sa.Text, nullable=False),
    sa.Column("width", sa.Integer, nullable=False),
    sa.Column("height", sa.Integer, nullable=False),
    sa.Column("format", sa.String(10), nullable=False),
    sa.Column("bytes", sa.Integer, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

# A channel's circuit breaker, shared by every worker: temporary failures in a row, and while it is
# open, until when (publish/breaker.py). No row: closed, no failures.
breakers = sa.Table(
    "channel_breakers",
    metadata,
    sa.Column("channel", sa.String(100), primary_key=True),
    sa.Column("failures", sa.Integer, nullable=False),
    sa.Column("open_until", UTCDateTime),
)
