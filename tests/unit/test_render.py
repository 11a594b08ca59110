"""Cards: real templates, real fonts, real pixels."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import itertools
from pathlib import Path
from typing import Any

import jinja2
import pytest
from PIL import Image

from pipeline import templating
from pipeline.errors import ConfigError, RenderError, TextDoesNotFit
from pipeline.model import Fact, FactSet, Source
from pipeline.render import CardTemplate, layout_card, load_card_template, render_card
from pipeline.render.draw import gradient, paint_text
from pipeline.render.fonts import CHINESE, LATIN, split_runs
from pipeline.render.layout import TextBlock, break_lines, tokens
from pipeline.render.template import Gradient

ROOT = Path(__file__).resolve().parents[2]
SIZES = [(1080, 1350), (1080, 1080), (1200, 675), (900, 383)]
LANGS = ["en", "zh"]
SOURCE = Source(name={"en": "Shenyang WeChat Official Account", "zh": "沈阳发布微信公众号"}, date=dt.date(2023, 2, 16))
SISTER = Fact(
    key="sister_cities",
    value=23,
    source=SOURCE,
    unit={"en": "sister cities", "zh": "个国际友好城市"},
    text={"en": "sister cities", "zh": "国际友好城市"},
)
FACTS = FactSet(origin="test", subject={"en": "Shenyang", "zh": "沈阳"}, source=SOURCE, facts={"sister_cities": SISTER})

TEXTS = {
    "en": "Shenyang has achieved trade exchanges with more than 220 countries and regions worldwide",
    "zh": "截至去年12月，沈阳已与全球220多个国家和地区实现贸易往来，“对外交往中心”地位日益凸显。",
}
TEXT_CARD = """\
name: probe
alt: "{alt}"
layers:
  - type: background
    color: "#102040"
  - type: text
    name: body
    box: [0.1, 0.1, 0.8, 0.5]
    text: {text}
    color: "#FFFFFF"
    min_size: {min_size}
    max_size: 0.2
    max_lines: {max_lines}
    align: {align}
"""


def context(lang: str, subject: str | None = None) -> dict[str, Any]:
    return {"lang": lang, "subject": subject or FACTS.subject[lang], "facts": FACTS.facts, "source": FACTS.source}


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> jinja2.Environment:
    return templating.environment(tmp_path_factory.mktemp("templates"))


@pytest.fixture(scope="module")
def stat() -> CardTemplate:
    return load_card_template(ROOT / "templates" / "cards" / "stat.yaml")


def probe(tmp_path: Path, text: str, min_size: float = 0.03, max_lines: int = 3, align: str = "left") -> CardTemplate:
    path = tmp_path / "probe.yaml"
    card = TEXT_CARD.format(alt="probe", text=text, min_size=min_size, max_lines=max_lines, align=align)
    path.write_text(card, encoding="utf-8")
    return load_card_template(path)


def text_blocks(template: CardTemplate, lang: str, size: tuple[int, int], env: jinja2.Environment) -> list[TextBlock]:
    layout = layout_card(template, context(lang), size, env)
    return [item for item in layout.items if isinstance(item, TextBlock)]


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("size", SIZES)
def test_stat_card_renders_at_every_size_the_same_bytes_every_time(
    stat: CardTemplate, env: jinja2.Environment, tmp_path: Path, lang: str, size: tuple[int, int]
) -> None:
    first = render_card(stat, context(lang), size, tmp_path / "media", env)
    again = render_card(stat, context(lang), size, tmp_path / "again", env)

    data = first.path.read_bytes()
    assert first.path.name == f"{hashlib.sha256(data).hexdigest()}.png"
    assert again.path.name == first.path.name and again.path.read_bytes() == data
    with Image.open(first.path) as image:
        assert image.size == size == (first.width, first.height)
        assert image.format == "PNG" and not image.info.keys() - {"dpi", "gamma"}
    assert "23" in first.alt and FACTS.subject[lang] in first.alt


def test_languages_and_sizes_give_different_files(stat: CardTemplate, env: jinja2.Environment, tmp_path: Path) -> None:
    names = {render_card(stat, context(lang), size, tmp_path, env).path.name for lang in LANGS for size in SIZES}
    assert len(names) == len(LANGS) * len(SIZES)


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("size", SIZES)
def test_stat_text_stays_inside_its_boxes(
    stat: CardTemplate, env: jinja2.Environment, lang: str, size: tuple[int, int]
) -> None:
    blocks = text_blocks(stat, lang, size, env)
    assert [b.name for b in blocks] == ["subject", "figure", "label", "source"]
    for block in blocks:
        assert block.lines, block.name
        assert all(block.box.contains(line.bbox) for line in block.lines), block.name
        assert_ink_inside(block, size)


def assert_ink_inside(block: TextBlock, size: tuple[int, int]) -> None:
    """Draw the block alone and check every lit pixel lies in its box."""
    image = Image.new("RGB", size)
    paint_text(image, block)
    ink = image.convert("L").getbbox()
    assert ink is not None and block.box.contains(ink), (block.name, ink, block.box)


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("align", ["left", "center", "right"])
def test_long_text_breaks_into_lines_inside_the_box(
    env: jinja2.Environment, tmp_path: Path, size: tuple[int, int], align: str
) -> None:
    text = "{" + ", ".join(f'{lang}: "{words}"' for lang, words in TEXTS.items()) + "}"
    template = probe(tmp_path, text, min_size=0.02, max_lines=4, align=align)
    for lang in LANGS:
        [block] = text_blocks(template, lang, size, env)
        assert 2 <= len(block.lines) <= 4
        assert all(block.box.contains(line.bbox) for line in block.lines)
        assert_ink_inside(block, size)
        lines = ["".join(run.text for run in line.shaped.runs) for line in block.lines]
        assert (" " if lang == "en" else "").join(lines) == TEXTS[lang]
        assert all(not (a[-1].isdigit() and b[0].isdigit()) for a, b in itertools.pairwise(lines)), lines


def test_chinese_lines_keep_punctuation_and_numbers_in_place() -> None:
    text = "沈阳（辽宁省会）拥有23个国际友好城市，78个友好合作关系城市。“开放、包容、活力！”这就是沈阳！"
    for width in range(4, 20):
        lines = break_lines(tokens(text, "zh"), functools.partial(at_most, width), balance=False)
        assert "".join(lines) == text
        assert all(line[0] not in "，。！？、；：”’）》" and line[-1] not in "“‘（《" for line in lines), lines
        assert all(not (a[-1].isdigit() and b[0].isdigit()) for a, b in itertools.pairwise(lines)), lines


def at_most(width: int, line: str) -> bool:
    return len(line) <= width


def test_english_breaks_only_at_spaces() -> None:
    lines = break_lines(tokens("more than 220 countries and regions", "en"), lambda s: len(s) <= 14, balance=True)
    assert " ".join(lines) == "more than 220 countries and regions"
    assert all(len(line) <= 14 for line in lines) and len(lines) == 3


def test_fallback_puts_digits_in_inter_and_han_in_noto() -> None:
    chain = (LATIN[("display", "bold")], CHINESE["bold"])
    assert split_runs("23个城市，Shenyang", chain, "zh") == [
        ("23", chain[0]),
        ("个城市，", chain[1]),
        ("Shenyang", chain[0]),
    ]


def test_text_too_long_at_min_size_does_not_fit(env: jinja2.Environment, tmp_path: Path) -> None:
    template = probe(tmp_path, "\"{{ 'Shenyang welcomes friends from all over the world ' * 8 }}\"", 0.08, 2)
    with pytest.raises(TextDoesNotFit) as caught:
        layout_card(template, context("en"), (1080, 1080), env)
    assert caught.value.box == "body" and caught.value.layout == "probe"
    assert "max_lines is 2" in str(caught.value)


def test_a_word_wider_than_the_box_does_not_fit(env: jinja2.Environment, tmp_path: Path) -> None:
    template = probe(tmp_path, '"Internationalisation" ', min_size=0.19, max_lines=3)
    with pytest.raises(TextDoesNotFit, match="'Internationalisation' is"):
        layout_card(template, context("en"), (1080, 1080), env)


@pytest.mark.parametrize("char", ["\u0e01", "\U0001f996"])  # Thai; an emoji not in the emoji subset
def test_a_character_no_font_covers_is_named(
    stat: CardTemplate, env: jinja2.Environment, tmp_path: Path, char: str
) -> None:
    with pytest.raises(RenderError) as caught:
        render_card(stat, context("en", subject=f"Shenyang {char}"), (1080, 1080), tmp_path, env)
    assert f"U+{ord(char):04X}" in str(caught.value) and char in str(caught.value)
    assert "tried Inter-Bold.otf, NotoSansSC-Bold.otf, NotoColorEmoji-Subset.ttf" in str(caught.value)
    assert not list(tmp_path.iterdir())


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "broken.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def config_error(path: Path) -> str:
    with pytest.raises(ConfigError) as caught:
        load_card_template(path)
    return str(caught.value)


def test_a_typo_in_a_key_names_file_and_line(tmp_path: Path) -> None:
    card = TEXT_CARD.format(alt="a", text='"x"', min_size=0.05, max_lines=1, align="left")
    path = write(tmp_path, card.replace('    color: "#FFFFFF"', '    colour: "#FFFFFF"'))
    message = config_error(path)
    assert f"{path}:10: layers.1.colour: unknown key (did you mean 'color'?)" in message
    assert "layers.1.color: this key is required" in message


@pytest.mark.parametrize(
    ("old", "new", "line", "expected"),
    [
        ('color: "#102040"', 'color: "navy"', 5, "layers.0.color: expected a colour like"),
        ("type: text", "type: txt", 6, "layers.1.type: expected one of background, shape, image, text"),
        ("align: left", "align: middle", 14, "layers.1.align: Input should be 'left', 'center' or 'right'"),
        ("max_size: 0.2", "max_size: 0.01", 6, "layers.1: min_size must not be larger than max_size"),
        ("box: [0.1, 0.1, 0.8, 0.5]", "box: [0.5, 0.1, 0.8, 0.5]", 8, "layers.1.box: expected [x, y, w, h]"),
        ('alt: "a"', "alts: a", 2, "alts: unknown key"),
    ],
)
def test_bad_values_name_their_line(tmp_path: Path, old: str, new: str, line: int, expected: str) -> None:
    card = TEXT_CARD.format(alt="a", text='"x"', min_size=0.05, max_lines=1, align="left")
    assert old in card
    message = config_error(write(tmp_path, card.replace(old, new, 1)))
    assert f"broken.yaml:{line}: {expected}" in message


def test_a_missing_language_is_a_config_error(env: jinja2.Environment, tmp_path: Path) -> None:
    template = probe(tmp_path, '{en: "only English"}')
    assert text_blocks(template, "en", (1080, 1080), env)[0].lines
    with pytest.raises(ConfigError, match=r"probe.yaml:9: layers.1.text: no 'zh' entry"):
        layout_card(template, context("zh"), (1080, 1080), env)


def test_gradient_runs_from_first_stop_to_last() -> None:
    image = gradient((200, 100), Gradient(angle=180, stops=["#000000", "#FF0000", "#FFFFFF"]))
    top, middle, bottom = (image.getpixel((100, y)) for y in (0, 50, 99))
    assert isinstance(top, tuple) and isinstance(middle, tuple) and isinstance(bottom, tuple)
    assert top[0] < 8 and bottom == pytest.approx((255, 255, 255), abs=8)
    assert middle == pytest.approx((255, 0, 0), abs=12)
