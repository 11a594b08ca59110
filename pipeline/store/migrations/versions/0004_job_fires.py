"""Job fires: one row per (job, fire time) with when it started and finished and what came of it."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "job_fires",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("job_id", sa.String(200), nullable=False),
        sa.Column("fire_time", TIME, nullable=False),
        sa.Column("started_at", TIME, nullable=False),
        sa.Column("finished_at", TIME),
        sa.Column("outcome", sa.String(20)),
        sa.Column("post_id", sa.Integer, sa.ForeignKey("posts.id")),
        sa.Column("reason", sa.Text),
        sa.UniqueConstraint("job_id", "fire_time", name="uq_job_fires_job_fire"),
    )


def downgrade() -> None:
    op.drop_table("job_fires")
