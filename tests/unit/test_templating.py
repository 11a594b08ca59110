"""Filters, deterministic variation and number provenance."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
import regex
from babel import dates, numbers
from hypothesis import given, settings
from hypothesis import strategies as st
from jinja2.exceptions import SecurityError, UndefinedError

from pipeline import compose, facts, templating
from pipeline.errors import ComposeError
from pipeline.templating import locales, state

REPO = Path(__file__).resolve().parents[2]
FACTS = facts.load(REPO / "facts/shenyang.yaml")
ENV = templating.environment((REPO / "templates").resolve())


def render(source: str, lang: str = "en", identity: str = "post-1") -> str:
    return ENV.from_string(source).render(compose.context(FACTS, lang, identity))


@pytest.mark.parametrize(
    ("source", "en", "zh"),
    [
        ("{{ facts.impact_rank | ordinal }}", "16th", "第16"),
        ("{{ facts.northeast_rank | rank }}", "No.1", "第一"),
        ("{{ facts.trade_partners | approx }}", "more than 220", "超过220"),
        ("{{ facts.trade_partners | approx('plus') }}", "220+", "220+"),
        ("{{ 1234567 | number }}", "1,234,567", "1,234,567"),
        ("{{ 12345678 | compact }}", "12.3M", "1234.6万"),
        ("{{ 234500000 | compact }}", "234.5M", "2.3亿"),
        ("{{ facts.trade_partners.as_of | month }}", "December 2022", "2022年12月"),
        ("{{ source.date | date }}", "February 16, 2023", "2023年2月16日"),
        ("{{ facts.sister_cities.unit | t }}", "sister cities", "个国际友好城市"),
    ],
)
def test_filters_per_locale(source: str, en: str, zh: str) -> None:
    assert (render(source, "en"), render(source, "zh")) == (en, zh)


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (1, "1st"),
        (2, "2nd"),
        (3, "3rd"),
        (4, "4th"),
        (11, "11th"),
        (12, "12th"),
        (13, "13th"),
        (21, "21st"),
        (22, "22nd"),
        (111, "111th"),
    ],
)
def test_english_ordinals(n: int, text: str) -> None:
    assert render(f"{{{{ {n} | ordinal }}}}") == text


def test_a_number_filter_refuses_text() -> None:
    with pytest.raises(ValueError, match="is not a number"):
        render("{{ facts.brand_events | number }}")


def test_variation_is_deterministic_and_never_repeats() -> None:
    source = "{% for _ in range(3) %}{{ one_of('links', 'connects', 'joins') }} {% endfor %}"
    first = render(source, identity="job@2026-11-23")
    assert first == render(source, identity="job@2026-11-23")
    assert sorted(first.split()) == ["connects", "joins", "links"]
    outcomes = {render("{{ one_of('a', 'b', 'c', 'd') }}", identity=f"job@{day}") for day in range(40)}
    assert outcomes == {"a", "b", "c", "d"}  # the identity seeds the choice
    with pytest.raises(ValueError, match="already used in this post"):
        render("{{ one_of('a') }} {{ one_of('a') }}")


def _post(tmp_path: Path, body: str) -> tuple:
    (tmp_path / "posts").mkdir(exist_ok=True)
    (tmp_path / "posts/t.en.j2").write_text(f"::: headline\n{body}\n", encoding="utf-8")
    env = templating.environment(tmp_path.resolve())
    return compose.post_blocks(env, "posts/t", FACTS, "en")


def test_numbers_without_a_fact_fail(tmp_path: Path) -> None:
    assert _post(tmp_path, "{{ subject }} has {{ facts.sister_cities | number }} sister cities")
    with pytest.raises(ComposeError, match="the number 24 in 'Shenyang has 24 sister cities' comes from no fact"):
        _post(tmp_path, "{{ subject }} has 24 sister cities")
    assert _post(tmp_path, "open {{ literal(24) }} hours a day, {{ facts.sister_cities.value }} cities")


def test_dates_of_the_sources_are_known_numbers(tmp_path: Path) -> None:
    assert _post(tmp_path, "Source: {{ source.name | t }} {{ source.date }}")
    assert _post(tmp_path, "As of {{ facts.trade_partners.as_of | month }}")


def test_undefined_filter_argument_names_the_line(tmp_path: Path) -> None:
    with pytest.raises(ComposeError, match=r"posts/t.en.j2:2: .*approx style 'fancy'"):
        _post(tmp_path, "{{ facts.trade_partners | approx('fancy') }}")


@pytest.mark.parametrize(
    "source",
    [
        "{{ facts.sister_cities.__class__ }}",  # a Fact
        "{{ facts.sister_cities._hidden }}",
        "{{ source.__class__.__mro__ }}",  # a Source
        "{{ source.date.__class__ }}",  # a date
        "{{ facts.__class__ }}",  # the facts dict
        "{% for x in [1] %}{{ loop.__class__ }}{% endfor %}",
        "{% for x in [1] %}{{ loop._after }}{% endfor %}",
        "{{ facts.sister_cities.value.__class__.__subclasses__() }}",
    ],
)
def test_the_sandbox_keeps_templates_out_of_internals(source: str) -> None:
    """The quick paths for facts, sources, dates and `loop` still refuse anything but public data."""
    with pytest.raises((SecurityError, UndefinedError)):
        render(source)


def test_the_quick_paths_read_public_data() -> None:
    loop = "{% for x in facts.brand_events.items %}{{ loop.index }}{{ '' if loop.last else ',' }}{% endfor %}"
    assert render(loop) == ",".join(str(i + 1) for i in range(len(FACTS.facts["brand_events"].items)))
    assert render("{{ facts.sister_cities.value }} {{ source.date.year }}") == "23 2023"


def test_today_is_not_a_number_source() -> None:
    assert dt.date.today().isoformat() not in str(compose.provenance.fact_numbers(FACTS))


@settings(max_examples=300)
@given(st.integers(min_value=-(10**15), max_value=10**15), st.sampled_from(["en_US", "zh_Hans_CN", "de_DE", "fr_FR"]))
def test_whole_numbers_are_formatted_as_babel_formats_them(n: int, locale: str) -> None:
    assert locales.format_decimal(n, locale) == numbers.format_decimal(n, locale=locale)


@pytest.mark.parametrize("locale", sorted(locales.GROUP_SYMBOLS))
def test_the_known_group_symbols_are_babels(locale: str) -> None:
    assert locales.GROUP_SYMBOLS[locale] == locales._grouping(locale)


@settings(max_examples=300)
@given(st.dates(), st.sampled_from(sorted(locales.DATES)))
def test_known_date_forms_are_written_as_babel_writes_them(day: dt.date, form: tuple[str, str]) -> None:
    pattern, locale = form
    assert locales.format_date(day, pattern, locale) == dates.format_date(day, pattern, locale=locale)


def test_other_date_forms_are_left_to_babel() -> None:
    day = dt.date(2023, 2, 16)
    assert locales.format_date(day, "medium", "en_US") == dates.format_date(day, "medium", locale="en_US")
    assert locales.format_date(day, "long", "de_DE") == "16. Februar 2023"


def test_a_locale_grouping_otherwise_is_left_to_babel() -> None:
    assert locales.format_decimal(1234567, "hi_IN") == "12,34,567"
    assert locales.format_decimal(Decimal("1234.5"), "zh_Hans_CN") == "1,234.5"


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.from_regex(r"[0-9]{1,12}", fullmatch=True), st.text(max_size=12)))
def test_number_tokens_reads_a_bare_figure_as_the_pattern_does(text: str) -> None:
    """A text of ASCII digits only is its own number, without the regex; anything else takes it."""
    expected = {token.replace(",", "") for token in regex.findall(state.NUMBER_PATTERN, text)}
    assert state.number_tokens.__wrapped__(text) == expected
