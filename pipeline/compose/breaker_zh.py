"""Chinese break candidates for breaker.py: budoux phrases and clause punctuation, filtered by
UAX #14, kinsoku (clreq) and unsplittable atoms (numbers with their unit, Latin words).

A candidate is a position p: a line may end before text[p]. Lower penalty = more natural break.
"""

from __future__ import annotations

import functools
import re
import string

import regex
from uniseg.linebreak import line_break_boundaries  # type: ignore[import-untyped, unused-ignore]

from .phrases import boundaries

NO_START = frozenset("，。！？、；：”’）》」』】〕〉…‥·—%‰)]},.!?:;")
NO_END = frozenset("“‘（《「『【〔〈([{")
CLAUSE = frozenset("，。！？；：")
CLOSING = "”’）》」』】〕〉)]}"
AFTER = regex.compile(r"[，。！？；：、”’）》」』】〕〉)\]}\s]")
# Plain ideographs: line break class ID, wide. re, not regex: it scans a plain class twice as fast.
HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
HAN_RUN = re.compile(r"中{2,}")
# ASCII digits (class NU) and letters (AL), each kind alike in every property UAX #14 reads.
SAME_FOR_UAX14 = str.maketrans(string.digits + string.ascii_letters, "0" * 10 + "a" * 52)
UNITS = "个所家位名项座条年月日万亿%‰届次倍"
# 第16位, ¥3, 220多个, 30.5%, 1,000, COVID-19, 220+: each one unbreakable atom.
ATOM = regex.compile(
    rf"(?:[第¥$](?=\d))?[0-9A-Za-z\u00C0-\u024F]+(?:[-.,'’/&+][0-9A-Za-z\u00C0-\u024F]+)*\+?"
    rf"(?:(?<=[0-9+])[多余]?[{UNITS}])?"
)

PEN_CLAUSE = 0.0  # after ，。！？；： (and closing quotes that follow them)
PEN_ENUM = 2.0  # after 、
PEN_CLOSE = 5.0  # after a closing quote or bracket
PEN_SPACE = 6.0  # after a space (embedded Latin phrases)
PEN_PHRASE = 10.0  # a budoux phrase boundary


def break_penalties(text: str) -> dict[int, float]:
    """Every legal break position in `text` with its penalty."""
    phrases = boundaries(text)
    wanted = phrases.union(m.end() for m in AFTER.finditer(text))
    first = len(text) - len(text.lstrip())  # never leave a whitespace-only first line
    result: dict[int, float] = {}
    for p in sorted((wanted & uax14_breaks(text)) - atom_interiors(text)):
        if first < p < len(text) and kinsoku_ok(text, p):
            penalty = _preference(text, p, phrases)
            if penalty is not None:
                result[p] = penalty
    return result


def _preference(text: str, p: int, phrases: set[int]) -> float | None:
    before = text[p - 1]
    if before in CLAUSE:
        return PEN_CLAUSE
    if before in CLOSING:
        inner = text[: p - 1].rstrip(CLOSING)
        return PEN_CLAUSE if inner[-1:] in CLAUSE else PEN_CLOSE
    if before == "、":
        return PEN_ENUM
    if before.isspace():
        return PEN_SPACE
    return PEN_PHRASE if p in phrases else None


def kinsoku_ok(text: str, p: int) -> bool:
    """clreq: the next line may not start with closing marks, this one may not end with opening ones."""
    q = p - 1
    while q > 0 and text[q].isspace():
        q -= 1
    return text[p] not in NO_START and text[q] not in NO_END


def atom_interiors(text: str) -> set[int]:
    return {p for m in ATOM.finditer(text) for p in range(m.start() + 1, m.end())}


def uax14_breaks(text: str) -> set[int]:
    """UAX #14 break opportunities (0 < p <= len), the same as uniseg's but far faster.

    Between two Han ideographs UAX #14 always allows a break and no rule's context reaches
    across one, so the text is cut inside every run of Han into short pieces. UAX #14 tells
    characters apart only by their line break class, East Asian width and emoji property, so
    each piece is spelled with one character per kind (Han 中, ASCII digits 0, ASCII letters a)
    and the pieces repeat: uniseg (some 40 µs a character) answers each one once, from a cache.
    """
    skeleton = HAN.sub("中", text).translate(SAME_FOR_UAX14)
    result: set[int] = set()
    start = 0
    for run in HAN_RUN.finditer(skeleton):
        result.update(start + q for q in _piece_breaks(skeleton[start : run.start() + 1]))
        result.update(range(run.start() + 1, run.end()))
        start = run.end() - 1
    result.update(start + q for q in _piece_breaks(skeleton[start:]))
    return result


@functools.lru_cache(maxsize=65536)
def _piece_breaks(piece: str) -> tuple[int, ...]:
    return tuple(line_break_boundaries(piece))
