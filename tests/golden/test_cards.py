"""Golden images: every example card at 1080x1350 and as the WeChat cover size, in both languages.

On a difference the actual image and a diff image (differing pixels in red over a faded copy of
the expected one) are written to tests/golden/cards/failures/, and the message says where.
Regenerate with `make golden` and look at the images before committing them.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image, ImageChops

from pipeline import compose, facts, templating
from pipeline.render import load_card_template, render_card

from .conftest import UPDATE

ROOT = Path(__file__).resolve().parents[2]
FOLDER = Path(__file__).parent / "cards"
CARDS = sorted((ROOT / "templates" / "cards").glob("*.yaml"))
SIZES = [(1080, 1350), (900, 383)]
# Tolerances. Pillow, FreeType and HarfBuzz builds may antialias glyph edges a little differently,
# and the gradient is resampled bilinearly; neither moves a shape or a glyph. So a channel may
# differ by up to LEVELS on at most SHARE of the pixels: a changed or moved word, a new colour or
# a missing glyph changes far more (one 40 px glyph of a 1080x1350 card is 0.1%).
LEVELS = 24
SHARE = 0.0005

cases = [(path, size, lang) for path in CARDS for size in SIZES for lang in ("en", "zh")]


@pytest.mark.parametrize(("path", "size", "lang"), cases, ids=[f"{p.stem}-{w}x{h}-{lang}" for p, (w, h), lang in cases])
def test_card_matches_its_golden_image(path: Path, size: tuple[int, int], lang: str, tmp_path: Path) -> None:
    fact_set = facts.load(ROOT / "facts" / "shenyang.yaml")
    env = templating.environment(ROOT / "templates")
    card = render_card(load_card_template(path), compose.context(fact_set, lang), size, tmp_path, env)
    name = f"{path.stem}-{size[0]}x{size[1]}-{lang}.png"
    actual = Image.open(card.path).convert("RGB")
    if UPDATE:
        FOLDER.mkdir(exist_ok=True)
        actual.save(FOLDER / name, optimize=True)
        return
    assert (FOLDER / name).exists(), f"no golden image {FOLDER / name}; run `make golden` and look at it"
    expected = Image.open(FOLDER / name).convert("RGB")
    share = _share_differing(expected, actual)
    if share > SHARE:
        where = _write_failure(name, expected, actual)
        pytest.fail(f"{name}: {share:.3%} of pixels differ by more than {LEVELS} levels; see {where}")


def _differing(expected: Image.Image, actual: Image.Image) -> Image.Image:
    """A mask of the pixels where some channel differs by more than LEVELS."""
    assert expected.size == actual.size, (expected.size, actual.size)
    red, green, blue = ImageChops.difference(expected, actual).split()
    worst = ImageChops.lighter(ImageChops.lighter(red, green), blue)
    return worst.point(lambda level: 255 if level > LEVELS else 0)


def _share_differing(expected: Image.Image, actual: Image.Image) -> float:
    return _differing(expected, actual).histogram()[255] / (expected.width * expected.height)


def _write_failure(name: str, expected: Image.Image, actual: Image.Image) -> Path:
    folder = FOLDER / "failures"
    folder.mkdir(exist_ok=True)
    actual.save(folder / name.replace(".png", "-actual.png"))
    mask = _differing(expected, actual)
    faded = Image.blend(expected, Image.new("RGB", expected.size, "white"), 0.7)
    faded.paste((220, 0, 0), (0, 0, *expected.size), mask)
    faded.save(folder / name.replace(".png", "-diff.png"))
    return folder
