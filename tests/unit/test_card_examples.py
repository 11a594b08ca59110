"""Every card template in templates/cards/, with the real Shenyang facts, at every target size."""

from __future__ import annotations

import hashlib
import itertools
import re
from pathlib import Path
from typing import Any

import jinja2
import pytest
from PIL import Image

from pipeline import compose
from pipeline.model import FactSet
from pipeline.render import CardTemplate, layout_card, load_card_template, render_card
from pipeline.render.layout import TextBlock, frame_rect
from pipeline.render.template import TextLayer

ROOT = Path(__file__).resolve().parents[2]
CARDS = sorted((ROOT / "templates" / "cards").glob("*.yaml"))
SIZES = [(1080, 1350), (1080, 1080), (1200, 675), (900, 383)]
LANGS = ["en", "zh"]
OUTSIDE_THE_SQUARE = {"source"}  # the one text a 1:1 crop of a wide card may lose


def counted(key: str) -> str:
    """A count with its unit, as the alt text says it: "3 international communities", "3个国际化社区"."""
    return f"{{{{ facts.{key} | number }}}}{{{{ ' ' if lang == 'en' else '' }}}}{{{{ facts.{key}.unit | t }}}}"


# What each card's alt text must state, as Jinja over the facts: its figures and its source.
ALT_MUST_SAY = {
    "stat": [counted("sister_cities"), "{{ facts.sister_cities.source.name | t }}"],
    "ranking": [
        "{{ facts.northeast_rank | rank }}",
        "{{ facts.impact_rank | ordinal }}",
        "{{ facts.impact_rank.source.name | t }}",
        "{{ facts.impact_rank.source.publisher | t }}",
    ],
    "list": [
        counted("international_communities"),
        counted("international_schools"),
        counted("international_hospitals"),
        counted("designated_hospitals"),
        "{{ facts.international_communities.as_of | month }}",
        "{{ facts.international_communities.source.name | t }}",
    ],
    "slogan": ["{{ subject }}", "{{ source.name | t }}"],
    "cover": ["{{ facts.northeast_rank | rank }}", "{{ facts.northeast_rank.source.name | t }}"],
}

every_card = pytest.mark.parametrize("path", CARDS, ids=[path.stem for path in CARDS])
every_size = pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
every_lang = pytest.mark.parametrize("lang", LANGS)


@pytest.fixture(scope="module")
def env(example_env: jinja2.Environment) -> jinja2.Environment:
    return example_env


def test_the_examples_are_all_there() -> None:
    assert {path.stem for path in CARDS} >= {"stat", "ranking", "list", "slogan", "cover"}


@every_card
@every_size
@every_lang
def test_card_renders_to_the_same_png_every_time(
    env: jinja2.Environment, shenyang: FactSet, tmp_path: Path, path: Path, size: tuple[int, int], lang: str
) -> None:
    template = load_card_template(path)
    first = render_card(template, compose.context(shenyang, lang), size, tmp_path / "first", env)
    again = render_card(template, compose.context(shenyang, lang), size, tmp_path / "again", env)

    data = first.path.read_bytes()
    assert first.path.name == f"{hashlib.sha256(data).hexdigest()}.png"
    assert again.path.read_bytes() == data
    with Image.open(first.path) as image:
        assert image.format == "PNG" and image.size == size == (first.width, first.height)
    assert_alt_states_the_facts(template, first.alt, compose.context(shenyang, lang), env)


def assert_alt_states_the_facts(
    template: CardTemplate, alt: str, context: dict[str, Any], env: jinja2.Environment
) -> None:
    assert template.name in ALT_MUST_SAY, f"add what the {template.name!r} card's alt text must say to ALT_MUST_SAY"
    assert alt.strip() and "\n" not in alt
    for expression in ALT_MUST_SAY[template.name]:
        expected = env.from_string(expression).render(context)
        assert expected and expected in alt, (expected, alt)


@every_card
@every_size
@every_lang
def test_text_fits_its_boxes_and_key_content_survives_a_square_crop(
    env: jinja2.Environment, shenyang: FactSet, path: Path, size: tuple[int, int], lang: str
) -> None:
    context = compose.context(shenyang, lang)
    layout = layout_card(load_card_template(path), context, size, env)
    blocks = [item for item in layout.items if isinstance(item, TextBlock)]
    square = frame_rect("square", size)
    for block in blocks:
        assert block.lines, f"{block.name} is empty"
        assert all(block.box.contains(line.bbox) for line in block.lines), block.name
        if block.name not in OUTSIDE_THE_SQUARE:
            assert square.contains(ink(block)), f"{block.name} is outside the central square"
    for a, b in itertools.combinations(blocks, 2):
        assert not overlap(ink(a), ink(b)), f"{a.name} and {b.name} overlap"
    state = context["_post"]
    shown = [" ".join("".join(run.text for run in line.shaped.runs) for line in b.lines) for b in blocks]
    assert not [n for text in [*shown, layout.alt] for n in state.unsupported(text)], "a number no fact gives"


def ink(block: TextBlock) -> tuple[int, int, int, int]:
    boxes = [line.bbox for line in block.lines]
    return min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes)


def overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


@every_card
def test_no_figure_is_typed_into_a_template(path: Path) -> None:
    """Digits come only out of facts, through filters: none in the literal text around {{ ... }}."""
    template = load_card_template(path)
    fields = [template.alt] + [layer.text for layer in template.layers if isinstance(layer, TextLayer)]
    for field in fields:
        for text in [field] if isinstance(field, str) else field.values():
            literal = re.sub(r"{{.*?}}|{%.*?%}", "", text, flags=re.DOTALL)
            assert not re.search(r"\d", literal), (path.name, text)
