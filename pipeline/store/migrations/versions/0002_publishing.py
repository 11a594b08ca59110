"""Publishing to real APIs: what each attempt did so far, API-issued tokens, paused channels."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("deliveries") as deliveries:
        deliveries.add_column(sa.Column("progress", sa.JSON, nullable=False, server_default=sa.text("'{}'")))
    op.create_table(
        "tokens",
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("value", sa.Text),
        sa.Column("expires_at", TIME),
        sa.Column("account", sa.Text),
        sa.Column("extra", sa.JSON, nullable=False),
    )
    op.create_table(
        "channel_pauses",
        sa.Column("channel", sa.String(100), primary_key=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("at", TIME, nullable=False),
    )
