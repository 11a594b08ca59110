"""The first schema: posts, one delivery per channel variant, and the audit trail."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "posts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("job_id", sa.String(200), nullable=False),
        sa.Column("fire_time", TIME, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.UniqueConstraint("job_id", "fire_time", name="uq_posts_job_fire"),
    )
    op.create_table(
        "deliveries",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("post_id", sa.Integer, sa.ForeignKey("posts.id"), nullable=False),
        sa.Column("channel", sa.String(100), nullable=False),
        sa.Column("lang", sa.String(8), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("due_at", TIME, nullable=False),
        sa.Column("lease_until", TIME),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("remote_id", sa.Text),
        sa.Column("url", sa.Text),
        sa.Column("error", sa.Text),
        sa.Column("updated_at", TIME, nullable=False),
        sa.UniqueConstraint("post_id", "channel", "lang", name="uq_deliveries_variant"),
    )
    op.create_index("ix_deliveries_due", "deliveries", ["status", "due_at"])
    op.create_table(
        "audit",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("post_id", sa.Integer, sa.ForeignKey("posts.id"), nullable=False),
        sa.Column("delivery_id", sa.Integer, sa.ForeignKey("deliveries.id")),
        sa.Column("at", TIME, nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("from_status", sa.String(20)),
        sa.Column("to_status", sa.String(20), nullable=False),
        sa.Column("reason", sa.Text),
    )
