"""fit(): the pure half of rendering. Boxes in pixels, lines broken, the largest size that fits.

Nothing here touches pixels: the result is a CardLayout that draw.py paints. Text is placed by
its measured bounding box, so every line's box lies inside its text box by construction.

Two bounded caches make a warm layout cheap: compiled Jinja fields (by environment and source;
jinja2 does not cache from_string) and fitted text blocks (by text, box and every layer setting
fit() reads). Failures are never cached: they are computed again and raise as before.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import jinja2

from ..errors import RenderError, TextDoesNotFit
from . import fonts
from .cache import LRU
from .fonts import Shaped
from .template import (
    BackgroundLayer,
    CardTemplate,
    ImageLayer,
    Layer,
    Localized,
    ShapeLayer,
    TextLayer,
    parse_colour,
)

RGBA = tuple[int, int, int, int]
Attempt = tuple[list[Shaped], str]  # the lines shaped at one size and "", or [] and why they do not fit
NO_START = frozenset("，。！？、；：”’）》」』】〕〉…%·.,!?;:)]}")
NO_END = frozenset("“‘（《「『【〔〈([{")
WORD = re.compile(r"[0-9A-Za-z\u00C0-\u024F]+(?:[-.,:/'’+][0-9A-Za-z\u00C0-\u024F]+)*")
COMPILED: LRU[tuple[jinja2.Environment, str], jinja2.Template] = LRU("layout.fields", max_items=512)
FITTED: LRU[tuple[Any, ...], TextBlock] = LRU("layout.fitted", max_items=2048)


class Rect(NamedTuple):
    x: int
    y: int
    w: int
    h: int

    @property
    def right(self) -> int:
        return self.x + self.w

    @property
    def bottom(self) -> int:
        return self.y + self.h

    def contains(self, box: tuple[int, int, int, int]) -> bool:
        return self.x <= box[0] and self.y <= box[1] and box[2] <= self.right and box[3] <= self.bottom


class Line(NamedTuple):
    """A shaped line whose baseline origin is at (x, baseline)."""

    shaped: Shaped
    x: int
    baseline: int

    @property
    def bbox(self) -> tuple[int, int, int, int]:
        left, top, right, bottom = self.shaped.bbox
        return left + self.x, top + self.baseline, right + self.x, bottom + self.baseline


@dataclass(frozen=True)
class TextBlock:
    """Lines of text in one size and colour; `opacity` (the layer's, 0-255) is what fades emoji,
    which keep their own colours."""

    name: str
    box: Rect
    size: int
    lang: str
    color: RGBA
    lines: tuple[Line, ...]
    opacity: int = 255
    _hash: int = field(init=False, repr=False, compare=False, default=0)

    def __post_init__(self) -> None:  # blocks key the draw caches on every card: hash them once
        object.__setattr__(self, "_hash", hash(self._fields()))

    def __hash__(self) -> int:
        return self._hash

    def __reduce__(self) -> tuple[type[TextBlock], tuple[Any, ...]]:  # a string's hash is per process
        return TextBlock, self._fields()

    def _fields(self) -> tuple[Any, ...]:
        return self.name, self.box, self.size, self.lang, self.color, self.lines, self.opacity


class ShapeBox(NamedTuple):
    rect: Rect
    radius: int
    color: RGBA


class ImageBox(NamedTuple):
    """A picture placed in pixels; `stamp` (modification time, byte size) keys caches to the file's content."""

    rect: Rect
    path: str
    stamp: tuple[int, int]
    fit: str
    focus: tuple[float, float]
    radius: int
    opacity: float


Item = BackgroundLayer | ShapeBox | ImageBox | TextBlock


class CardLayout(NamedTuple):
    size: tuple[int, int]
    items: tuple[Item, ...]
    alt: str


class Token(NamedTuple):
    """An unbreakable piece of text; `space` says a space separates it from the one before."""

    text: str
    space: bool


class _TooWide(Exception):
    def __init__(self, token: str) -> None:
        self.token = token


def layout_card(
    template: CardTemplate, context: Mapping[str, Any], size: tuple[int, int], env: jinja2.Environment
) -> CardLayout:
    """Every layer placed in pixels, text fitted; raises TextDoesNotFit or RenderError."""
    if context.get("lang") not in fonts.LANGUAGE:
        raise RenderError(f"{template.name}: context lang must be 'en' or 'zh', not {context.get('lang')!r}")
    items = tuple(_item(template, i, layer, context, size, env) for i, layer in enumerate(template.layers))
    return CardLayout(size, items, render_field(template, ("alt",), template.alt, context, env))


def render_field(
    template: CardTemplate,
    loc: tuple[str | int, ...],
    field: Localized,
    context: Mapping[str, Any],
    env: jinja2.Environment,
) -> str:
    """template.render_field() with the compiled field cached; any failure goes through the original
    so that its error (file, line, message) is exactly the same."""
    lang = context.get("lang")
    source = field if isinstance(field, str) else field.get(lang) if lang in ("en", "zh") else None
    if source is None:
        return template.render_field(loc, field, context, env)
    try:
        compiled = COMPILED.get((env, source))
        if compiled is None:
            compiled = COMPILED.put((env, source), env.from_string(source))
        return compiled.render(context).strip()
    except Exception:
        return template.render_field(loc, field, context, env)


def _item(
    template: CardTemplate,
    index: int,
    layer: Layer,
    context: Mapping[str, Any],
    size: tuple[int, int],
    env: jinja2.Environment,
) -> Item:
    if isinstance(layer, BackgroundLayer):
        if layer.image is None:
            return layer
        return picture(template, layer.image, Rect(0, 0, *size), "cover", layer.focus, 0, 1.0)
    box = place(layer.box, frame_rect(layer.frame, size))
    if isinstance(layer, ShapeLayer):
        return ShapeBox(box, round(layer.radius * min(size)), rgba(layer.color, layer.opacity))
    if isinstance(layer, ImageLayer):
        radius = round(layer.radius * min(size))
        return picture(template, layer.src, box, layer.fit, layer.focus, radius, layer.opacity)
    text = render_field(template, ("layers", index, "text"), layer.text, context, env)
    return fit(template.name, layer, text, box, min(size), str(context["lang"]))


def picture(
    template: CardTemplate,
    src: str,
    rect: Rect,
    fit: str,
    focus: tuple[float, float],
    radius: int,
    opacity: float,
) -> ImageBox:
    path = template.images[src]
    try:
        stat = path.stat()
    except OSError as exc:
        raise RenderError(f"{template.name}: image {src} is gone ({exc.strerror})") from None
    return ImageBox(rect, str(path), (stat.st_mtime_ns, stat.st_size), fit, focus, radius, opacity)


def rgba(colour: str, opacity: float) -> RGBA:
    r, g, b, a = parse_colour(colour)
    return r, g, b, round(a * opacity)


def frame_rect(frame: str, size: tuple[int, int]) -> Rect:
    """The whole canvas, or its central square."""
    width, height = size
    if frame == "canvas":
        return Rect(0, 0, width, height)
    side = min(size)
    return Rect((width - side) // 2, (height - side) // 2, side, side)


def place(box: tuple[float, float, float, float], frame: Rect) -> Rect:
    """A fractional [x, y, w, h] box in whole pixels of its frame."""
    x0, y0 = round(box[0] * frame.w), round(box[1] * frame.h)
    x1, y1 = round((box[0] + box[2]) * frame.w), round((box[1] + box[3]) * frame.h)
    return Rect(frame.x + x0, frame.y + y0, x1 - x0, y1 - y0)


def fit(template_name: str, layer: TextLayer, text: str, box: Rect, unit: int, lang: str) -> TextBlock:
    """The text at the largest size in [min_size, max_size] that fits the box in max_lines."""
    key = (*_fit_settings(layer), text, box, unit, lang)
    block = FITTED.get(key)
    if block is None:
        block = FITTED.put(key, _fit(template_name, layer, text, box, unit, lang))
    return block


def _fit_settings(layer: TextLayer) -> tuple[object, ...]:
    """Every layer setting fit() reads (the layer's text is not one: it comes rendered)."""
    return (
        layer.name,
        layer.font,
        layer.weight,
        layer.color,
        layer.opacity,
        layer.min_size,
        layer.max_size,
        layer.max_lines,
        layer.align,
        layer.valign,
        layer.line_height,
        layer.balance,
    )


def _fit(template_name: str, layer: TextLayer, text: str, box: Rect, unit: int, lang: str) -> TextBlock:
    low = max(1, math.ceil(layer.min_size * unit))
    high = max(low, math.floor(layer.max_size * unit))

    def at(size: int) -> Attempt:
        return attempt(layer, text, box, size, lang)

    size, lines, reason = largest_fitting(at, low, high, lambda: estimate(layer, text, box, high, lang))
    if reason:
        raise TextDoesNotFit(template_name, layer.name, f"at the smallest size ({low}px) {reason}")
    placed = place_lines(lines, layer, box, size)
    colour = rgba(layer.color, layer.opacity)
    return TextBlock(layer.name, box, size, lang, colour, placed, round(255 * layer.opacity))


def largest_fitting(
    at: Callable[[int], Attempt], low: int, high: int, guess: Callable[[], int]
) -> tuple[int, list[Shaped], str]:
    """The largest size in [low, high] at which `at` fits the text, with its lines; or `low` and the
    reason it does not fit there. `high` goes first (a short text fits at once); then sizes from
    guess() on, stepping 1, 2, 4... sizes further the way the last one pointed, until the answer
    lies between two sizes tried; then that range is halved. Assumes a size fits if a larger one does."""
    lines, reason = at(high)
    if not reason or low == high:
        return high, lines, reason
    fits, fails, best = low - 1, high, lines  # low - 1 (and no lines): no size found to fit yet
    probe, step = guess(), 1
    while fails - fits > 1:
        probe = min(max(probe, fits + 1), fails - 1)
        lines, reason = at(probe)
        fits, fails, best = (fits, probe, best) if reason else (probe, fails, lines)
        bracketed = low <= fits and fails < high  # the answer lies between two sizes tried
        probe = (fits + fails) // 2 if bracketed else probe + (-step if reason else step)
        step *= 2
    return (fits, best, "") if fits >= low else (low, [], reason)


def estimate(layer: TextLayer, text: str, box: Rect, size: int, lang: str) -> int:
    """About the largest size that fits: widths and heights grow with the size, so each paragraph set
    on one line at `size` tells how far to scale it to fit max_lines lines of the box."""
    chain = fonts.faces(layer.font, layer.weight)
    shaped = [fonts.shape(para, chain, lang, size) for para in text.split("\n")]
    widths = [line.width for line in shaped]
    top, bottom = extent(shaped, pitch(layer, size))
    scale = min(box.w / max(1, *widths), box.w * layer.max_lines / max(1, sum(widths)), box.h / max(1, bottom - top))
    return math.floor(size * scale)


def attempt(layer: TextLayer, text: str, box: Rect, size: int, lang: str) -> Attempt:
    """The shaped lines at one size, or the reason they do not fit."""
    chain = fonts.faces(layer.font, layer.weight)

    def fits(line: str) -> bool:
        return fonts.shape(line, chain, lang, size).width <= box.w

    try:
        broken = [line for para in text.split("\n") for line in break_lines(tokens(para, lang), fits, layer.balance)]
    except _TooWide as exc:
        width = fonts.shape(exc.token, chain, lang, size).width
        return [], f"{exc.token!r} is {width}px wide; the box is {box.w}px"
    if len(broken) > layer.max_lines:
        return [], f"the text needs {len(broken)} lines; max_lines is {layer.max_lines}"
    shaped = [fonts.shape(line, chain, lang, size) for line in broken]
    top, bottom = extent(shaped, pitch(layer, size))
    if bottom - top > box.h:
        return [], f"the text is {bottom - top}px tall; the box is {box.h}px"
    return shaped, ""


def pitch(layer: TextLayer, size: int) -> int:
    return round(layer.line_height * size)


def extent(lines: list[Shaped], step: int) -> tuple[int, int]:
    """Top and bottom of the ink of lines set `step` pixels apart, relative to the first baseline."""
    boxes = [(i * step + s.bbox[1], i * step + s.bbox[3]) for i, s in enumerate(lines) if s.runs]
    return (min(b[0] for b in boxes), max(b[1] for b in boxes)) if boxes else (0, 0)


def place_lines(lines: list[Shaped], layer: TextLayer, box: Rect, size: int) -> tuple[Line, ...]:
    step = pitch(layer, size)
    top, bottom = extent(lines, step)
    offsets = {"top": box.y - top, "middle": box.y + (box.h - bottom + top) // 2 - top, "bottom": box.bottom - bottom}
    first = offsets[layer.valign]
    return tuple(Line(s, _line_x(s, layer.align, box), first + i * step) for i, s in enumerate(lines))


def _line_x(line: Shaped, align: str, box: Rect) -> int:
    if align == "left":
        return box.x - line.bbox[0]
    if align == "right":
        return box.right - line.bbox[2]
    return box.x + (box.w - line.width) // 2 - line.bbox[0]


def tokens(paragraph: str, lang: str) -> list[Token]:
    """English breaks at spaces; Chinese between characters, keeping Latin words and digits whole."""
    if lang != "zh":
        return [Token(word, True) for word in paragraph.split()]
    raw: list[Token] = []
    position, space = 0, False
    while position < len(paragraph):
        if paragraph[position].isspace():
            position, space = position + 1, True
            continue
        end = _token_end(paragraph, position)
        raw.append(Token(paragraph[position:end], space))
        position, space = end, False
    return kinsoku(raw)


def _token_end(text: str, start: int) -> int:
    match = WORD.match(text, start)
    end = match.end() if match else start + 1
    while end < len(text) and fonts.continues(text[start:end], text[end]):
        end += 1  # keep marks, joiners, emoji sequences and flags whole
    return end


def kinsoku(raw: list[Token]) -> list[Token]:
    """Glue closing punctuation to the token before it and opening punctuation to the one after."""
    result: list[Token] = []
    for token in raw:
        glue = bool(result) and (result[-1].text[-1] in NO_END or (token.text[0] in NO_START and not token.space))
        if glue:
            joined = result[-1].text + (" " if token.space else "") + token.text
            result[-1] = Token(joined, result[-1].space)
        else:
            result.append(token)
    return result


def break_lines(pieces: list[Token], fits: Callable[[str], bool], balance: bool) -> list[str]:
    """Greedy breaking; with `balance`, the narrowest width that keeps the same number of lines."""
    lines = greedy(pieces, fits)
    if not balance or len(lines) < 2:
        return lines
    low, high = 1, max(_chars(line) for line in lines)
    while low < high:
        middle = (low + high) // 2
        narrower = _within(pieces, fits, middle)
        if narrower and len(narrower) <= len(lines):
            high = middle
        else:
            low = middle + 1
    return _within(pieces, fits, low) or lines


def _within(pieces: list[Token], fits: Callable[[str], bool], limit: int) -> list[str]:
    """Greedy lines no longer than `limit` (in _chars), or [] if a piece alone is longer."""
    try:
        return greedy(pieces, lambda line: fits(line) and _chars(line) <= limit)
    except _TooWide:
        return []


def _chars(line: str) -> int:
    """A width proxy for balancing: East Asian wide characters count double."""
    return sum(2 if _wide(char) else 1 for char in line)


def _wide(char: str) -> bool:
    return "\u2e80" <= char <= "\uffef" or char >= "\U0001f000"  # CJK, emoji and CJK beyond the BMP


def greedy(pieces: list[Token], fits: Callable[[str], bool]) -> list[str]:
    lines: list[str] = []
    for piece in pieces:
        if lines:
            candidate = lines[-1] + (" " if piece.space else "") + piece.text
            if fits(candidate):
                lines[-1] = candidate
                continue
        if not fits(piece.text):
            raise _TooWide(piece.text)
        lines.append(piece.text)
    return lines
