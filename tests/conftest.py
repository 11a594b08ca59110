"""Shared fixtures: a throwaway copy of the example project, and databases to run the queue on."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

REPO = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = os.environ.get("SHORTLINE_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


@pytest.fixture
def project_dir(tmp_path: Path) -> Path:
    """The example project (schedule, facts, templates, assets) copied into a fresh folder."""
    root = tmp_path / "project"
    root.mkdir()
    shutil.copy(REPO / "schedule.yaml", root)
    for folder in ("facts", "templates", "assets"):
        shutil.copytree(REPO / folder, root / folder)
    return root


def _postgres_available() -> str | None:
    try:
        engine = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with engine.connect():
            pass
        engine.dispose()
    except Exception as exc:  # the reason is shown in the skip message
        return f"PostgreSQL not reachable at {PG_ADMIN_URL}: {type(exc).__name__}"
    return None


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A new, empty PostgreSQL database for this test session, dropped afterwards."""
    reason = _postgres_available()
    if reason:
        pytest.skip(reason)
    name = f"shortline_test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Each queue test runs on SQLite and on PostgreSQL (tables emptied between tests)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'queue.db'}"
        return
    url = request.getfixturevalue("postgres_url")
    yield url
    engine = sa.create_engine(url)
    every = sa.MetaData()
    every.reflect(engine)
    every.drop_all(engine)  # the migrations' version table too: the next test migrates afresh
    engine.dispose()
