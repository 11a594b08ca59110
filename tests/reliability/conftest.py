"""Fixtures of the reliability tests: the bench (queue, emulators, worker processes) and the seed."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.clock import SystemClock
from tests.reliability.harness import CONTRACTS, Harness

DEFAULT_SEED = 20261129


@pytest.fixture
def harness(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
    """The queue on this test's database (SQLite, then PostgreSQL), and the three emulators running."""
    with contextlib.ExitStack() as stack:
        emulators = {name: stack.enter_context(c.emulator(SystemClock())) for name, c in CONTRACTS.items()}
        bench = Harness(database_url, tmp_path, emulators)
        for key, value in bench.secrets.items():  # for the workers in this process
            monkeypatch.setenv(key, value)
        stack.callback(bench.close)
        yield bench


@pytest.fixture
def seed() -> int:
    """The randomized tests' seed, printed (pytest shows it when a test fails) so that a failure can be replayed."""
    value = int(os.environ.get("SHORTLINE_RELIABILITY_SEED") or DEFAULT_SEED)
    print(f"seed {value} (replay: SHORTLINE_RELIABILITY_SEED={value})")
    return value
