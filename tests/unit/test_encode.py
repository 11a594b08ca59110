"""Card bytes per channel: the format each API takes, within its byte budget, the same bytes every time."""

from __future__ import annotations

import hashlib
import io
import re
import subprocess
import sys
from pathlib import Path

import jinja2
import pytest
from PIL import Image

from pipeline import compose, facts, templating
from pipeline.compose.channels import SPECS
from pipeline.errors import RenderError
from pipeline.model import FactSet
from pipeline.render import encode as encoding
from pipeline.render import encode_card, layout_card, load_card_template, render_card
from pipeline.render.draw import draw_card
from pipeline.render.encode import (
    EXTENSIONS,
    MEMO,
    MEMO_ITEMS,
    QUALITY,
    SCALES,
    ImageFormat,
    encode,
    encode_at,
    encode_within,
)

ROOT = Path(__file__).resolve().parents[2]
STAT = ROOT / "templates" / "cards" / "stat.yaml"
PIL_FORMAT = {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP"}


@pytest.fixture(scope="module")
def env() -> jinja2.Environment:
    return templating.environment((ROOT / "templates").resolve())


@pytest.fixture(scope="module")
def fact_set() -> FactSet:
    return facts.load(ROOT / "facts" / "shenyang.yaml")


@pytest.fixture(autouse=True)
def fresh_memo() -> None:
    """Every test encodes afresh, so no test passes on bytes an earlier one left in the memo."""
    MEMO.clear()


def stat_image(env: jinja2.Environment, fact_set: FactSet, lang: str, size: tuple[int, int]) -> Image.Image:
    return draw_card(layout_card(load_card_template(STAT), compose.context(fact_set, lang), size, env))


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("channel", sorted(SPECS))
def test_the_stat_card_fits_every_channel_in_its_format_and_budget(
    env: jinja2.Environment, fact_set: FactSet, tmp_path: Path, channel: str, lang: str
) -> None:
    spec = SPECS[channel]
    context = compose.context(fact_set, lang)
    card = render_card(
        load_card_template(STAT), context, spec.card_size, tmp_path, env, spec.card_format, spec.card_budget
    )

    data = card.path.read_bytes()
    assert card.path.name == f"{hashlib.sha256(data).hexdigest()}.{EXTENSIONS[spec.card_format]}"
    assert spec.card_budget is None or len(data) <= spec.card_budget
    assert (card.width, card.height) == spec.card_size  # the stat card fits every budget at full size
    with Image.open(card.path) as image:
        assert image.format == PIL_FORMAT[spec.card_format] and image.size == spec.card_size


def test_the_wechat_cover_thumbnail_is_a_jpeg_within_64_kb() -> None:
    wechat = SPECS["wechat"]
    assert (wechat.cover_size, wechat.cover_format, wechat.cover_budget) == ((900, 383), "jpeg", 64_000)
    assert (wechat.card_format, wechat.card_budget) == ("jpeg", 999_999)  # media/uploadimg: < 1 MB
    assert (SPECS["bluesky"].card_format, SPECS["bluesky"].card_budget) == ("jpeg", 1_000_000)
    for spec in SPECS.values():
        assert spec.card_format in ("png", "jpeg", "webp")
        assert spec.card_budget is None or spec.card_budget <= 10_485_760


@pytest.mark.parametrize("fmt", ["jpeg", "webp"])
def test_the_search_finds_the_highest_quality_within_the_budget(
    env: jinja2.Environment, fact_set: FactSet, fmt: ImageFormat
) -> None:
    image = stat_image(env, fact_set, "en", (900, 383))
    low, high = QUALITY[fmt]
    budget = (len(encode_at(image, fmt, low)) + len(encode_at(image, fmt, high))) // 2
    MEMO.clear()

    result = encode_within(image, fmt, budget)

    assert result.quality is not None and low < result.quality < high
    assert len(result.data) <= budget and result.size == image.size
    assert len(encode_at(image, fmt, result.quality + 1)) > budget  # one step better would not fit
    assert result.data == encode_at(image, fmt, result.quality)


def test_a_format_with_room_keeps_the_highest_quality(env: jinja2.Environment, fact_set: FactSet) -> None:
    image = stat_image(env, fact_set, "zh", (900, 383))
    assert encode_within(image, "jpeg", 64_000).quality == QUALITY["jpeg"][1]
    assert encode_within(image, "webp").quality == QUALITY["webp"][1]
    assert encode(image, "png") == encode(image, "png", 10_000_000)


def test_below_the_lowest_quality_the_card_is_made_smaller(env: jinja2.Environment, fact_set: FactSet) -> None:
    image = stat_image(env, fact_set, "en", (1080, 1350))
    lowest = len(encode_at(image, "jpeg", QUALITY["jpeg"][0]))
    MEMO.clear()

    result = encode_within(image, "jpeg", lowest - 1)

    assert len(result.data) <= lowest - 1
    assert result.size[0] < 1080 and result.size[1] < 1350
    assert abs(result.size[0] / result.size[1] - 1080 / 1350) < 0.01
    with Image.open(io.BytesIO(result.data)) as decoded:
        assert decoded.size == result.size


@pytest.mark.parametrize("fmt", ["png", "jpeg", "webp"])
def test_an_impossible_budget_names_card_format_budget_and_smallest_size(
    env: jinja2.Environment, fact_set: FactSet, tmp_path: Path, fmt: ImageFormat
) -> None:
    context = compose.context(fact_set, "en")
    with pytest.raises(RenderError) as caught:
        render_card(load_card_template(STAT), context, (1080, 1350), tmp_path, env, fmt, 2_000)
    message = str(caught.value)
    assert message.startswith(f"card stat ({STAT}, en, 1080x1350): cannot fit {fmt.upper()} into 2,000 bytes")
    smallest = re.search(r"the smallest reached was ([\d,]+) bytes \(540x675, (quality 70|lossless)", message)
    assert smallest is not None, message
    assert int(smallest[1].replace(",", "")) > 2_000
    assert f"after scaling down to {SCALES[-1]:.0%}" in message
    assert not any(tmp_path.iterdir())  # nothing written


def test_bad_format_and_budget_are_errors(env: jinja2.Environment, fact_set: FactSet) -> None:
    image = stat_image(env, fact_set, "en", (900, 383))
    with pytest.raises(RenderError, match="unknown image format 'gif'"):
        encode(image, "gif")  # type: ignore[arg-type]
    with pytest.raises(RenderError, match="a byte budget must be positive"):
        encode(image, "jpeg", 0)


@pytest.mark.parametrize("fmt", ["png", "jpeg", "webp"])
def test_no_metadata_is_written(env: jinja2.Environment, fact_set: FactSet, fmt: ImageFormat) -> None:
    image = stat_image(env, fact_set, "en", (900, 383))
    image.info.update(exif=b"Exif\x00\x00MM", comment=b"drawn at 12:00", icc_profile=b"profile")
    data = encode(image, fmt, 64_000)
    with Image.open(io.BytesIO(data)) as decoded:
        assert not {"exif", "comment", "icc_profile", "xmp"} & decoded.info.keys(), decoded.info.keys()
    assert b"drawn at" not in data and b"Exif" not in data
    if fmt == "webp":
        assert data[12:16] == b"VP8 "  # a simple lossy file: no VP8X header, so no metadata chunks


ENCODE_IN_A_NEW_PROCESS = """
import hashlib, sys
from pathlib import Path
from pipeline import compose, facts, templating
from pipeline.render import layout_card, load_card_template
from pipeline.render.draw import draw_card
from pipeline.render.encode import encode
root = Path(sys.argv[1])
env = templating.environment((root / "templates").resolve())
context = compose.context(facts.load(root / "facts" / "shenyang.yaml"), "zh")
image = draw_card(layout_card(load_card_template(root / "templates/cards/stat.yaml"), context, (900, 383), env))
for fmt, budget in (("png", None), ("jpeg", 30_000), ("webp", 12_000)):
    print(fmt, hashlib.sha256(encode(image, fmt, budget)).hexdigest())
"""


def test_the_same_card_gives_the_same_bytes_in_every_process(env: jinja2.Environment, fact_set: FactSet) -> None:
    image = stat_image(env, fact_set, "zh", (900, 383))
    here = []
    targets: list[tuple[ImageFormat, int | None]] = [("png", None), ("jpeg", 30_000), ("webp", 12_000)]
    for fmt, budget in targets:
        first = encode(image, fmt, budget)
        MEMO.clear()
        assert encode(image.copy(), fmt, budget) == first
        here.append(f"{fmt} {hashlib.sha256(first).hexdigest()}")
    command = [sys.executable, "-c", ENCODE_IN_A_NEW_PROCESS, str(ROOT)]
    processes = [subprocess.Popen(command, stdout=subprocess.PIPE, text=True) for _ in range(2)]
    runs = [process.communicate(timeout=120)[0].split("\n")[:3] for process in processes]
    assert [process.returncode for process in processes] == [0, 0]
    assert runs[0] == runs[1] == here


def test_the_memo_gives_back_the_same_encoding_and_stays_bounded(env: jinja2.Environment, fact_set: FactSet) -> None:
    image = stat_image(env, fact_set, "en", (900, 383))
    first = encode(image, "png")
    assert encode(image, "png", 1_000_000) is first  # the same object: encoded once
    for quality in range(MEMO_ITEMS + 5):
        other = image.copy()
        other.putpixel((0, 0), (quality, 0, 0))
        encode(other, "png")
    assert len(MEMO) == MEMO_ITEMS


def test_a_card_encoded_by_its_layout_is_the_same_and_needs_no_pixel_hash(
    env: jinja2.Environment, fact_set: FactSet, monkeypatch: pytest.MonkeyPatch
) -> None:
    template, context = load_card_template(STAT), compose.context(fact_set, "zh")
    by_pixels = encode_within(stat_image(env, fact_set, "zh", (900, 383)), "png")
    MEMO.clear()
    monkeypatch.setattr(encoding, "pixel_digest", lambda image: pytest.fail("hashed the pixels"))
    first, alt = encode_card(template, context, (900, 383), env)
    again, _ = encode_card(template, context, (900, 383), env, budget=1_000_000)
    assert first == by_pixels and again.data is first.data and alt  # the same bytes, encoded once
