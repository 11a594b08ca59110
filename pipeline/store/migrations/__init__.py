"""Schema migrations (Alembic): every start brings the database to the latest schema, once.

A database made before migrations existed (it has the tables but no alembic_version) is taken to
be at the first revision, then upgraded like any other. Concurrent starts are serialized: SQLite
by its write lock, PostgreSQL by an advisory lock held for the migration's transaction.

    alembic -c pipeline/store/migrations/alembic.ini revision -m "what changes"   # a new revision
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

FOLDER = Path(__file__).resolve().parent
FIRST = "0001"
LOCK = 0x5348_4F52  # "SHOR": the advisory lock key migrations take on PostgreSQL


def upgrade(engine: sa.Engine) -> None:
    """Bring the database's schema to the latest revision (a fresh database gets every table)."""
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK})
        config = _config(connection)
        tables = set(sa.inspect(connection).get_table_names())
        if "posts" in tables and "alembic_version" not in tables:
            command.stamp(config, FIRST)  # made before migrations: it has the first revision's tables
        command.upgrade(config, "head")


def _config(connection: sa.Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(FOLDER))
    config.attributes["connection"] = connection
    return config
