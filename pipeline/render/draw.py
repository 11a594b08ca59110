"""draw() and encode(): a CardLayout painted with Pillow, then PNG bytes with no metadata."""

from __future__ import annotations

import io
import math

from PIL import Image, ImageDraw

from . import fonts
from .layout import RGBA, CardLayout, ShapeBox, TextBlock, rgba
from .template import BackgroundLayer, Gradient

SUPERSAMPLE = 4  # corners of rounded shapes are drawn this much larger, then reduced
SCALE = 8  # gradients are computed on a grid this much coarser


def draw_card(layout: CardLayout) -> Image.Image:
    image = Image.new("RGB", layout.size, "white")
    for item in layout.items:
        if isinstance(item, BackgroundLayer):
            paint_background(image, item)
        elif isinstance(item, ShapeBox):
            paint_shape(image, item)
        else:
            paint_text(image, item)
    return image


def encode_png(image: Image.Image) -> bytes:
    """PNG bytes that depend only on the pixels: no timestamps, no text chunks."""
    buffer = io.BytesIO()
    image.save(buffer, "PNG", optimize=False, compress_level=6)
    return buffer.getvalue()


def paint_background(image: Image.Image, layer: BackgroundLayer) -> None:
    if layer.gradient is not None:
        image.paste(gradient(image.size, layer.gradient), (0, 0))
    elif layer.color is not None:
        image.paste(rgba(layer.color, 1)[:3], (0, 0, *image.size))


def gradient(size: tuple[int, int], spec: Gradient) -> Image.Image:
    """A CSS-style linear gradient: stops evenly spaced along a line at `angle` degrees.

    The position t along the line is linear in x and y, so it is computed on a grid SCALE times
    coarser (with a one-cell margin) and enlarged bilinearly, which reproduces it exactly. The
    256 grey levels hold t in [-margin, 1 + margin] so the margin needs no clipping.
    """
    width, height = size
    margin = 3 * SCALE / _line_length(size, spec.angle)
    coarse = (math.ceil(width / SCALE) + 2, math.ceil(height / SCALE) + 2)
    matrix = _ramp_matrix(size, spec.angle, margin)
    ramp = Image.linear_gradient("L").transform(coarse, Image.Transform.AFFINE, matrix, Image.Resampling.BILINEAR)
    ramp = ramp.resize(size, Image.Resampling.BILINEAR, box=(1, 1, 1 + width / SCALE, 1 + height / SCALE))
    stops = [rgba(stop, 1) for stop in spec.stops]
    positions = (min(1.0, max(0.0, -margin + value / 255 * (1 + 2 * margin))) for value in range(256))
    ramp.putpalette([level for t in positions for level in _colour_at(stops, t)])
    return ramp.convert("RGB")


def _line_length(size: tuple[int, int], angle: float) -> float:
    """CSS: the gradient line is as long as the box's projection on it."""
    radians = math.radians(angle)
    return abs(size[0] * math.sin(radians)) + abs(size[1] * math.cos(radians))


def _ramp_matrix(size: tuple[int, int], angle: float, margin: float) -> tuple[float, ...]:
    """Maps a point of the coarse grid to the ramp row holding its position t on the gradient line.

    Full size X = SCALE * (coarse x - 1); t = ((X - W/2) sin - (Y - H/2) cos) / L + 1/2;
    row = 1/2 + 255 (t + margin) / (1 + 2 margin).
    """
    width, height = size
    sin, cos = math.sin(math.radians(angle)), -math.cos(math.radians(angle))
    scale = 255 / (1 + 2 * margin) / _line_length(size, angle)
    offset = 0.5 + 255 * (0.5 + margin) / (1 + 2 * margin)
    offset += scale * ((-SCALE - width / 2) * sin + (-SCALE - height / 2) * cos)
    return 0.0, 0.0, 128.0, scale * SCALE * sin, scale * SCALE * cos, offset


def _colour_at(stops: list[RGBA], position: float) -> tuple[int, int, int]:
    """The colour at `position` (0..1) between evenly spaced stops."""
    scaled = position * (len(stops) - 1)
    index = min(int(scaled), len(stops) - 2)
    share = scaled - index
    r, g, b = (round(stops[index][c] * (1 - share) + stops[index + 1][c] * share) for c in range(3))
    return r, g, b


def paint_shape(image: Image.Image, shape: ShapeBox) -> None:
    rect = shape.rect
    mask = rounded_mask((rect.w, rect.h), shape.radius, shape.color[3])
    image.paste(shape.color[:3], (rect.x, rect.y, rect.right, rect.bottom), mask)


def rounded_mask(size: tuple[int, int], radius: int, alpha: int) -> Image.Image:
    """An antialiased rounded-rectangle mask: corners drawn large and scaled down."""
    mask = Image.new("L", size, alpha)
    radius = min(radius, size[0] // 2, size[1] // 2)
    if radius <= 0:
        return mask
    big = Image.new("L", (2 * radius * SUPERSAMPLE,) * 2, 0)
    ImageDraw.Draw(big).ellipse((0, 0, big.width - 1, big.height - 1), fill=alpha)
    circle = big.resize((2 * radius, 2 * radius), Image.Resampling.BOX)
    right, bottom = size[0] - radius, size[1] - radius
    for (x, y), (cx, cy) in zip(
        ((0, 0), (right, 0), (0, bottom), (right, bottom)),
        ((0, 0), (radius, 0), (0, radius), (radius, radius)),
        strict=True,
    ):
        mask.paste(circle.crop((cx, cy, cx + radius, cy + radius)), (x, y))
    return mask


def paint_text(image: Image.Image, block: TextBlock) -> None:
    draw = ImageDraw.Draw(image, "RGBA")
    language = fonts.LANGUAGE[block.lang]
    for line in block.lines:
        for run in line.shaped.runs:
            font = fonts.freetype(run.face, block.size)
            position = (line.x + run.dx, line.baseline)
            draw.text(position, run.text, font=font, fill=block.color, anchor="ls", language=language)
