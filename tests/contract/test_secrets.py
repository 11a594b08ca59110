"""No secret ever leaves: every channel's credentials are known values, everything runs at debug
logging against the emulators (successes, refreshes, refusals and failures), and every output is
searched for them: what the commands print and log, the preview's pages and the API, every row of
every table, and every file Shortline wrote."""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from starlette.testclient import TestClient

from pipeline.clock import SystemClock
from pipeline.config import Project
from pipeline.flow import Runtime
from pipeline.web.app import create_app
from tests.contract.test_contract import CONTRACTS
from tests.emulators.base import Emulator, Fault

REPO = Path(__file__).resolve().parents[2]
SECRET_WORDS = ("TOKEN", "SECRET", "PASSWORD")  # identifiers (an app id, a handle) are not secrets


def secrets() -> dict[str, str]:
    """Every secret credential of every channel: the sentinels searched for."""
    found = {
        name: value for c in CONTRACTS for name, value in c.secrets.items() if any(w in name for w in SECRET_WORDS)
    }
    assert len(found) >= len(CONTRACTS)
    return found


@pytest.fixture
def emulators() -> Iterator[dict[str, Emulator]]:
    with contextlib.ExitStack() as stack:
        yield {c.type: stack.enter_context(c.emulator(SystemClock())) for c in CONTRACTS}


def project(root: Path, emulators: dict[str, Emulator]) -> Path:
    """The example project with every channel pointed at its emulator."""
    for folder in ("facts", "templates", "assets"):
        shutil.copytree(REPO / folder, root / folder)
    config = yaml.safe_load((REPO / "schedule.yaml").read_text(encoding="utf-8"))
    channels = {c.type: c.channel(emulators[c.type]).model_dump(mode="json", exclude_none=True) for c in CONTRACTS}
    config["channels"] = {"outbox": config["channels"]["outbox"], **channels}
    config["jobs"]["shenyang-profile"]["channels"] = list(config["channels"])
    (root / "schedule.yaml").write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return root


def run(root: Path, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if k != "SHORTLINE_DATABASE_URL"}
    command = [sys.executable, "-m", "pipeline", "--project", str(root), "-v", *args]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, env=env)
    return result.stdout + result.stderr


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
