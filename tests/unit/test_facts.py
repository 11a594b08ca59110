from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from pipeline import facts
from pipeline.errors import FactError

REPO = Path(__file__).resolve().parents[2]


def test_example_facts_carry_every_figure_of_the_article() -> None:
    fact_set = facts.load(REPO / "facts/shenyang.yaml")
    values = {key: fact.value for key, fact in fact_set.facts.items() if fact.kind != "list"}
    assert values == {
        "impact_rank": 16,
        "northeast_rank": 1,
        "sister_cities": 23,
        "friendly_cities": 78,
        "trade_partners": 220,
        "international_communities": 3,
        "international_schools": 6,
        "international_hospitals": 1,
        "designated_hospitals": 9,
    }
    assert fact_set.subject == {"en": "Shenyang", "zh": "沈阳"}
    assert fact_set.source.date == dt.date(2023, 2, 16)
    assert fact_set.facts["trade_partners"].qualifier == "more_than"
    report = fact_set.facts["impact_rank"].source
    assert report.publisher["en"] == "Zhejiang University" and "2022 China City" in report.name["en"]
    assert len(fact_set.facts["brand_events"].items) == 4


def test_every_fact_has_both_locales_and_a_source() -> None:
    for fact in facts.load(REPO / "facts/shenyang.yaml").facts.values():
        assert fact.source.name.keys() == {"en", "zh"}
        for texts in (fact.unit, fact.text, *fact.items):
            assert not texts or texts.keys() == {"en", "zh"}


def test_bad_field_names_file_line_and_field(tmp_path: Path) -> None:
    path = tmp_path / "city.yaml"
    path.write_text(
        "subject: {en: X, zh: 某}\nsource: {name: S, date: 2023-02-16}\nfacts:\n"
        "  sister_cities:\n    kind: count\n    value: twenty-three\n",
        encoding="utf-8",
    )
    with pytest.raises(FactError) as caught:
        facts.load(path)
    assert str(caught.value).startswith(f"{path}:4: facts.sister_cities: a count needs a numeric value")


def test_bad_date_is_located(tmp_path: Path) -> None:
    path = tmp_path / "city.json"
    path.write_text('{"subject": "X",\n "source": {"name": "S", "date": "16/02/2023"},\n "facts": {}}\n')
    with pytest.raises(FactError) as caught:
        facts.load(path)
    assert f"{path}:2: source.date: " in str(caught.value)


def test_unknown_file_type(tmp_path: Path) -> None:
    with pytest.raises(FactError, match=re.escape("unknown fact file type '.txt'")):
        facts.load(tmp_path / "facts.txt")
