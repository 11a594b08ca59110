"""Fonts: which face draws each character, and how large a piece of text is once shaped.

A font role (display, body) and weight name a chain of faces: the Latin face first, then Noto Sans
SC, then the colour emoji subset. Each grapheme cluster goes to the first face whose cmap covers all
of it, so digits come out in Inter and Han in Noto; an emoji (emoji.is_emoji) tries the emoji face
first and Chinese punctuation in Chinese text the Chinese face. A cluster no face covers is an error
naming it. Emoji runs are measured in the emoji strike and scaled (emoji.py).

Between a Han character and a Latin letter or digit with nothing between them, a line has a gap of
round(size / 4) pixels (about a quarter em, as clreq advises): the run after it starts that much
later, so the text stays as written and every width measured includes the gap.

Coverage comes from assets/fonts/coverage.json (written by subset_fonts.py, checked against each
font's cmap), so fontTools is imported only when that file is missing or stale. FreeType fonts and
shaped lines are cached in bounded LRU caches (see freetype(); reopening a face takes under 1 ms).
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Set
from functools import cache, lru_cache
from pathlib import Path
from typing import NamedTuple

from PIL import ImageFont, features

from ..errors import RenderError
from . import coverage as coverage_file
from . import emoji
from .cache import on_clear

log = logging.getLogger(__name__)

FONT_DIR = Path(__file__).resolve().parents[2] / "assets" / "fonts"
LATIN = {
    ("display", "bold"): "InterDisplay-Bold.otf",
    ("display", "regular"): "InterDisplay-Regular.otf",
    ("body", "bold"): "Inter-Bold.otf",
    ("body", "regular"): "Inter-Regular.otf",
}
CHINESE = {"bold": "NotoSansSC-Bold.otf", "regular": "NotoSansSC-Regular.otf"}
EMOJI = emoji.FACE
LANGUAGE = {"en": "en", "zh": "zh-Hans"}
JOINERS = {0x200C, 0x200D}
IGNORABLE = {0x00AD, 0x034F, 0xFEFF, *range(0x200B, 0x2010), *range(0x2060, 0x2065), *range(0xFE00, 0xFE10)}
HAN = ((0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF), (0x20000, 0x3FFFF))
_HAN_FROM = min(first for first, _ in HAN)
Box = tuple[int, int, int, int]


class Run(NamedTuple):
    """Text drawn in one face, `dx` whole pixels after the line's origin."""

    text: str
    face: str
    dx: int = 0


class Shaped(NamedTuple):
    """A line of text split into runs, with its bounding box relative to the baseline origin."""

    runs: tuple[Run, ...]
    bbox: Box

    @property
    def width(self) -> int:
        return self.bbox[2] - self.bbox[0]


def require_raqm() -> None:
    if not _has_raqm():
        raise RenderError(
            "Pillow has no libraqm, which cards need to shape text and set its language: install libraqm "
            "(Debian: apt install libraqm0) and reinstall Pillow from a wheel that finds it"
        )


@cache
def _has_raqm() -> bool:
    return bool(features.check("raqm"))


def faces(role: str, weight: str) -> tuple[str, ...]:
    """The fallback chain of a font role and weight, as file names in FONT_DIR."""
    return LATIN[(role, weight)], CHINESE[weight], EMOJI


@cache
def coverage(face: str) -> frozenset[int]:
    """The code points a face maps to glyphs (its best cmap): from coverage.json while it is current."""
    path = FONT_DIR / face
    recorded = coverage_file.lookup(path)
    if recorded is not None:
        return recorded
    log.warning(
        "%s: no current record in %s; reading its cmap (run assets/fonts/subset_fonts.py --coverage)",
        face,
        coverage_file.FILE_NAME,
    )
    return read_cmap(path)


def read_cmap(path: Path) -> frozenset[int]:
    """The code points of a font's best cmap, read with fontTools (slow to import; build time only)."""
    from fontTools.ttLib import TTFont

    with TTFont(path, lazy=True) as font:
        return frozenset(font.getBestCmap())


def freetype(face: str, size: int) -> ImageFont.FreeTypeFont:
    """A face at a pixel size, from a bounded cache: few Chinese faces (about 1 MB each once
    shaped, for HarfBuzz's copy of their layout tables), more Latin ones (under 0.05 MB each)."""
    return (_chinese_font if face in _CHINESE_FACES else _latin_font)(face, size)


def _open(face: str, size: int) -> ImageFont.FreeTypeFont:
    require_raqm()
    return ImageFont.truetype(str(FONT_DIR / face), size, layout_engine=ImageFont.Layout.RAQM)


def strike() -> ImageFont.FreeTypeFont:
    """The emoji face at the size of its one bitmap strike, which every emoji size is scaled from."""
    return _emoji_font(EMOJI, emoji.STRIKE)


_CHINESE_FACES = frozenset(CHINESE.values())
_EMOJI_FACES = frozenset({EMOJI})
_chinese_font = lru_cache(maxsize=6)(_open)
_latin_font = lru_cache(maxsize=64)(_open)
_emoji_font = lru_cache(maxsize=1)(_open)


def clusters(text: str) -> list[str]:
    """Approximate grapheme clusters: a base with its marks, joiners, variation selectors, skin tones
    and tags, or a flag's two regional indicators."""
    result: list[str] = []
    for char in text:
        if result and continues(result[-1], char):
            result[-1] += char
        else:
            result.append(char)
    return result


def continues(cluster: str, char: str) -> bool:
    """Whether `char` belongs to the cluster so far."""
    return ord(cluster[-1]) in JOINERS or extends(char) or emoji.pairs(cluster, char)


def extends(char: str) -> bool:
    code = ord(char)
    return unicodedata.category(char).startswith("M") or code in JOINERS or code in IGNORABLE or emoji.extends(code)


@lru_cache(maxsize=4096)
def face_for(cluster: str, chain: tuple[str, ...], lang: str) -> str:
    """The first face covering the cluster, in the order preferred for it (remembered: lines are
    measured again and again as they grow, a cluster at a time)."""
    needed = {ord(c) for c in cluster if ord(c) not in IGNORABLE}
    for face in _preferred(cluster, chain, lang):
        if needed <= coverage(face):
            return face
    raise _uncovered(cluster, chain)


def _preferred(cluster: str, chain: tuple[str, ...], lang: str) -> tuple[str, ...]:
    """The chain, with the emoji face first for an emoji and the Chinese face first for Chinese
    punctuation in Chinese text."""
    if emoji.is_emoji(cluster):
        return _first(chain, _EMOJI_FACES)
    if lang == "zh" and _wide_punctuation(cluster):
        return _first(chain, _CHINESE_FACES)
    return chain


def _first(chain: tuple[str, ...], wanted: Set[str]) -> tuple[str, ...]:
    return tuple(sorted(chain, key=lambda face: face not in wanted))


def _uncovered(cluster: str, chain: tuple[str, ...]) -> RenderError:
    """The error naming the cluster's first character that no face covers, and the faces tried."""
    visible = [c for c in cluster if ord(c) not in IGNORABLE] or [cluster[0]]
    missing = next((c for c in visible if all(ord(c) not in coverage(f) for f in chain)), visible[0])
    return RenderError(f"no font covers U+{ord(missing):04X} {missing!r} (tried {', '.join(chain)})")


def _wide_punctuation(cluster: str) -> bool:
    return ord(cluster[0]) > 0x7F and unicodedata.category(cluster[0])[0] in "PS"


def split_runs(text: str, chain: tuple[str, ...], lang: str) -> list[tuple[str, str]]:
    """(text, face) runs; spaces stay in the face before them so runs do not split needlessly, and a
    run ends where a gap goes (see spaced)."""
    runs: list[tuple[str, str]] = []
    previous = ""
    for cluster in clusters(text):
        keep = bool(runs) and cluster.isspace() and runs[-1][1] != EMOJI and ord(cluster[0]) in coverage(runs[-1][1])
        face = runs[-1][1] if keep else face_for(cluster, chain, lang)
        if runs and runs[-1][1] == face and not spaced(previous[0], cluster[0]):
            runs[-1] = (runs[-1][0] + cluster, face)
        else:
            runs.append((cluster, face))
        previous = cluster
    return runs


def spaced(before: str, after: str) -> bool:
    """Whether a gap goes between two adjacent characters: a Han character and a Latin letter or digit."""
    return (_han(before) and _latin(after)) or (_latin(before) and _han(after))


def _han(char: str) -> bool:
    code = ord(char)
    return code >= _HAN_FROM and any(first <= code <= last for first, last in HAN)


def _latin(char: str) -> bool:
    return char.isalnum() and (char.isascii() or ("\u00c0" <= char <= "\u024f" and char.isalpha()))


def gap(size: int) -> int:
    return round(size / 4)


@lru_cache(maxsize=4096)
def shape(text: str, chain: tuple[str, ...], lang: str, size: int) -> Shaped:
    """Runs of one line at a pixel size, placed side by side with gaps where they go, and the box they cover."""
    x, runs, boxes = 0.0, [], []
    parts = _parts(text, chain, lang)
    for index, (part, face, gapped) in enumerate(parts):
        if gapped:
            x += gap(size)
        dx = round(x)
        left, top, right, bottom = _box(part, face, size, LANGUAGE[lang])
        boxes.append((left + dx, top, right + dx, bottom))
        runs.append(Run(part, face, dx))
        if index < len(parts) - 1:  # only a following run needs the advance
            x += _advance(part, face, size, LANGUAGE[lang])
    return Shaped(tuple(runs), _union(boxes))


@lru_cache(maxsize=2048)
def _parts(text: str, chain: tuple[str, ...], lang: str) -> tuple[tuple[str, str, bool], ...]:
    """split_runs() with whether a gap goes before each run; the same at every size, so remembered
    while a text is fitted (shaped at one size after another)."""
    runs = split_runs(text, chain, lang)
    gapped = [bool(index) and spaced(_last_base(runs[index - 1][0]), part[0]) for index, (part, _) in enumerate(runs)]
    return tuple((part, face, gap) for (part, face), gap in zip(runs, gapped, strict=True))


def _last_base(text: str) -> str:
    return next((char for char in reversed(text) if not extends(char)), text[-1])


def _box(part: str, face: str, size: int, language: str) -> Box:
    """The ink box of a run, relative to its baseline origin."""
    if face == EMOJI:
        return emoji.scaled(strike().getbbox(part, anchor="ls"), size)
    left, top, right, bottom = freetype(face, size).getbbox(part, anchor="ls", language=language)
    return int(left), int(top), int(right), int(bottom)


def _advance(part: str, face: str, size: int, language: str) -> float:
    if face == EMOJI:
        return strike().getlength(part) * size / emoji.STRIKE
    return freetype(face, size).getlength(part, language=language)


def _union(boxes: list[Box]) -> Box:
    if not boxes:
        return 0, 0, 0, 0
    return min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes)


on_clear(shape.cache_clear)
on_clear(face_for.cache_clear)
on_clear(_parts.cache_clear)
on_clear(_chinese_font.cache_clear)
on_clear(_latin_font.cache_clear)
on_clear(_emoji_font.cache_clear)
on_clear(coverage.cache_clear)
on_clear(coverage_file.forget)
