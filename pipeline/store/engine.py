"""Engines tuned for a queue: SQLite in WAL with full sync and write-locking transactions."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url

# busy_timeout first: every later statement may wait for another process's lock
SQLITE_PRAGMAS = ("busy_timeout=60000", "synchronous=FULL", "foreign_keys=ON")
WAL_WAIT = 60.0  # seconds, as busy_timeout


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
    _use_wal(dbapi_connection)


def _use_wal(dbapi_connection: Any) -> None:
    """Switch a new database to WAL (the file keeps it, so an existing one is left alone). The switch
    needs the file to itself and SQLite answers "locked" at once rather than wait for busy_timeout,
    so a process starting beside another that holds the file tries again until WAL_WAIT is over."""
    deadline = time.monotonic() + WAL_WAIT
    while dbapi_connection.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
        try:
            dbapi_connection.execute("PRAGMA journal_mode=WAL")
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def _sqlite_begin(connection: sa.Connection) -> None:
    # BEGIN IMMEDIATE: two workers never both read a row as claimable, and no upgrade deadlocks.
    connection.exec_driver_sql("BEGIN IMMEDIATE")
