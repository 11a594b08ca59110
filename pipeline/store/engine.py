"""Engines tuned for a queue: SQLite in WAL with full sync and write-locking transactions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url

# busy_timeout first: every later statement may wait for another process's lock
SQLITE_PRAGMAS = ("busy_timeout=60000", "synchronous=FULL", "foreign_keys=ON")


def create(url: str) -> sa.Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return sa.create_engine(url, pool_pre_ping=True)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url)
    sa.event.listen(engine, "connect", _sqlite_connect)
    sa.event.listen(engine, "begin", _sqlite_begin)
    return engine


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # Hand transaction control to SQLAlchemy so that "begin" below can take the write lock at once.
    dbapi_connection.isolation_level = None
    for pragma in SQLITE_PRAGMAS:
        dbapi_connection.execute(f"PRAGMA {pragma}")
    # WAL is kept in the file: switch only a new database (the switch needs the file to itself, which
    # processes starting together on one new file would otherwise contend for)
    if dbapi_connection.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
        dbapi_connection.execute("PRAGMA journal_mode=WAL")


def _sqlite_begin(connection: sa.Connection) -> None:
    # BEGIN IMMEDIATE: two workers never both read a row as claimable, and no upgrade deadlocks.
    connection.exec_driver_sql("BEGIN IMMEDIATE")
