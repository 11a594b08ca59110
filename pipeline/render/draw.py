"""draw() and encode(): a CardLayout painted with Pillow, then PNG bytes with no metadata.

Painting order is layer order. Backgrounds and shapes depend only on the template and the size,
so they are painted once into a base image, cached, and each card starts from a copy of it. A
shape can join the base only if no text block painted before it touches its rectangle (disjoint
paints commute, so the result is the same pixels); the first shape that overlaps such text, and
everything after it, is painted on the copy in layer order. Text that an earlier card drew too
(the city, a label, the source line, while only the figure changes) is held: painted once onto a
cached copy of the base, if it touches nothing painted before it that is not held (split_held).
Text is painted from cached masks (getmask2() with the arguments ImageDraw.text() uses) pasted in
the text colour, which gives the pixels ImageDraw.text() gives (see paint_glyphs); emoji from their
own colour tiles (emoji.py), pasted through their alpha. All caches are bounded LRUs (cache.py);
their limits are the constants below and emoji.TILES (BASES holds one template's bases at the four
channel sizes, 15 MB, or two 1080x1350 bases with their held text; a larger BASES only raised the
peak memory of batches that cycle through more templates and sizes than it could hold anyway).
"""

from __future__ import annotations

import io
import math
import struct
from collections.abc import Iterable, Sequence

from PIL import Image, ImageDraw
from zlib_ng import zlib_ng

from . import emoji, fonts
from .cache import LRU
from .fonts import Run
from .layout import RGBA, CardLayout, ImageBox, Item, Line, ShapeBox, TextBlock, rgba
from .template import BackgroundLayer, Gradient

SUPERSAMPLE = 4  # corners of rounded shapes are drawn this much larger, then reduced
SCALE = 8  # gradients are computed on a grid this much coarser
PNG_LEVEL = 7  # zlib-ng level; rows are stored unfiltered (see encode_png)
PNG_BAND = 64  # rows taken from the image at a time while encoding
MB = 1 << 20

Box = tuple[int, int, int, int]
Static = BackgroundLayer | ShapeBox | ImageBox  # depends only on the template, the size and image files
# A run ready to paint: the box its mask covers, the mask ("L", or an emoji's "RGBA" tile), and what
# shows through it (the RGB text colour, or the emoji tile itself).
Glyphs = tuple[Box, Image.Image, tuple[int, int, int] | Image.Image]


def _image_bytes(image: Image.Image) -> int:
    return image.width * image.height * (1 if image.mode in ("1", "L", "P") else 4)


def _mask_bytes(entry: tuple[Image.Image, tuple[int, int]]) -> int:
    return entry[0].width * entry[0].height + 200


BASES: LRU[tuple[object, ...], Image.Image] = LRU("draw.bases", max_items=16, max_bytes=16 * MB, weigh=_image_bytes)
MASKS: LRU[tuple[object, ...], tuple[Image.Image, tuple[int, int]]] = LRU(
    "draw.text_masks", max_items=4096, max_bytes=12 * MB, weigh=_mask_bytes
)
ROUNDED: LRU[tuple[object, ...], Image.Image] = LRU(
    "draw.rounded_masks", max_items=64, max_bytes=8 * MB, weigh=_image_bytes
)
SEEN: LRU[TextBlock, bool] = LRU("draw.seen_text", max_items=256)  # text blocks drawn lately
REQUESTS: LRU[tuple[object, ...], bool] = LRU("draw.held_requests", max_items=4)  # held text asked for lately
PICTURES: LRU[tuple[object, ...], tuple[Image.Image, tuple[int, int]]] = LRU(
    "draw.pictures", max_items=32, max_bytes=48 * MB, weigh=lambda entry: _image_bytes(entry[0])
)


def draw_card(layout: CardLayout) -> Image.Image:
    glyphs = {i: text_glyphs(item) for i, item in enumerate(layout.items) if isinstance(item, TextBlock)}
    static, rest = split_static(layout.items, glyphs, layout.size)
    key = (layout.size, *(_static_key(item) for item in static))
    base = BASES.get(key)
    if base is None:
        base = BASES.put(key, paint_base(layout.size, static))
    held, kept = split_held(layout.items, rest, glyphs, layout.size)
    overlay = with_held_text(base, key, [(layout.items[i], glyphs[i]) for i in held]) if held else None
    base, rest = (base, rest) if overlay is None else (overlay, kept)
    for item in layout.items:
        if isinstance(item, TextBlock):
            SEEN.put(item, True)
    image = base.copy()
    for index in rest:
        item = layout.items[index]
        if isinstance(item, TextBlock):
            paint_glyphs(image, glyphs[index])
        else:
            paint(image, item)
    return image


def split_held(
    items: Sequence[Item], rest: list[int], glyphs: dict[int, list[Glyphs]], size: tuple[int, int]
) -> tuple[list[int], list[int]]:
    """The text blocks of `rest` that may be painted onto the base before the others (`held`), and
    the others. A block is held if an earlier card drew it too (it is in SEEN) and it misses every
    item of the others painted before it, so painting it first gives the same pixels."""
    held: list[int] = []
    kept: list[int] = []
    before: list[Box] = []
    for index in rest:
        item = items[index]
        boxes = [box for box, _, _ in glyphs[index]] if isinstance(item, TextBlock) else [_area(item, size)]
        if isinstance(item, TextBlock) and item in SEEN and not any(_overlap(a, b) for a in boxes for b in before):
            held.append(index)
        else:
            kept.append(index)
            before += boxes
    return held, kept


def with_held_text(
    base: Image.Image, key: tuple[object, ...], held: list[tuple[Item, list[Glyphs]]]
) -> Image.Image | None:
    """The base with the held text painted on it, made and cached the second time one of the last
    few cards asks for it (a text that changes from card to card is never held, see split_held)."""
    held_key = (key, *(item for item, _ in held))
    overlay = BASES.get(held_key)
    if overlay is None and REQUESTS.get(held_key) is None:
        REQUESTS.put(held_key, True)
        return None
    if overlay is None:
        overlay = base.copy()
        for _, glyphs in held:
            paint_glyphs(overlay, glyphs)
        overlay = BASES.put(held_key, overlay)
    return overlay


def paint_base(size: tuple[int, int], static: Sequence[Static]) -> Image.Image:
    """A white canvas with `static` painted in order; a first background is the canvas itself
    (it covers every pixel), which saves painting a full-size image onto another."""
    first = static[0] if static else None
    if isinstance(first, BackgroundLayer) and first.gradient is not None:
        base, static = gradient(size, first.gradient), static[1:]
    elif isinstance(first, BackgroundLayer) and first.color is not None:
        base, static = Image.new("RGB", size, rgba(first.color, 1)[:3]), static[1:]
    else:
        base = Image.new("RGB", size, "white")
    for layer in static:
        paint(base, layer)
    return base


def split_static(
    items: Sequence[Item], glyphs: dict[int, list[Glyphs]], size: tuple[int, int]
) -> tuple[list[Static], list[int]]:
    """The backgrounds and shapes that can be painted first (the base), and the indexes of the rest.

    A background or shape moves into the base while its area misses every text mask painted
    before it; from the first one that does not, everything stays in layer order.
    """
    static: list[Static] = []
    rest: list[int] = []
    text_boxes: list[Box] = []
    in_order = False  # once one background or shape keeps its place, every later item does too
    for index, item in enumerate(items):
        if isinstance(item, TextBlock):
            rest.append(index)
            text_boxes += [box for box, _, _ in glyphs[index]]
        elif not in_order and _clear(item, text_boxes, size):
            static.append(item)
        else:
            in_order = True
            rest.append(index)
    return static, rest


def _clear(item: Static, boxes: Iterable[Box], size: tuple[int, int]) -> bool:
    area = _area(item, size)
    return not any(_overlap(area, box) for box in boxes)


def _area(item: Static, size: tuple[int, int]) -> Box:
    """The pixels a background, shape or picture may paint."""
    return (0, 0, *size) if isinstance(item, BackgroundLayer) else _rect(item)


def _rect(shape: ShapeBox | ImageBox) -> Box:
    rect = shape.rect
    return rect.x, rect.y, rect.right, rect.bottom


def _overlap(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3] and a[0] < a[2] and b[0] < b[2]


def _static_key(item: Static) -> object:
    if isinstance(item, ShapeBox | ImageBox):
        return item
    gradient = item.gradient
    return ("background", item.color, gradient and (gradient.angle, tuple(gradient.stops)))


def paint(image: Image.Image, item: Item) -> None:
    if isinstance(item, BackgroundLayer):
        paint_background(image, item)
    elif isinstance(item, ShapeBox):
        paint_shape(image, item)
    elif isinstance(item, ImageBox):
        paint_image(image, item)
    else:
        paint_text(image, item)


def encode_png(image: Image.Image, *, level: int = PNG_LEVEL) -> bytes:
    """PNG bytes that depend only on the pixels: no timestamps, no text chunks.

    L, RGB and RGBA images are written here: every row unfiltered (filter type 0), one zlib
    stream at `level`. Cards are flat colours, gradients and text, whose rows repeat, so deflate
    does better on raw rows than on Pillow's per-row adaptive filters, and skipping the filter
    search halves the time (on the example cards: 7% smaller, 1.8x faster than Pillow at level 6).
    The stream is zlib-ng's: at level 7 it is 1.6x faster than zlib at 6 for about the same size
    (the stat card 1% smaller, the 40 example cards 0.5% larger). Other modes go through Pillow.
    The same pixels always give the same bytes (with the same zlib-ng build, as with zlib).
    """
    colour_type = {"L": 0, "RGB": 2, "RGBA": 6}.get(image.mode)
    if colour_type is None:
        buffer = io.BytesIO()
        image.save(buffer, "PNG", optimize=False, compress_level=level)
        return buffer.getvalue()
    width, height = image.size
    stride = width * len(image.getbands())
    compressor = zlib_ng.compressobj(level)
    parts = []
    for top in range(0, height, PNG_BAND):  # a band at a time: no full-size copy of the pixels
        band = memoryview(image.crop((0, top, width, min(height, top + PNG_BAND))).tobytes())
        rows = (band[start : start + stride] for start in range(0, len(band), stride))
        parts.append(compressor.compress(b"\0" + b"\0".join(rows)))  # filter type 0 before every row
    parts.append(compressor.flush())
    header = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    return b"".join(
        (b"\x89PNG\r\n\x1a\n", _chunk(b"IHDR", header), _chunk(b"IDAT", b"".join(parts)), _chunk(b"IEND", b""))
    )


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib_ng.crc32(kind + data))


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


def paint_image(image: Image.Image, box: ImageBox) -> None:
    """The picture fitted to its box, its own transparency times the layer's opacity and rounded corners."""
    picture, (dx, dy) = fitted_picture(box)
    alpha = picture.getchannel("A")
    if box.radius or box.opacity < 1:
        from PIL import ImageChops  # pictures are rare: not imported for every process

        alpha = ImageChops.multiply(alpha, rounded_mask(picture.size, box.radius, round(255 * box.opacity)))
    image.paste(picture.convert("RGB"), (box.rect.x + dx, box.rect.y + dy), alpha)


def fitted_picture(box: ImageBox) -> tuple[Image.Image, tuple[int, int]]:
    """The image file scaled for the box (RGBA, cached) and where it sits in the box: `cover` fills the
    box and crops around the focus; `contain` shows all of it, centred."""
    key = (box.path, box.stamp, box.rect.w, box.rect.h, box.fit, box.focus)
    fitted = PICTURES.get(key)
    if fitted is None:
        from PIL import ImageOps  # not imported for cards without pictures

        with Image.open(box.path) as source:
            fitted = PICTURES.put(key, _fit_picture(ImageOps.exif_transpose(source).convert("RGBA"), box))
    return fitted


def _fit_picture(source: Image.Image, box: ImageBox) -> tuple[Image.Image, tuple[int, int]]:
    width, height = box.rect.w, box.rect.h
    cover = box.fit == "cover"
    scale = (max if cover else min)(width / source.width, height / source.height)
    scaled = (max(1, round(source.width * scale)), max(1, round(source.height * scale)))
    resized = source.resize(scaled, Image.Resampling.LANCZOS)
    if not cover:
        return resized, ((width - scaled[0]) // 2, (height - scaled[1]) // 2)
    left = _crop_start(scaled[0], width, box.focus[0])
    top = _crop_start(scaled[1], height, box.focus[1])
    return resized.crop((left, top, left + width, top + height)), (0, 0)


def _crop_start(scaled: int, wanted: int, focus: float) -> int:
    """Where a crop of `wanted` pixels starts so that `focus` (a fraction) is as central as the edges allow."""
    return max(0, min(scaled - wanted, round(focus * scaled - wanted / 2)))


def rounded_mask(size: tuple[int, int], radius: int, alpha: int) -> Image.Image:
    """An antialiased rounded-rectangle mask, cached: callers must not change it.

    One corner is drawn SUPERSAMPLE times larger (the top-left quarter of the circle, clipped by
    its image) and reduced, then mirrored into the other three: the same pixels as reducing the
    whole circle, for a sixteenth of the supersampled area.
    """
    radius = max(0, min(radius, size[0] // 2, size[1] // 2))
    key = (size, radius, alpha)
    mask = ROUNDED.get(key)
    if mask is not None:
        return mask
    mask = Image.new("L", size, alpha)
    if radius > 0:
        big = Image.new("L", (radius * SUPERSAMPLE,) * 2, 0)
        ImageDraw.Draw(big).ellipse((0, 0, 2 * radius * SUPERSAMPLE - 1, 2 * radius * SUPERSAMPLE - 1), fill=alpha)
        corner = big.resize((radius, radius), Image.Resampling.BOX)
        right, bottom = size[0] - radius, size[1] - radius
        mask.paste(corner, (0, 0))
        mask.paste(corner.transpose(Image.Transpose.FLIP_LEFT_RIGHT), (right, 0))
        mask.paste(corner.transpose(Image.Transpose.FLIP_TOP_BOTTOM), (0, bottom))
        mask.paste(corner.transpose(Image.Transpose.ROTATE_180), (right, bottom))
    return ROUNDED.put(key, mask)


def paint_text(image: Image.Image, block: TextBlock) -> None:
    paint_glyphs(image, text_glyphs(block))


def text_glyphs(block: TextBlock) -> list[Glyphs]:
    """Every run of a block as (mask box, mask, colour or emoji tile), masks and tiles from caches."""
    language = fonts.LANGUAGE[block.lang]
    ink = _ink(block.color)
    return [_run_glyphs(block, line, run, language, ink) for line in block.lines for run in line.shaped.runs]


def _run_glyphs(block: TextBlock, line: Line, run: Run, language: str, ink: int) -> Glyphs:
    if run.face == fonts.EMOJI:
        mask, (dx, dy) = emoji.tile(fonts.strike(), run.text, block.size, block.opacity)
        fill: tuple[int, int, int] | Image.Image = mask
    else:
        mask, (dx, dy) = text_mask(run, block.size, language, ink, block.color[3])
        fill = block.color[:3]
    x, y = line.x + run.dx + dx, line.baseline + dy
    return (x, y, x + mask.width, y + mask.height), mask, fill


def text_mask(run: Run, size: int, language: str, ink: int, alpha: int) -> tuple[Image.Image, tuple[int, int]]:
    """What ImageDraw.text(position, run, fill=color, anchor="ls", language=...) renders (getmask2 with
    the same arguments), remembered per (face, size, text, language), faded by the text's alpha."""
    key = (run.face, size, run.text, language)
    entry = MASKS.get(key)
    if entry is None:
        font = fonts.freetype(run.face, size)
        core, offset = font.getmask2(run.text, "L", None, None, language, 0, "ls", ink, (0.0, 0.0), stroke_filled=True)
        entry = MASKS.put(key, (Image.Image()._new(core), offset))  # how Image wraps its cores
    return (_faded(entry, key, alpha), entry[1]) if alpha < 255 else entry


def _faded(entry: tuple[Image.Image, tuple[int, int]], key: tuple[object, ...], alpha: int) -> Image.Image:
    """The run's mask scaled by the text's opacity (cached beside the mask itself)."""
    faded = MASKS.get((*key, alpha))
    if faded is None:
        mask, offset = entry
        faded = MASKS.put((*key, alpha), (mask.point(lambda level: (level * alpha + 127) // 255), offset))
    return faded[0]


def paint_glyphs(image: Image.Image, glyphs: Iterable[Glyphs]) -> None:
    """Paste the colour through each mask: the pixels ImageDraw.text's draw_bitmap() gives.

    The text's opacity is already in its mask (ImageDraw.text on an RGB image would ignore it).
    Pasting a solid patch through the mask is about three times faster than draw_bitmap;
    tests/unit/test_render_speed_paths.py checks both agree. An emoji tile is pasted through its
    own alpha.
    """
    for box, mask, fill in glyphs:
        if mask.width and mask.height:
            image.paste(fill if isinstance(fill, Image.Image) else Image.new("RGB", mask.size, fill), box, mask)


def _ink(color: RGBA) -> int:
    """The ink ImageDraw.text passes to getmask2 for an RGBA fill on an RGB image."""
    return int(_INK_DRAW.draw.draw_ink(color))


_INK_DRAW = ImageDraw.Draw(Image.new("RGB", (1, 1)), "RGBA")
