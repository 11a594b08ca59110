"""Colour emoji on cards: the shipped subset, the fallback to it, and real pixels."""

from __future__ import annotations

from pathlib import Path

import jinja2
import pytest
from PIL import Image, ImageChops, ImageFont

from pipeline.checks import check_project
from pipeline.config import Project
from pipeline.errors import RenderError
from pipeline.render import cache, draw, emoji, fonts, layout_card, load_card_template, render_card
from pipeline.render.draw import paint_text, text_glyphs
from pipeline.render.layout import TextBlock, tokens

CHAIN = fonts.faces("body", "bold")
LIST = fonts.FONT_DIR / "emoji.txt"
SUBSET = fonts.FONT_DIR / emoji.FACE
BACKGROUND = (16, 32, 64)
CARD = """\
name: probe
alt: "probe"
layers:
  - type: background
    color: "#102040"
  - type: text
    name: body
    box: [0.1, 0.1, 0.8, 0.6]
    text: "{{{{ subject }}}}"
    color: "{color}"
    opacity: {opacity}
    min_size: {min_size}
    max_size: {max_size}
    max_lines: {max_lines}
    align: {align}
    balance: {balance}
"""


def sequences() -> list[str]:
    lines = LIST.read_text(encoding="utf-8").splitlines()
    return [sequence for line in lines if not line.startswith("#") for sequence in line.split()]


def probe(tmp_path: Path, color: str = "#FFFFFF", opacity: float = 1.0, **settings: object) -> Path:
    values: dict[str, object] = {"min_size": 0.03, "max_size": 0.2, "max_lines": 3, "align": "left", "balance": False}
    path = tmp_path / f"probe-{len(list(tmp_path.glob('*.yaml')))}.yaml"
    path.write_text(CARD.format(color=color, opacity=opacity, **(values | settings)), encoding="utf-8")
    return path


def block(path: Path, text: str, env: jinja2.Environment, lang: str = "en", size: int = 1080) -> TextBlock:
    layout = layout_card(load_card_template(path), {"lang": lang, "subject": text}, (size, size), env)
    [found] = [item for item in layout.items if isinstance(item, TextBlock)]
    return found


def emoji_glyphs(found: TextBlock) -> list[draw.Glyphs]:
    return [glyph for glyph in text_glyphs(found) if isinstance(glyph[2], Image.Image)]


def saturated(image: Image.Image) -> int:
    """Pixels of a strong, bright hue: emoji colours, never white text on navy."""
    _, saturation, value = image.convert("RGB").convert("HSV").split()
    strong = ImageChops.multiply(saturation.point(lambda s: 255 * (s > 128)), value.point(lambda v: 255 * (v > 96)))
    return strong.histogram()[255]


@pytest.fixture(scope="module")
def env(example_env: jinja2.Environment) -> jinja2.Environment:
    return example_env


def test_the_list_holds_100_to_200_emoji_and_the_subset_draws_each_as_one_glyph() -> None:
    listed = sequences()
    assert 100 <= len(listed) <= 200 and len(set(listed)) == len(listed)
    assert {"✅", "❤️", "⭐", "✨", "🇨🇳", "1️⃣", "🚄", "✈️", "👨‍👩‍👧"} <= set(listed)
    font = ImageFont.truetype(str(SUBSET), emoji.STRIKE, layout_engine=ImageFont.Layout.RAQM)
    one = font.getlength("🎉")
    assert [s for s in listed if font.getlength(s) != one or font.getbbox(s, anchor="ls") != (0, -101, 136, 27)] == []
    assert SUBSET.stat().st_size < 600_000


def test_every_listed_emoji_is_one_cluster_that_goes_to_the_emoji_face() -> None:
    for sequence in sequences():
        assert fonts.clusters(sequence) == [sequence], sequence
        assert emoji.is_emoji(sequence), sequence
        assert fonts.split_runs(f"沈阳{sequence}", CHAIN, "zh") == [("沈阳", CHAIN[1]), (sequence, fonts.EMOJI)]


def test_clusters_keep_flags_sequences_and_skin_tones_whole() -> None:
    assert fonts.clusters("🇨🇳🇺🇸🇩🇪") == ["🇨🇳", "🇺🇸", "🇩🇪"]
    assert fonts.clusters("a👍🏽b👨‍👩‍👧1️⃣") == ["a", "👍🏽", "b", "👨‍👩‍👧", "1️⃣"]
    assert [t.text for t in tokens("欢迎🇨🇳🇺🇸朋友👨‍👩‍👧", "zh")] == ["欢", "迎", "🇨🇳", "🇺🇸", "朋", "友", "👨‍👩‍👧"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("#1 23", [("#1 23", CHAIN[0])]),  # digits and # stay text, though the emoji face has them for keycaps
        ("1️⃣23", [("1️⃣", fonts.EMOJI), ("23", CHAIN[0])]),
        ("沈阳！‼", [("沈阳！‼", CHAIN[1])]),  # Chinese punctuation keeps to the Chinese face
        ("Go 🚄 now", [("Go ", CHAIN[0]), ("🚄", fonts.EMOJI), (" now", CHAIN[0])]),  # spaces never in emoji
        ("🎉🎊✨", [("🎉🎊✨", fonts.EMOJI)]),
    ],
)
def test_the_fallback_is_latin_then_chinese_then_emoji(text: str, expected: list[tuple[str, str]]) -> None:
    assert (fonts.LATIN[("body", "bold")], fonts.CHINESE["bold"], fonts.EMOJI) == CHAIN
    assert fonts.split_runs(text, CHAIN, "zh") == expected


def test_text_presentation_and_plain_text_are_not_emoji() -> None:
    assert not emoji.is_emoji("1") and not emoji.is_emoji("#") and not emoji.is_emoji("❤\ufe0e")
    assert not emoji.is_emoji("沈") and not emoji.is_emoji("\U00020000")  # CJK Extension B is not an emoji
    assert emoji.is_emoji("❤\ufe0f") and emoji.is_emoji("⭐") and emoji.is_emoji("🇨🇳") and emoji.is_emoji("#️⃣")


@pytest.mark.parametrize("size", [18, 40, 109, 150])
def test_an_emoji_run_is_measured_at_its_advance_scaled_to_the_size(size: int) -> None:
    strike = ImageFont.truetype(str(SUBSET), emoji.STRIKE, layout_engine=ImageFont.Layout.RAQM)
    shaped = fonts.shape("🎉✅A", CHAIN, "en", size)
    assert [(run.text, run.face) for run in shaped.runs] == [("🎉✅", fonts.EMOJI), ("A", CHAIN[0])]
    assert shaped.runs[1].dx == round(strike.getlength("🎉✅") * size / emoji.STRIKE)
    assert abs(shaped.bbox[1] - round(-101 * size / emoji.STRIKE)) <= 1  # the emoji's top, above the A


def test_emoji_keep_their_colours_whatever_the_text_colour(env: jinja2.Environment, tmp_path: Path) -> None:
    pictures = []
    for colour in ("#FFFFFF", "#FF0000", "#0000FF"):
        found = block(probe(tmp_path, colour, max_size=0.1), "Shenyang 🎉🚄❤️", env)
        [(box, tile, fill)] = emoji_glyphs(found)
        image = Image.new("RGB", (1080, 1080), BACKGROUND)
        paint_text(image, found)
        pictures.append(image.crop(box).tobytes())
        assert saturated(image.crop(box)) > 0.2 * tile.width * tile.height  # coloured, not the text colour
        assert tile.mode == "RGBA" and fill is tile
    assert pictures[0] == pictures[1] == pictures[2]


def test_the_layers_opacity_fades_emoji(env: jinja2.Environment, tmp_path: Path) -> None:
    opaque = block(probe(tmp_path, max_size=0.1), "Shenyang ⭐", env)
    faded = block(probe(tmp_path, "#FF0000", opacity=0.5, max_size=0.1), "Shenyang ⭐", env)
    assert faded.opacity == 128 and opaque.opacity == 255
    [(box, tile, _)], [(same_box, half, _)] = emoji_glyphs(opaque), emoji_glyphs(faded)
    assert box == same_box and tile.size == half.size
    alpha, half_alpha = tile.getchannel("A").tobytes(), half.getchannel("A").tobytes()
    assert (
        all(abs((a * 128 + 127) // 255 - b) <= 1 for a, b in zip(alpha, half_alpha, strict=True)) and max(alpha) == 255
    )
    image = Image.new("RGB", (1080, 1080), BACKGROUND)
    paint_text(image, faded)
    x, y = box[0] + tile.width // 2, box[1] + tile.height // 2  # the middle of the star: opaque yellow
    r, g, b = tile.getpixel((tile.width // 2, tile.height // 2))[:3]
    assert image.getpixel((x, y)) == pytest.approx(((r + 16) / 2, (g + 32) / 2, (b + 64) / 2), abs=3)


@pytest.mark.parametrize("align", ["left", "center", "right"])
@pytest.mark.parametrize("size", [(1080, 1080), (900, 383)])
@pytest.mark.parametrize("balance", [False, True])
def test_fitting_with_emoji_never_overflows_the_box(
    env: jinja2.Environment, tmp_path: Path, align: str, size: tuple[int, int], balance: bool
) -> None:
    texts = {
        "en": "🎉 Shenyang welcomes the world 🌏 23 sister cities 🇨🇳🇺🇸🇩🇪🇯🇵 ✈️🚄 ❤️✨",
        "zh": "🎉沈阳欢迎你🌏23个国际友好城市🇨🇳🇺🇸🇩🇪🇯🇵✈️🚄❤️✨第1名！",
    }
    path = probe(tmp_path, align=align, balance=str(balance).lower(), max_lines=5, min_size=0.02, max_size=0.3)
    template = load_card_template(path)
    for lang, text in texts.items():
        layout = layout_card(template, {"lang": lang, "subject": text}, size, env)
        [found] = [item for item in layout.items if isinstance(item, TextBlock)]
        lines = ["".join(run.text for run in line.shaped.runs) for line in found.lines]
        assert (" " if lang == "en" else "").join(lines) == text and len(lines) > 1
        assert all(found.box.contains(line.bbox) for line in found.lines)
        image = Image.new("RGB", size)
        paint_text(image, found)
        ink = image.getbbox()
        assert ink is not None and found.box.contains(ink), (lang, ink, found.box)
        for box, tile, _ in emoji_glyphs(found):
            assert found.box.contains(box) and saturated(tile) > 0, (lang, box)


def test_emoji_tiles_are_cached_bounded_and_the_same_cold_or_warm(
    env: jinja2.Environment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    small = cache.LRU[tuple[str, int, int], emoji.Tile](
        "t.tiles", 8, max_bytes=120_000, weigh=lambda tile: tile[0].width * tile[0].height * 4, register=False
    )
    monkeypatch.setattr(emoji, "TILES", small)
    path = probe(tmp_path, max_size=0.1)
    first = {size: emoji_glyphs(block(path, "沈阳 🎉 ✅ 🇨🇳", env, "zh", size)) for size in range(300, 800, 50)}
    for size, glyphs in first.items():  # evicted long ago, then cached: the same pixels
        for _ in range(2):
            again = emoji_glyphs(block(path, "沈阳 🎉 ✅ 🇨🇳", env, "zh", size))
            assert [(box, tile.tobytes()) for box, tile, _ in again] == [(b, t.tobytes()) for b, t, _ in glyphs]
            stats = small.stats()
            assert stats.items <= 8 and stats.bytes <= 120_000
    assert small.stats().misses == 60 and small.stats().hits == 30


@pytest.mark.parametrize(
    ("text", "missing"),
    [("Shenyang 🦖", "\U0001f996"), ("Shenyang 👩‍🦰", "\U0001f9b0"), ("Shenyang \u0e01", "\u0e01")],
)
def test_a_cluster_no_face_covers_names_the_character_and_the_fonts_in_order(
    env: jinja2.Environment, tmp_path: Path, text: str, missing: str
) -> None:
    with pytest.raises(RenderError) as caught:
        render_card(load_card_template(probe(tmp_path)), {"lang": "en", "subject": text}, (800, 800), tmp_path, env)
    message = str(caught.value)
    assert f"U+{ord(missing):04X} {missing!r}" in message
    assert "(tried Inter-Regular.otf, NotoSansSC-Regular.otf, NotoColorEmoji-Subset.ttf)" in message
    assert not list(tmp_path.glob("*.png"))


def test_shortline_check_reports_an_emoji_no_font_covers(project_dir: Path) -> None:
    stat = project_dir / "templates" / "cards" / "stat.yaml"
    source = stat.read_text(encoding="utf-8")
    assert source.count('zh: "{{ subject }}"}') == 1
    stat.write_text(source.replace('zh: "{{ subject }}"}', 'zh: "{{ subject }}🦖"}'), encoding="utf-8")
    problems = [str(problem) for problem in check_project(Project(project_dir))]
    assert len(problems) == 1 and problems[0].startswith(str(stat)), problems
    assert "U+1F996" in problems[0] and "NotoColorEmoji-Subset.ttf" in problems[0]
