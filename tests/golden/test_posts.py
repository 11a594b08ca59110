"""The Shenyang facts through the example templates: one golden file per channel variant."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from pipeline import compose, config, facts, templating
from pipeline.model import Variant

from .conftest import Golden

REPO = Path(__file__).resolve().parents[2]
FIRE = dt.datetime(2026, 11, 23, 1, 0, tzinfo=dt.UTC)


def _variants() -> list[Variant]:
    project = config.Project(REPO)
    cfg = config.load(project)
    job = cfg.jobs["shenyang-profile"]
    env = templating.environment((REPO / "templates").resolve())
    fact_set = facts.load_all(job.facts, project)
    return compose.compose(env, job, fact_set, cfg.channels, f"shenyang-profile@{FIRE.isoformat()}")


VARIANTS = _variants()


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: f"{v.channel}.{v.lang}")
def test_channel_variant(variant: Variant, golden: Golden) -> None:
    document = variant.to_json()
    text = document.pop("text")
    html = document.pop("html", None)
    body = f"{text}\n\n---\n{json.dumps(document, ensure_ascii=False, indent=2, sort_keys=True)}\n"
    golden.check(f"posts/{variant.channel}.{variant.lang}.txt", body)
    if html is not None:
        golden.check(f"posts/{variant.channel}.{variant.lang}.html", html.replace("</p>", "</p>\n") + "\n")
