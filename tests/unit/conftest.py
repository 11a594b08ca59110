"""Fixtures the card tests share: the example templates' environment and the Shenyang facts."""

from __future__ import annotations

from pathlib import Path

import jinja2
import pytest

from pipeline import facts, templating
from pipeline.model import FactSet

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def example_env() -> jinja2.Environment:
    return templating.environment(ROOT / "templates")


@pytest.fixture(scope="session")
def shenyang() -> FactSet:
    return facts.load(ROOT / "facts" / "shenyang.yaml")
