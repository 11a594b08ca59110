"""Fonts: which face draws each character, and how large a piece of text is once shaped.

A font role (display, body) and weight name a chain of faces: the Latin face first, then Noto Sans
SC. Each grapheme cluster goes to the first face whose cmap covers all of it (Chinese punctuation
prefers the Chinese face in Chinese text), so digits come out in Inter and Han in Noto.
Coverage comes from assets/fonts/coverage.json (written by subset_fonts.py, checked against each
font's cmap), so fontTools is imported only when that file is missing or stale. FreeType fonts and
shaped lines are cached in bounded LRU caches (see freetype(); reopening a face takes under 1 ms).
"""

from __future__ import annotations

import logging
import unicodedata
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

from PIL import ImageFont, features

from ..errors import RenderError
from . import coverage as coverage_file
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
LANGUAGE = {"en": "en", "zh": "zh-Hans"}
JOINERS = {0x200C, 0x200D}
IGNORABLE = {0x00AD, 0x034F, 0xFEFF, *range(0x200B, 0x2010), *range(0x2060, 0x2065), *range(0xFE00, 0xFE10)}


@dataclass(frozen=True)
class Run:
    """Text drawn in one face, `dx` whole pixels after the line's origin."""

    text: str
    face: str
    dx: int = 0


@dataclass(frozen=True)
class Shaped:
    """A line of text split into runs, with its bounding box relative to the baseline origin."""

    runs: tuple[Run, ...]
    bbox: tuple[int, int, int, int]

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
    return LATIN[(role, weight)], CHINESE[weight]


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
    shaped, for HarfBuzz's copy of their layout tables), more Latin ones (about 0.15 MB each)."""
    return (_chinese_font if face in _CHINESE_FACES else _latin_font)(face, size)


def _open(face: str, size: int) -> ImageFont.FreeTypeFont:
    require_raqm()
    return ImageFont.truetype(str(FONT_DIR / face), size, layout_engine=ImageFont.Layout.RAQM)


_CHINESE_FACES = frozenset(CHINESE.values())
_chinese_font = lru_cache(maxsize=6)(_open)
_latin_font = lru_cache(maxsize=32)(_open)


def clusters(text: str) -> list[str]:
    """Approximate grapheme clusters: a base with its marks, joiners and variation selectors."""
    result: list[str] = []
    for char in text:
        joined = bool(result) and ord(result[-1][-1]) in JOINERS
        if result and (joined or extends(char)):
            result[-1] += char
        else:
            result.append(char)
    return result


def extends(char: str) -> bool:
    code = ord(char)
    return unicodedata.category(char).startswith("M") or code in JOINERS or code in IGNORABLE


def face_for(cluster: str, chain: tuple[str, ...], lang: str) -> str:
    """The first face in the chain covering the cluster; Chinese punctuation prefers the last face."""
    order = chain[::-1] if lang == "zh" and _wide_punctuation(cluster) else chain
    needed = {ord(c) for c in cluster if ord(c) not in IGNORABLE}
    for face in order:
        if needed <= coverage(face):
            return face
    missing = next((c for c in cluster if all(ord(c) not in coverage(f) for f in chain)), cluster[0])
    tried = ", ".join(chain)
    raise RenderError(f"no font covers U+{ord(missing):04X} {missing!r} (tried {tried})")


def _wide_punctuation(cluster: str) -> bool:
    return ord(cluster[0]) > 0x7F and unicodedata.category(cluster[0])[0] in "PS"


def split_runs(text: str, chain: tuple[str, ...], lang: str) -> list[tuple[str, str]]:
    """(text, face) runs; spaces stay in the face before them so runs do not split needlessly."""
    runs: list[tuple[str, str]] = []
    for cluster in clusters(text):
        keep = bool(runs) and cluster.isspace() and ord(cluster[0]) in coverage(runs[-1][1])
        face = runs[-1][1] if keep else face_for(cluster, chain, lang)
        if runs and runs[-1][1] == face:
            runs[-1] = (runs[-1][0] + cluster, face)
        else:
            runs.append((cluster, face))
    return runs


@lru_cache(maxsize=4096)
def shape(text: str, chain: tuple[str, ...], lang: str, size: int) -> Shaped:
    """Runs of one line at a pixel size, placed side by side, and the box they cover."""
    x, runs, boxes = 0.0, [], []
    parts = split_runs(text, chain, lang)
    for index, (part, face) in enumerate(parts):
        font, dx = freetype(face, size), round(x)
        left, top, right, bottom = font.getbbox(part, anchor="ls", language=LANGUAGE[lang])
        boxes.append((int(left) + dx, int(top), int(right) + dx, int(bottom)))
        runs.append(Run(part, face, dx))
        if index < len(parts) - 1:  # only a following run needs the advance
            x += font.getlength(part, language=LANGUAGE[lang])
    if not boxes:
        return Shaped((), (0, 0, 0, 0))
    bbox = (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))
    return Shaped(tuple(runs), bbox)


on_clear(shape.cache_clear)
on_clear(_chinese_font.cache_clear)
on_clear(_latin_font.cache_clear)
on_clear(coverage.cache_clear)
on_clear(coverage_file.forget)
