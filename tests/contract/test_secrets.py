"""No secret ever leaves: every channel's credentials are known values, everything runs at debug
logging against the emulators (successes, refreshes, refusals and failures), and every output is
searched for them: what the commands print and log, the preview's pages and the API, every row of
every table, and every file Shortline wrote."""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path

from starlette.testclient import TestClient

from pipeline.clock import SystemClock
from pipeline.config import Project
from pipeline.flow import Runtime
from pipeline.web.app import create_app
from tests.contract.projects import CONTRACTS, project, run
from tests.emulators.base import Emulator, Fault

SECRET_WORDS = ("TOKEN", "SECRET", "PASSWORD")  # identifiers (an app id, a handle) are not secrets


def secrets() -> dict[str, str]:
    """Every secret credential of every channel: the sentinels searched for."""
    found = {
        name: value for c in CONTRACTS for name, value in c.secrets.items() if any(w in name for w in SECRET_WORDS)
    }
    assert len(found) >= len(CONTRACTS)
    return found


def faults(emulators: dict[str, Emulator]) -> None:
    """Refusals, refreshes and failures, so that error paths print and store their messages too."""
    emulators["mastodon"].inject("create_status", Fault.token_expired())  # refused: paused
    emulators["x"].inject("create_tweet", Fault.token_expired())  # refreshed, then published
    emulators["bluesky"].inject("create_record", Fault.token_expired())  # session refreshed
    emulators["wechat"].inject("freepublish_submit", Fault.token_expired())  # force-refreshed token
    emulators["telegram"].inject("send_photo", Fault.server_error(502))  # unknown
    emulators["facebook"].inject("photos", Fault.token_expired())  # refused: paused
    emulators["linkedin"].inject("create_post", Fault.server_error(500))  # read back


def test_no_secret_appears_in_any_output(tmp_path: Path, emulators: dict[str, Emulator]) -> None:
    wanted = secrets()
    os.environ.update({name: value for c in CONTRACTS for name, value in c.secrets.items()})
    try:
        root = project(tmp_path / "project", emulators)
        faults(emulators)
        outputs = {
            "check": run(root, "check"),
            "channels check": run(root, "channels", "check"),
            "generate": run(root, "generate", "shenyang-profile"),
            "approve": run(root, "queue", "approve", "1"),
            "publish": run(root, "publish", "--due"),
            "publish again": run(root, "publish", "--due"),
            "queue list": run(root, "queue", "list", "--json"),
        }
        outputs |= pages(root)
        outputs["database"] = dump(root / "var" / "shortline.db")
        outputs |= {
            str(path): path.read_bytes().decode("latin-1") for path in (root / "var").rglob("*") if path.is_file()
        }
    finally:
        for c in CONTRACTS:
            for name in c.secrets:
                os.environ.pop(name, None)
    assert "published" in outputs["queue list"] and "paused" in outputs["channels check"] + outputs["publish"]
    leaks = [(where, name) for where, text in outputs.items() for name, value in wanted.items() if value in text]
    assert leaks == []


def pages(root: Path) -> dict[str, str]:
    client = TestClient(create_app(Runtime.load(Project(root), SystemClock())))
    return {f"page {path}": client.get(path).text for path in ("/", "/posts/1")}


def dump(database: Path) -> str:
    """Every row of every table, as text."""
    with contextlib.closing(sqlite3.connect(database)) as conn:
        tables = [row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return "\n".join(repr(row) for table in tables for row in conn.execute(f'SELECT * FROM "{table}"'))
