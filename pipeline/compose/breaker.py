"""break_lines(): a paragraph becomes the very short, balanced lines of a WeChat article.

Rules, for both languages:
  - A newline is a hard break; each paragraph is broken on its own, blank ones yield no lines.
  - Lines are only cut at legal breaks; among the cuts whose lines fit `width`, dynamic
    programming picks the fewest lines, then the least (squared relative slack + break
    penalties); the last line's slack counts a quarter. A line wider than `width` happens only
    when no legal break lies inside it.
  - Nothing is lost, added or reordered. zh: "".join(lines) == paragraph. en: lines are the
    words joined by single spaces, so " ".join(lines) == " ".join(paragraph.split()).
  - `protect` spans are never broken inside.
  - `measure` (default: en `len`, zh `zh_width`) is called on whole candidate lines and only
    assumed to grow as a line grows; the default measures use prefix sums (en: the offsets).
English (breaker_en): break at spaces only. Best after clause punctuation (, ; : — . ! ?),
then before a conjunction, a preposition, a determiner, a verb. Never after a number
("23 | sister"), between a qualifier and its number ("than | 220"), inside a run of up to three
capitalised words ("Northeast China"; longer runs are titles, breakable at a cost), or after
a, an, the, of, to, in.
Chinese (breaker_zh): budoux phrase boundaries and the points after ，。！？；：、, closing
quotes and spaces, each also a UAX #14 opportunity and kinsoku-clean (clreq); never inside a
digit run, a number with its 第/¥/$ or its unit (第16位, 3所, 30%), or a Latin word.

The analysis of a paragraph (cuts and penalties) is cached, so re-breaking it at other widths,
as card fitting does, costs only the dynamic programme. A paragraph that fits is its own line,
unanalysed. With the default measures the lines found at each width are remembered too, and an
English paragraph is looked up with its ASCII digits spelled 0: a run whose figure changed is
broken as before, at no cost.
"""

from __future__ import annotations

import functools
import itertools
import math
import re
import unicodedata
from collections.abc import Callable, Sequence
from typing import NamedTuple

from . import breaker_en, breaker_zh

__all__ = ["break_lines", "cache_clear", "legal_breaks", "zh_width"]

Measure = Callable[[str], float]
LANGS = ("en", "zh")
SCALE = 100.0  # the badness of a line left entirely empty
LAST_WEIGHT = 0.25
OVERFLOW = 1000.0  # added for a line wider than `width` (a single unbreakable segment)
EPSILON = 1e-9
DIGIT, NONZERO_DIGIT = re.compile("[0-9]"), re.compile("[1-9]")
DIGITS_ALIKE = str.maketrans("123456789", "0" * 9)


class _Paragraph(NamedTuple):
    """Cut k ends one line at ends[k] and starts the next at starts[k]; cut 0 and the last are the edges."""

    text: str  # en: the words joined by single spaces; zh: the paragraph itself
    ends: tuple[int, ...]
    starts: tuple[int, ...]
    penalties: tuple[float, ...]
    end_at: tuple[float, ...]  # the default measure of the text up to each cut's end,
    start_at: tuple[float, ...]  # and up to its start: a line's width is end_at[j] - start_at[i]


def break_lines(
    text: str, lang: str, width: float, *, measure: Measure | None = None, protect: Sequence[str] = ()
) -> list[str]:
    """Break `text` into balanced lines of at most `width` (in the units of `measure`)."""
    if lang not in LANGS or not width > 0:
        raise ValueError(f"break_lines needs lang in {LANGS} and a positive width, not {lang!r}, {width!r}")
    keep = _protected(lang, protect)
    lines: list[str] = []
    for paragraph in text.split("\n"):
        if paragraph.strip():
            lines += _lines(paragraph, lang, keep, width, measure)
    return lines


def cache_clear(analyses: bool = True) -> None:
    """Forget the lines of every paragraph broken so far, and with `analyses` what each paragraph's
    analysis found (benchmarks start cold with it)."""
    _spans.cache_clear()
    if analyses:
        _analyse.cache_clear()


def _fits(line: str, lang: str, width: float, measure: Measure | None) -> bool:
    if measure is None and lang == "zh" and not len(line) <= width:  # a character is ½ or 1 wide
        return 0.5 * len(line) <= width + EPSILON and zh_width(line) <= width + EPSILON
    return (len(line) if measure is None else measure(line)) <= width + EPSILON


def legal_breaks(paragraph: str, lang: str, protect: Sequence[str] = ()) -> tuple[int, ...]:
    """Where a line may end, as offsets into the paragraph (en: into its words joined by single spaces)."""
    return _analyse(paragraph, lang, _protected(lang, protect)).ends[1:-1]


def zh_width(text: str) -> float:
    """The default Chinese measure: 1 per wide or fullwidth character, 0.5 for any other."""
    return sum(_char_width(char) for char in text)


@functools.lru_cache(maxsize=65536)
def _char_width(char: str) -> float:
    return 1.0 if unicodedata.east_asian_width(char) in ("W", "F") else 0.5


def _protected(lang: str, protect: Sequence[str]) -> tuple[str, ...]:
    spans = (" ".join(span.split()) if lang == "en" else span for span in protect)
    return tuple(span for span in spans if span.strip())


@functools.lru_cache(maxsize=4096)
def _analyse(paragraph: str, lang: str, protect: tuple[str, ...]) -> _Paragraph:
    """The cuts, their penalties and the default widths: everything that does not depend on width."""
    text, cuts = _cuts_en(paragraph) if lang == "en" else (paragraph, breaker_zh.break_penalties(paragraph))
    skip = 1 if lang == "en" else 0  # an English break swallows the space
    inside = _inside_spans(text, protect, skip)
    kept = sorted(p for p in cuts if p not in inside)
    ends, starts = (0, *kept, len(text)), (0, *(p + skip for p in kept), len(text))
    at = _advance(text) if lang == "zh" else None  # en: a line's width is its length
    return _Paragraph(
        text=text,
        ends=ends,
        starts=starts,
        penalties=(0.0, *(cuts[p] for p in kept), 0.0),
        end_at=tuple(map(float, ends) if at is None else map(at.__getitem__, ends)),
        start_at=tuple(map(float, starts) if at is None else map(at.__getitem__, starts)),
    )


def _advance(text: str) -> tuple[float, ...]:
    """zh_width of each prefix of the text."""
    return tuple(itertools.accumulate(map(_char_width, text), initial=0.0))


def _cuts_en(paragraph: str) -> tuple[str, dict[int, float]]:
    words = paragraph.split()
    spaces = list(itertools.accumulate(map(len, words[:-1]), lambda at, length: at + 1 + length))  # after each word
    penalties = breaker_en.gap_penalties(words)
    return " ".join(words), {p: pen for p, pen in zip(spaces, penalties, strict=True) if pen is not None}


def _inside_spans(text: str, protect: tuple[str, ...], skip: int) -> set[int]:
    """Cut positions (line ends) that would split an occurrence of a protected span."""
    inside: set[int] = set()
    for span in protect:
        start = text.find(span)
        while start >= 0:
            inside.update(range(max(start - skip + 1, 0), start + len(span)))
            start = text.find(span, start + 1)
    return inside


def _lines(paragraph: str, lang: str, protect: tuple[str, ...], width: float, measure: Measure | None) -> list[str]:
    """A paragraph's lines: the paragraph itself when it fits (the fewest lines, whatever its breaks)."""
    text = " ".join(paragraph.split()) if lang == "en" else paragraph
    if _fits(text, lang, width, measure):
        return [text]
    if measure is not None:
        par = _analyse(paragraph, lang, protect)
        return [text[par.starts[i] : par.ends[j]] for i, j in itertools.pairwise(_choose(par, width, measure))]
    return [text[start:end] for start, end in _spans(_shape(paragraph, lang, protect), lang, protect, width)]


def _shape(paragraph: str, lang: str, protect: tuple[str, ...]) -> str:
    """What the default measure's breaks depend on. In English no rule and no width tells one ASCII digit
    from another, so they are all spelled 0, and a paragraph whose figures changed is broken as before
    (unless a protected span holds a digit: its twins must not be protected too)."""
    if lang == "en" and NONZERO_DIGIT.search(paragraph) and not any(map(DIGIT.search, protect)):
        return paragraph.translate(DIGITS_ALIKE)
    return paragraph


@functools.lru_cache(maxsize=8192)
def _spans(paragraph: str, lang: str, protect: tuple[str, ...], width: float) -> tuple[tuple[int, int], ...]:
    """(start, end) of each line of the paragraph with the default measure, in its text (en: its words
    joined by single spaces)."""
    par = _analyse(paragraph, lang, protect)
    return tuple((par.starts[i], par.ends[j]) for i, j in itertools.pairwise(_choose(par, width, None)))


def _choose(par: _Paragraph, width: float, measure: Measure | None) -> list[int]:
    """The cheapest path of cuts from the first to the last, by dynamic programming from the end."""
    last = len(par.ends) - 1
    cost: list[tuple[int, float]] = [(0, 0.0)] * (last + 1)
    after = [last] * (last + 1)
    for i in range(last - 1, -1, -1):
        cost[i], after[i] = _best_line(par, i, width, measure, cost)
    path = [0]
    while path[-1] != last:
        path.append(after[path[-1]])
    return path


def _best_line(
    par: _Paragraph, i: int, width: float, measure: Measure | None, cost: list[tuple[int, float]]
) -> tuple[tuple[int, float], int]:
    """The best line starting at cut i: (lines, cost) of the rest of the paragraph, and where it ends.
    Its width is the measure of the whole line, or for the default measures a difference of prefix sums."""
    penalties, end_at, start = par.penalties, par.end_at, par.start_at[i]
    last = len(penalties) - 1
    best, choice = (len(penalties) + 1, math.inf), i + 1
    for j in range(i + 1, last + 1):
        used = end_at[j] - start if measure is None else measure(par.text[par.starts[i] : par.ends[j]])
        if used > width + EPSILON and j > i + 1:
            break  # longer lines are wider still: any measure is assumed to grow as a line does
        slack = (width - used) / width  # the line's badness, written out: it runs for every candidate line
        badness = SCALE * slack * slack
        if slack < -EPSILON:
            badness += OVERFLOW
        elif j == last:
            badness *= LAST_WEIGHT
        lines, total = cost[j]
        here = (lines + 1, total + badness + penalties[j])
        if here < best:
            best, choice = here, j
    return best, choice
