"""Channel policies: circuit breakers shared by every worker, claims that do not count as attempts, and an
index for the claim's in-flight and quota counts."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("deliveries") as deliveries:
        deliveries.add_column(sa.Column("given_back", sa.Integer, nullable=False, server_default=sa.text("0")))
    op.create_index("ix_deliveries_channel", "deliveries", ["channel", "status", "updated_at"])
    op.create_table(
        "channel_breakers",
        sa.Column("channel", sa.String(100), primary_key=True),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("open_until", TIME),
    )


def downgrade() -> None:
    op.drop_table("channel_breakers")
    op.drop_index("ix_deliveries_channel", "deliveries")
    with op.batch_alter_table("deliveries") as deliveries:
        deliveries.drop_column("given_back")
