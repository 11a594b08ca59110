"""`shortline channels check` against every emulator: credentials verified, limits and quota shown, nothing posted."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.contract.projects import CONTRACTS, project, run
from tests.emulators.base import Emulator


@pytest.fixture
def secrets_set(monkeypatch: pytest.MonkeyPatch) -> None:
    for contract in CONTRACTS:
        for name, value in contract.secrets.items():
            monkeypatch.setenv(name, value)


@pytest.mark.usefixtures("secrets_set")
def test_every_channel_verified_without_posting(tmp_path: Path, emulators: dict[str, Emulator]) -> None:
    status: list[int] = []
    output = run(project(tmp_path / "project", emulators), "channels", "check", status=status)
    lines = {line.split()[0]: line for line in output.splitlines() if line and not line.startswith((" ", "20"))}
    assert status == [0], output
    for contract in CONTRACTS:
        assert lines[contract.type].split()[1] == "ok", lines[contract.type]
    assert "quota: freepublish/submit: 0 of 100 used today" in output  # WeChat's daily publish quota
    assert all(contract.posts(emulators[contract.type]) == 0 for contract in CONTRACTS)


@pytest.mark.usefixtures("secrets_set")
def test_refused_credentials_fail_the_check(tmp_path: Path, emulators: dict[str, Emulator]) -> None:
    emulators["mastodon"].expire_tokens()  # Mastodon's tokens are revoked, not refreshed
    status: list[int] = []
    output = run(project(tmp_path / "project", emulators), "channels", "check", status=status)
    mastodon = next(line for line in output.splitlines() if line.startswith("mastodon "))
    assert status == [1] and "FAILED" in mastodon
