"""The fast paths of card rendering give the same cards as the plain ones, and stay bounded.

The plain painter below is the renderer as it was before the caches: a white canvas, every layer
in order, ImageDraw.text() for each run and a rounded mask cut from a whole supersampled circle.
Timings are never asserted here (bench/cards.py measures them).
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import pickle
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jinja2
import pytest
from PIL import Image, ImageDraw

from pipeline.errors import ComposeError
from pipeline.model import FactSet
from pipeline.render import cache, coverage, draw, fonts, layout, layout_card, load_card_template
from pipeline.render.draw import SUPERSAMPLE, draw_card, encode_png, gradient, rounded_mask
from pipeline.render.encode import pixel_digest
from pipeline.render.layout import CardLayout, ShapeBox, TextBlock
from pipeline.render.template import BackgroundLayer

ROOT = Path(__file__).resolve().parents[2]
CARDS = sorted((ROOT / "templates" / "cards").glob("*.yaml"))
STAT = ROOT / "templates" / "cards" / "stat.yaml"
SIZES = [(1080, 1350), (900, 383)]


@pytest.fixture(scope="module")
def env(example_env: jinja2.Environment) -> jinja2.Environment:
    return example_env


def context(fact_set: FactSet, lang: str, figure: int | None = None, subject: str | None = None) -> dict[str, Any]:
    facts_now = dict(fact_set.facts)
    if figure is not None:
        facts_now["sister_cities"] = dataclasses.replace(facts_now["sister_cities"], value=figure)
    return {
        "lang": lang,
        "subject": subject or fact_set.subject[lang],
        "facts": facts_now,
        "source": fact_set.source,
    }


def plain_draw(card: CardLayout) -> Image.Image:
    """draw_card() without any cache, hoisting or pasting: every layer in order, as before."""
    image = Image.new("RGB", card.size, "white")
    for item in card.items:
        if isinstance(item, BackgroundLayer):
            draw.paint_background(image, item)
        elif isinstance(item, ShapeBox):
            rect = item.rect
            mask = whole_circle_mask((rect.w, rect.h), item.radius, item.color[3])
            image.paste(item.color[:3], (rect.x, rect.y, rect.right, rect.bottom), mask)
        else:
            plain_text(image, item)
    return image


def plain_text(image: Image.Image, block: TextBlock) -> None:
    """Each run drawn as a full-size coverage mask by ImageDraw.text, faded by the text's opacity,
    and the colour pasted through it."""
    language = fonts.LANGUAGE[block.lang]
    alpha = block.color[3]
    for line in block.lines:
        for run in line.shaped.runs:
            font = fonts.freetype(run.face, block.size)
            coverage = Image.new("L", image.size, 0)
            position = (line.x + run.dx, line.baseline)
            ImageDraw.Draw(coverage).text(position, run.text, font=font, fill=255, anchor="ls", language=language)
            faded = coverage.point(lambda level: (level * alpha + 127) // 255)
            image.paste(block.color[:3], (0, 0, *image.size), faded)


def whole_circle_mask(size: tuple[int, int], radius: int, alpha: int) -> Image.Image:
    mask = Image.new("L", size, alpha)
    radius = min(radius, size[0] // 2, size[1] // 2)
    if radius <= 0:
        return mask
    big = Image.new("L", (2 * radius * SUPERSAMPLE,) * 2, 0)
    ImageDraw.Draw(big).ellipse((0, 0, big.width - 1, big.height - 1), fill=alpha)
    circle = big.resize((2 * radius, 2 * radius), Image.Resampling.BOX)
    right, bottom = size[0] - radius, size[1] - radius
    corners = ((0, 0), (right, 0), (0, bottom), (right, bottom))
    for (x, y), (cx, cy) in zip(corners, ((0, 0), (radius, 0), (0, radius), (radius, radius)), strict=True):
        mask.paste(circle.crop((cx, cy, cx + radius, cy + radius)), (x, y))
    return mask


def png(path: Path, size: tuple[int, int], ctx: dict[str, Any], env: jinja2.Environment) -> bytes:
    return encode_png(draw_card(layout_card(load_card_template(path), ctx, size, env)))


@pytest.mark.parametrize("path", CARDS, ids=[path.stem for path in CARDS])
def test_every_card_cold_and_warm_gives_the_plain_painters_pixels(
    env: jinja2.Environment, shenyang: FactSet, path: Path
) -> None:
    template = load_card_template(path)
    for size in SIZES:
        for lang in ("en", "zh"):
            cache.clear_all()
            cold = layout_card(template, context(shenyang, lang), size, env)
            first = draw_card(cold)
            warm = layout_card(template, context(shenyang, lang), size, env)
            again = draw_card(warm)
            assert warm == cold, (path.stem, size, lang)
            expected = plain_draw(cold).tobytes()
            assert first.tobytes() == expected and again.tobytes() == expected, (path.stem, size, lang)


def test_warm_layouts_equal_cold_ones_across_templates_sizes_and_languages(
    env: jinja2.Environment, shenyang: FactSet
) -> None:
    """The fit cache is shared by every template, size and language; none may get another's blocks."""
    templates = [load_card_template(path) for path in CARDS]
    cases = [(t, size, lang) for t in templates for size in [*SIZES, (1080, 1080)] for lang in ("en", "zh")]
    warm = [layout_card(t, context(shenyang, lang), size, env) for t, size, lang in cases]
    for (template, size, lang), expected in zip(cases, warm, strict=True):
        cache.clear_all()
        assert layout_card(template, context(shenyang, lang), size, env) == expected, (template.name, size, lang)


def test_a_card_rendered_cold_and_warm_gives_identical_bytes(env: jinja2.Environment, shenyang: FactSet) -> None:
    cache.clear_all()
    cold = png(STAT, (1080, 1350), context(shenyang, "zh"), env)
    assert cache.stats()["draw.bases"].items == 1
    warm = [png(STAT, (1080, 1350), context(shenyang, "zh"), env) for _ in range(3)]
    assert warm == [cold] * 3
    assert cache.stats()["draw.bases"].hits >= 3 and cache.stats()["layout.fitted"].hits >= 12


def test_changing_the_text_changes_the_image(env: jinja2.Environment, shenyang: FactSet) -> None:
    size = (1080, 1350)
    first = png(STAT, size, context(shenyang, "zh", figure=23), env)
    figures = {n: png(STAT, size, context(shenyang, "zh", figure=n), env) for n in (24, 32, 1023)}
    subject = png(STAT, size, context(shenyang, "zh", figure=23, subject="大连"), env)
    assert len({first, subject, *figures.values()}) == 5
    assert png(STAT, size, context(shenyang, "zh", figure=23), env) == first  # and back again
    english = png(STAT, size, context(shenyang, "en", figure=23), env)
    assert english != first


def test_a_new_figure_is_drawn_as_the_plain_painter_draws_it(env: jinja2.Environment, shenyang: FactSet) -> None:
    template = load_card_template(STAT)
    png(STAT, (1080, 1350), context(shenyang, "zh"), env)  # the base is cached now
    for figure in (7, 88, 1234, 56789):
        card = layout_card(template, context(shenyang, "zh", figure=figure), (1080, 1350), env)
        assert draw_card(card).tobytes() == plain_draw(card).tobytes(), figure


def test_text_that_repeats_is_held_on_a_cached_base_with_the_same_pixels(
    env: jinja2.Environment, shenyang: FactSet
) -> None:
    cache.clear_all()
    template = load_card_template(STAT)
    for figure in (7, 88, 1234, 56789, 1235):
        card = layout_card(template, context(shenyang, "zh", figure=figure), (1080, 1350), env)
        assert draw_card(card).tobytes() == plain_draw(card).tobytes(), figure
    [held] = [key[1:] for key in draw.BASES._data if any(isinstance(part, TextBlock) for part in key)]
    assert [block.name for block in held if isinstance(block, TextBlock)] == ["subject", "label", "source"]
    assert cache.stats()["draw.bases"].hits >= 2  # the held base served the last two cards


@pytest.mark.parametrize(("second_box", "held"), [("[0.1, 0.5, 0.8, 0.3]", [2]), ("[0.1, 0.15, 0.8, 0.3]", [])])
def test_held_text_never_moves_under_text_painted_before_it(
    env: jinja2.Environment, tmp_path: Path, second_box: str, held: list[int]
) -> None:
    """A repeated text may be painted first only if the changing text before it does not touch it."""
    path = tmp_path / "two.yaml"
    text = 'name: two\nalt: "two"\nlayers:\n  - type: background\n    color: "#102040"\n'
    for name, box, content in (("figure", "[0.1, 0.1, 0.8, 0.3]", "{{ subject }}"), ("label", second_box, "WWW")):
        text += f'  - type: text\n    name: {name}\n    box: {box}\n    text: "{content}"\n'
        text += '    color: "#FFFFFF80"\n    min_size: 0.1\n    max_size: 0.3\n'
    path.write_text(text, encoding="utf-8")
    template = load_card_template(path)
    cache.clear_all()
    for n in range(3):
        card = layout_card(template, {"lang": "en", "subject": f"W{n}W"}, (600, 600), env)
        glyphs = {i: draw.text_glyphs(item) for i, item in enumerate(card.items) if isinstance(item, TextBlock)}
        rest = draw.split_static(card.items, glyphs, card.size)[1]
        assert draw.split_held(card.items, rest, glyphs, card.size)[0] == (held if n else [])
        assert draw_card(card).tobytes() == plain_draw(card).tobytes(), n


def test_a_text_block_keeps_its_hash_across_processes() -> None:
    block = TextBlock("t", layout.Rect(0, 0, 10, 10), 12, "en", (1, 2, 3, 4), ())
    copied = pickle.loads(pickle.dumps(block))
    assert copied == block and hash(copied) == hash(block) and copied is not block


def test_a_shape_over_text_keeps_its_place(env: jinja2.Environment, tmp_path: Path) -> None:
    """A translucent band painted over a text must not move into the base under it."""
    path = tmp_path / "band.yaml"
    path.write_text(
        """\
name: band
alt: "band"
layers:
  - type: background
    color: "#102040"
  - type: text
    name: title
    box: [0.1, 0.1, 0.8, 0.3]
    text: "{{ subject }}"
    color: "#FFFFFF"
    min_size: 0.05
    max_size: 0.2
  - type: shape
    box: [0.0, 0.15, 1.0, 0.1]
    color: "#FF0000"
    opacity: 0.5
  - type: shape
    box: [0.0, 0.8, 1.0, 0.1]
    color: "#00FF00"
""",
        encoding="utf-8",
    )
    template = load_card_template(path)
    card = layout_card(template, {"lang": "en", "subject": "Shenyang"}, (600, 600), env)
    glyphs = {i: draw.text_glyphs(item) for i, item in enumerate(card.items) if isinstance(item, TextBlock)}
    static, rest = draw.split_static(card.items, glyphs, card.size)
    assert static == [card.items[0]] and rest == [1, 2, 3]
    assert draw_card(card).tobytes() == plain_draw(card).tobytes()


def test_cached_text_masks_match_imagedraw_text_for_every_opacity() -> None:
    """paint_glyphs() pastes through cached masks; ImageDraw.text() is the reference."""
    chain = fonts.faces("body", "regular")
    shaped = fonts.shape("来源：沈阳发布 2023", chain, "zh", 40)
    line = layout.Line(shaped, 20, 80)
    for color in [(255, 255, 255, 255), (242, 181, 68, 158), (10, 20, 30, 1)]:
        block = TextBlock("t", layout.Rect(0, 0, 600, 120), 40, "zh", color, (line,))
        plain, fast = Image.new("RGB", (600, 120), (16, 32, 64)), Image.new("RGB", (600, 120), (16, 32, 64))
        plain_text(plain, block)
        draw.paint_text(fast, block)
        draw.paint_text(fast.copy(), block)  # and once more from the cache
        assert fast.tobytes() == plain.tobytes(), color


@pytest.mark.parametrize(
    ("size", "radius", "alpha"),
    [((950, 886), 49, 18), ((130, 16), 6, 255), ((101, 57), 30, 128), ((1080, 1350), 540, 255), ((7, 7), 3, 200)],
)
def test_rounded_mask_from_one_corner_equals_the_whole_circle(size: tuple[int, int], radius: int, alpha: int) -> None:
    assert rounded_mask(size, radius, alpha).tobytes() == whole_circle_mask(size, radius, alpha).tobytes()
    assert rounded_mask(size, radius, alpha) is rounded_mask(size, radius, alpha)


def test_caches_stay_bounded(env: jinja2.Environment, shenyang: FactSet, monkeypatch: pytest.MonkeyPatch) -> None:
    small = {
        "BASES": cache.LRU("t.bases", 2, max_bytes=3 * 1080 * 1350 * 4 // 2, weigh=draw._image_bytes, register=False),
        "MASKS": cache.LRU("t.masks", 12, max_bytes=400_000, weigh=draw._mask_bytes, register=False),
        "ROUNDED": cache.LRU("t.rounded", 3, max_bytes=2_000_000, weigh=draw._image_bytes, register=False),
    }
    for name, lru in small.items():
        monkeypatch.setattr(draw, name, lru)
    fitted = cache.LRU[tuple[object, ...], TextBlock]("t.fitted", 10, register=False)
    monkeypatch.setattr(layout, "FITTED", fitted)
    templates = [load_card_template(path) for path in CARDS]
    seen = set()
    for n in range(60):
        size = [(1080, 1350), (1080, 1080), (900, 383)][n % 3]
        ctx = context(shenyang, ("en", "zh")[n % 2], figure=100 + n)
        card = layout_card(templates[n % len(templates)], ctx, size, env)
        image = draw_card(card)
        seen.add(image.tobytes())
        if n % 7 == 0:  # evictions never hand back a wrong piece
            assert image.tobytes() == plain_draw(card).tobytes()
        for lru in [*small.values(), fitted]:
            stats = lru.stats()
            assert stats.items <= stats.max_items and (stats.max_bytes is None or stats.bytes <= stats.max_bytes)
    assert len(seen) > 30  # 5 templates x 3 sizes x 2 languages, and the stat card's figures
    assert all(lru.stats().misses > 0 for lru in [*small.values(), fitted])
    for name, stats in cache.stats().items():
        assert stats.items <= stats.max_items and (stats.max_bytes is None or stats.bytes <= stats.max_bytes), name
    for cached in (fonts._chinese_font, fonts._latin_font, fonts.shape):
        info = cached.cache_info()
        assert info.maxsize is not None and info.currsize <= info.maxsize


def test_the_lru_forgets_the_least_recently_used_first_by_count_and_by_bytes() -> None:
    lru = cache.LRU[str, bytes]("t.lru", 3, max_bytes=10, weigh=len, register=False)
    for key in "abc":
        lru.put(key, b"xx")
    assert lru.get("a") == b"xx"  # a is now the most recent
    lru.put("d", b"xx")
    assert "b" not in lru and [k for k in "acd" if k in lru] == ["a", "c", "d"]
    lru.put("e", b"xxxx")  # four items: c, the least recently used, goes; 8 bytes
    assert [k for k in "acde" if k in lru] == ["a", "d", "e"] and lru.stats().bytes == 8
    lru.put("f", b"xxxxxx")  # by bytes: a, then d go (2 + 4 + 6 = 12 > 10, 4 + 6 = 10)
    assert [k for k in "adef" if k in lru] == ["e", "f"] and lru.stats().bytes == 10
    assert lru.put("big", b"x" * 11) == b"x" * 11 and "big" not in lru  # heavier than the budget: not kept
    lru.clear()
    assert len(lru) == 0 and lru.stats().bytes == 0


@pytest.mark.parametrize("guess", [-9, 9, 10, 23, 24, 25, 40, 59, 60, 61, 900])
def test_the_fit_search_finds_the_largest_size_that_fits_from_any_guess(guess: int) -> None:
    """largest_fitting() answers as a bisection of [10, 60] would, wherever its guess points; 9
    stands for "nothing fits", which gives the reason at the smallest size."""
    for answer in range(9, 61):
        tried: list[int] = []

        def at(size: int, answer: int = answer, tried: list[int] = tried) -> layout.Attempt:
            tried.append(size)
            return ([], f"{size} is too large") if size > answer else ([fonts.Shaped((), (0, 0, size, 0))], "")

        size, lines, reason = layout.largest_fitting(at, 10, 60, lambda: guess)
        assert (size, reason) == ((answer, "") if answer >= 10 else (10, "10 is too large"))
        assert [line.width for line in lines] == ([answer] if answer >= 10 else [])
        near = 3 if guess == answer else 5 if abs(guess - answer) == 1 else 14  # tries, with the largest size
        assert len(tried) == len(set(tried)) and len(tried) <= near, tried


def test_a_failing_field_still_names_its_file_and_line(env: jinja2.Environment, tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(
        'name: broken\nalt: "a"\nlayers:\n  - type: background\n    color: "#000000"\n'
        '  - type: text\n    name: t\n    box: [0.1, 0.1, 0.8, 0.5]\n    text: "{{ nosuch.thing }}"\n'
        '    color: "#FFFFFF"\n    min_size: 0.05\n    max_size: 0.1\n',
        encoding="utf-8",
    )
    template = load_card_template(path)
    for _ in range(2):  # the compiled field is cached after the first try; the error is the same
        with pytest.raises(ComposeError, match=r"broken.yaml:9: layers.1.text: .*nosuch"):
            layout_card(template, {"lang": "en"}, (400, 400), env)


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L", "P"])
def test_encode_png_round_trips_and_gives_the_same_bytes_every_time(mode: str) -> None:
    image = gradient((300, 200), _gradient()).convert(mode)
    data = encode_png(image)
    assert data == encode_png(image.copy())
    with Image.open(io.BytesIO(data)) as decoded:
        assert decoded.format == "PNG" and decoded.mode == mode and decoded.size == image.size
        assert not decoded.info.keys() - {"dpi", "gamma", "transparency"}
        assert decoded.tobytes() == image.tobytes()
    assert encode_png(image, level=1) != data or mode == "P"


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L", "P", "1", "I;16"])
@pytest.mark.parametrize("size", [(300, 200), (7, 64), (5, 129), (0, 3)])
def test_the_banded_pixel_digest_is_the_digest_of_all_the_pixels(mode: str, size: tuple[int, int]) -> None:
    image = gradient(size, _gradient()).convert(mode) if all(size) else Image.new(mode, size)
    assert pixel_digest(image) == hashlib.sha256(image.tobytes()).digest()


def _gradient() -> Any:
    from pipeline.render.template import Gradient

    return Gradient(angle=135, stops=["#0A1A3A", "#F2B544", "#1C6A96"])


def test_coverage_file_matches_every_fonts_cmap() -> None:
    recorded = json.loads((fonts.FONT_DIR / coverage.FILE_NAME).read_text(encoding="utf-8"))["faces"]
    shipped = sorted(path.name for path in [*fonts.FONT_DIR.glob("*.otf"), *fonts.FONT_DIR.glob("*.ttf")])
    assert sorted(recorded) == shipped, "run: python assets/fonts/subset_fonts.py --coverage"
    for name in shipped:
        assert coverage.lookup(fonts.FONT_DIR / name) == fonts.read_cmap(fonts.FONT_DIR / name), name


def test_a_stale_or_missing_coverage_record_is_not_used(tmp_path: Path) -> None:
    font = tmp_path / "Inter-Bold.otf"
    shutil.copy(fonts.FONT_DIR / "Inter-Bold.otf", font)
    assert coverage.lookup(font) is None  # no coverage.json here
    coverage.write(tmp_path, {"Inter-Bold.otf": [0x41, 0x42, 0x43, 0x45]})
    coverage.forget()
    assert coverage.lookup(font) == {0x41, 0x42, 0x43, 0x45}
    with font.open("ab") as file:  # the font changed: another size
        file.write(b"\0\0\0\0")
    assert coverage.lookup(font) is None
    data = json.loads((tmp_path / coverage.FILE_NAME).read_text(encoding="utf-8"))
    data["faces"]["Inter-Bold.otf"].update(size=font.stat().st_size, cmap_sha256="0" * 64)  # another cmap
    (tmp_path / coverage.FILE_NAME).write_text(json.dumps(data), encoding="utf-8")
    coverage.forget()
    assert coverage.lookup(font) is None
    coverage.forget()


def test_a_card_renders_without_importing_fonttools(tmp_path: Path) -> None:
    script = f"""
import sys, datetime as dt
sys.path.insert(0, {str(ROOT)!r})
from pathlib import Path
from pipeline import templating
from pipeline.model import Fact, Source
from pipeline.render import load_card_template, render_card
source = Source(name={{"zh": "沈阳发布"}}, date=dt.date(2023, 2, 16))
fact = Fact(key="sister_cities", value=23, source=source, unit={{"zh": "个国际友好城市"}})
ctx = {{"lang": "zh", "subject": "沈阳", "facts": {{"sister_cities": fact}}, "source": source}}
root = Path({str(ROOT)!r})
render_card(load_card_template(root / "templates/cards/stat.yaml"), ctx, (540, 675), Path({str(tmp_path)!r}),
            templating.environment(root / "templates"))
print(sorted(m for m in sys.modules if m.split(".")[0] == "fontTools"))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]", done.stdout + done.stderr
    assert len(list(tmp_path.glob("*.png"))) == 1
