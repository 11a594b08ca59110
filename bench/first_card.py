"""The first card of a fresh process, for bench/cards.py's "first card after process start" row,
and the bench's Shenyang facts.

bench/cards.py spawns `python -c "import first_card; first_card.main(OUT)"` with this folder on the
path: a module, unlike a script, is loaded from its compiled bytecode, so the child's start is the
interpreter's and the card's, not the compiling of the benchmark's own source.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

REPO = Path(__file__).resolve().parent.parent
SIZE = (1080, 1350)

if TYPE_CHECKING:
    from pipeline.model import FactSet


def shenyang(figure: int = 23) -> FactSet:
    """The sister-city fact of facts/shenyang.yaml, with `figure` as its value (no fact-loader imports)."""
    import datetime as dt

    from pipeline.model import Fact, FactSet, Source

    name = {"en": "Shenyang WeChat Official Account", "zh": "沈阳发布微信公众号"}
    source = Source(name=name, date=dt.date(2023, 2, 16))
    sister = Fact(
        key="sister_cities",
        value=figure,
        source=source,
        unit={"en": "sister cities", "zh": "个国际友好城市"},
        as_of=dt.date(2023, 2, 16),
        text={"en": "sister cities", "zh": "国际友好城市"},
    )
    subject = {"en": "Shenyang", "zh": "沈阳"}
    return FactSet(origin="bench", subject=subject, source=source, facts={"sister_cities": sister})


def context(lang: str = "zh", figure: int = 23) -> dict[str, Any]:
    facts = shenyang(figure)
    return {"lang": lang, "subject": facts.subject[lang], "facts": facts.facts, "source": facts.source}


def main(out: str) -> None:
    """One card from a fresh process; prints wall-clock stamps for the breakdown."""
    started = time.time()
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    from pipeline import templating
    from pipeline.render import load_card_template, render_card

    imported = time.time()
    template = load_card_template(REPO / "templates" / "cards" / "stat.yaml")
    env = templating.environment(REPO / "templates")
    card = render_card(template, context("zh"), SIZE, Path(out), env)
    written = time.time()
    print(json.dumps({"started": started, "imported": imported, "written": written, "path": str(card.path)}))
