"""Golden files: expected outputs kept in the repository and reviewed in the diff.

Regenerate every golden file with one command:

    make golden        # = SHORTLINE_UPDATE_GOLDEN=1 pytest tests/golden
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

UPDATE = os.environ.get("SHORTLINE_UPDATE_GOLDEN") == "1"


class Golden:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def check(self, name: str, actual: str) -> None:
        path = self.folder / name
        if UPDATE:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(actual, encoding="utf-8")
            return
        assert path.exists(), f"no golden file {path}; run `make golden` and review the diff"
        assert actual == path.read_text(encoding="utf-8"), f"{path} differs; if intended, run `make golden`"


@pytest.fixture
def golden() -> Golden:
    return Golden(Path(__file__).parent)
