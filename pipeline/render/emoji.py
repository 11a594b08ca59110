"""Colour emoji: which grapheme clusters are emoji, and their pictures at a text size.

The emoji face (assets/fonts/NotoColorEmoji-Subset.ttf) holds PNG bitmaps in one strike of STRIKE
pixels. A run of emoji is shaped there and scaled to the text size: its box and advance times
size / STRIKE for layout, and for drawing its RGBA rendering resized to that box with LANCZOS.
Emoji keep their own colours, whatever the text colour; the layer's opacity fades them. Tiles are
kept in a bounded LRU by (text, size, alpha).
"""

from __future__ import annotations

from PIL import Image, ImageFont

from .cache import LRU
from .coverage import codepoints

FACE = "NotoColorEmoji-Subset.ttf"
STRIKE = 109
PICTOGRAPHS = range(0x1F000, 0x1FB00)  # the emoji blocks of the SMP, regional indicators included
REGIONAL = range(0x1F1E6, 0x1F200)
SKIN_TONES = range(0x1F3FB, 0x1F400)
TAGS = range(0xE0020, 0xE0080)  # of subdivision flags
# BMP characters shown as emoji by default (Emoji_Presentation=Yes in Unicode's emoji-data.txt), as
# (first, last) pairs
PRESENTATION = codepoints(
    [
        *(0x231A, 0x231B, 0x23E9, 0x23EC, 0x23F0, 0x23F0, 0x23F3, 0x23F3, 0x25FD, 0x25FE, 0x2614, 0x2615),
        *(0x2648, 0x2653, 0x267F, 0x267F, 0x2693, 0x2693, 0x26A1, 0x26A1, 0x26AA, 0x26AB, 0x26BD, 0x26BE),
        *(0x26C4, 0x26C5, 0x26CE, 0x26CE, 0x26D4, 0x26D4, 0x26EA, 0x26EA, 0x26F2, 0x26F3, 0x26F5, 0x26F5),
        *(0x26FA, 0x26FA, 0x26FD, 0x26FD, 0x2705, 0x2705, 0x270A, 0x270B, 0x2728, 0x2728, 0x274C, 0x274C),
        *(0x274E, 0x274E, 0x2753, 0x2755, 0x2757, 0x2757, 0x2795, 0x2797, 0x27B0, 0x27B0, 0x27BF, 0x27BF),
        *(0x2B1B, 0x2B1C, 0x2B50, 0x2B50, 0x2B55, 0x2B55),
    ]
)
MB = 1 << 20

Tile = tuple[Image.Image, tuple[int, int]]  # an RGBA picture and its offset from the run's baseline origin
TILES: LRU[tuple[str, int, int], Tile] = LRU(
    "emoji.tiles", max_items=512, max_bytes=8 * MB, weigh=lambda tile: tile[0].width * tile[0].height * 4 + 200
)


def is_emoji(cluster: str) -> bool:
    """An emoji by default (a pictograph, a flag) or by its sequence (U+FE0F, a keycap), unless U+FE0E
    asks for text."""
    first = ord(cluster[0])
    if len(cluster) == 1:
        return first in PICTOGRAPHS or first in PRESENTATION
    if "\ufe0e" in cluster:
        return False
    return first in PICTOGRAPHS or first in PRESENTATION or "\ufe0f" in cluster or "\u20e3" in cluster


def extends(code: int) -> bool:
    """A skin tone or tag, which belongs to the emoji before it."""
    return code in SKIN_TONES or code in TAGS


def pairs(cluster: str, char: str) -> bool:
    """A regional indicator that makes a flag with the one before it."""
    return len(cluster) == 1 and ord(cluster) in REGIONAL and ord(char) in REGIONAL


def scaled(box: tuple[float, float, float, float], size: int) -> tuple[int, int, int, int]:
    """A box measured in the strike, in whole pixels at `size`."""
    scale = size / STRIKE
    left, top, right, bottom = (round(edge * scale) for edge in box)
    return left, top, max(right, left + 1), max(bottom, top + 1)


def tile(font: ImageFont.FreeTypeFont, text: str, size: int, alpha: int = 255) -> Tile:
    """The run's colour picture at `size`, its alpha times alpha / 255 (cached)."""
    key = (text, size, alpha)
    found = TILES.get(key)
    if found is None:
        found = TILES.put(key, _draw(font, text, size) if alpha == 255 else _fade(tile(font, text, size), alpha))
    return found


def _draw(font: ImageFont.FreeTypeFont, text: str, size: int) -> Tile:
    """What ImageDraw.text(..., embedded_color=True) renders in the strike, resized to the scaled box."""
    core, (x, y) = font.getmask2(text, "RGBA", anchor="ls")
    picture = Image.Image()._new(core)  # how Image wraps its cores
    left, top, right, bottom = scaled((x, y, x + picture.width, y + picture.height), size)
    return picture.resize((right - left, bottom - top), Image.Resampling.LANCZOS), (left, top)


def _fade(opaque: Tile, alpha: int) -> Tile:
    picture, offset = opaque
    faded = picture.copy()
    faded.putalpha(picture.getchannel("A").point(lambda level: (level * alpha + 127) // 255))
    return faded, offset
