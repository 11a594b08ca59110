"""A quarter em between Han characters and Latin letters or digits (clreq), measured on real pixels."""

from __future__ import annotations

import functools
import itertools
from pathlib import Path

import jinja2
import pytest
from PIL import Image, ImageDraw

from pipeline.render import fonts, layout_card, load_card_template
from pipeline.render.draw import paint_glyphs, text_glyphs
from pipeline.render.fonts import Shaped
from pipeline.render.layout import Line, Rect, TextBlock, break_lines, tokens

CHAIN = fonts.faces("body", "regular")
SIZES = [18, 23, 40, 64, 101]
CARD = """\
name: probe
alt: "probe"
layers:
  - type: background
    color: "#000000"
  - type: text
    name: body
    box: [0.1, 0.1, {width}, 0.8]
    text: "{{{{ subject }}}}"
    color: "#FFFFFF"
    min_size: 0.05
    max_size: 0.05
    max_lines: 6
"""


def run_inks(text: str, size: int) -> list[tuple[int, int]]:
    """Each run of the line drawn alone by the renderer: the first and last columns of its ink."""
    line = Line(fonts.shape(text, CHAIN, "zh", size), 10, 2 * size)
    block = TextBlock("t", Rect(0, 0, 12 * size, 3 * size), size, "zh", (255, 255, 255, 255), (line,))
    inks = []
    for glyph in text_glyphs(block):
        image = Image.new("RGB", (12 * size, 3 * size))
        paint_glyphs(image, [glyph])
        ink = image.getbbox()
        assert ink is not None
        inks.append((ink[0], ink[2]))
    return inks


def plain_inks(parts: list[str], size: int) -> list[tuple[int, int]]:
    """The same runs drawn by ImageDraw.text one after another at their advances: no gap anywhere."""
    inks, x = [], 10.0
    for part in parts:
        face = fonts.face_for(part[0], CHAIN, "zh")
        font = fonts.freetype(face, size)
        image = Image.new("L", (12 * size, 3 * size))
        ImageDraw.Draw(image).text((round(x), 2 * size), part, font=font, fill=255, anchor="ls", language="zh-Hans")
        ink = image.getbbox()
        assert ink is not None
        inks.append((ink[0], ink[2]))
        x += font.getlength(part, language="zh-Hans")
    return inks


def spaces(inks: list[tuple[int, int]]) -> list[int]:
    """The blank columns between one run's ink and the next one's."""
    return [after[0] - before[1] for before, after in itertools.pairwise(inks)]


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("第1名", ["第", "1", "名"]),
        ("沈阳有23个国际友好城市", ["沈阳有", "23", "个国际友好城市"]),
        ("Shenyang沈阳", ["Shenyang", "沈阳"]),
        ("沈阳Shenyang", ["沈阳", "Shenyang"]),
        ("2023年2月16日", ["2023", "年", "2", "月", "16", "日"]),
    ],
)
def test_a_han_next_to_a_latin_letter_or_digit_is_a_quarter_em_away(text: str, parts: list[str], size: int) -> None:
    shaped = fonts.shape(text, CHAIN, "zh", size)
    assert [run.text for run in shaped.runs] == parts  # the text itself is unchanged
    rendered, plain = spaces(run_inks(text, size)), spaces(plain_inks(parts, size))
    for gap, without in zip(rendered, plain, strict=True):
        assert abs(gap - without - round(size / 4)) <= 1, (text, size, rendered, plain)


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("text", ["第 1 名", "（1）", "1、2", "“A”计划", "Shenyang 沈阳", "《2022》报告", "50%的"])
def test_no_gap_beside_a_space_or_a_punctuation_mark(text: str, size: int) -> None:
    """Every run starts where the one before it ends."""
    shaped = fonts.shape(text, CHAIN, "zh", size)
    assert len(shaped.runs) > 1
    x = 0.0
    for run in shaped.runs:
        assert run.dx == round(x), (text, size, [(r.text, r.dx) for r in shaped.runs])
        x += fonts.freetype(run.face, size).getlength(run.text, language="zh-Hans")


def test_gaps_count_in_the_measured_width_and_so_in_line_breaking() -> None:
    size, text = 40, "沈阳有23个国际友好城市"
    with_gaps = fonts.shape(text, CHAIN, "zh", size).width
    pieces = [fonts.shape(part, CHAIN, "zh", size) for part in ("沈阳有", "23", "个国际友好城市")]
    advances = sum(fonts.freetype(run.face, size).getlength(run.text) for p in pieces for run in p.runs)
    assert abs(with_gaps - (advances + 2 * round(size / 4))) <= 2
    fits = functools.partial(_fits, size)
    assert break_lines(tokens(text, "zh"), lambda line: fits(line, with_gaps), balance=False) == [text]
    assert len(break_lines(tokens(text, "zh"), lambda line: fits(line, with_gaps - 1), balance=False)) == 2


def _fits(size: int, line: str, width: int) -> bool:
    return fonts.shape(line, CHAIN, "zh", size).width <= width


def test_no_gap_at_a_line_start_or_end(example_env: jinja2.Environment, tmp_path: Path) -> None:
    """Broken between 有 and 23, neither line carries the gap: each starts and ends with its own ink."""
    text = "沈阳有23个国际友好城市"
    size, font_size = (1000, 1000), 50
    narrow = fonts.shape("沈阳有", CHAIN, "zh", font_size).width
    path = tmp_path / "probe.yaml"
    path.write_text(CARD.format(width=(narrow + 60) / size[0]), encoding="utf-8")
    card = layout_card(load_card_template(path), {"lang": "zh", "subject": text}, size, example_env)
    [block] = [item for item in card.items if isinstance(item, TextBlock)]
    lines = ["".join(run.text for run in line.shaped.runs) for line in block.lines]
    assert lines[0] == "沈阳有" and lines[1].startswith("23个") and "".join(lines) == text, lines
    for line in block.lines:
        first, last = line.shaped.runs[0], line.shaped.runs[-1]
        assert first.dx == 0 and line.shaped == fonts.shape("".join(r.text for r in line.shaped.runs), CHAIN, "zh", 50)
        ink = fonts.freetype(last.face, font_size).getbbox(last.text, anchor="ls", language="zh-Hans")
        assert line.shaped.bbox[2] == last.dx + int(ink[2])  # the line ends at its last ink, no gap after
        assert line.shaped.bbox[0] == int(fonts.freetype(first.face, font_size).getbbox(first.text, anchor="ls")[0])


def test_the_gap_is_an_offset_of_the_next_run_not_a_character() -> None:
    shaped: Shaped = fonts.shape("第1名", CHAIN, "zh", 40)
    assert "".join(run.text for run in shaped.runs) == "第1名"
    first = fonts.freetype(shaped.runs[0].face, 40).getlength("第")
    assert shaped.runs[1].dx == round(first) + 10
