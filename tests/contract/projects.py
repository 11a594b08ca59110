"""The example project with every channel pointed at its emulator, and the CLI run on it as a new process."""

from __future__ import annotations

import importlib
import os
import pkgutil
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from tests.contract import apis
from tests.contract.contracts import Contract
from tests.emulators.base import Emulator

REPO = Path(__file__).resolve().parents[2]
# Every module in tests/contract/apis/ contributes its API's CONTRACT.
CONTRACTS: list[Contract] = [
    importlib.import_module(f"{apis.__name__}.{module.name}").CONTRACT for module in pkgutil.iter_modules(apis.__path__)
]


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


def run(root: Path, *args: str, status: list[int] | None = None) -> str:
    """The command's output and log (at debug level); its exit status is appended to `status`."""
    env = {k: v for k, v in os.environ.items() if k != "SHORTLINE_DATABASE_URL"}
    command = [sys.executable, "-m", "pipeline", "--project", str(root), "-v", *args]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, env=env)
    if status is not None:
        status.append(result.returncode)
    return result.stdout + result.stderr
