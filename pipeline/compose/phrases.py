"""BudouX phrase boundaries, scored from per-position tables instead of per-feature lookups.

BudouX's own `Parser.parse` scores each position with thirteen dictionary lookups: the characters
at offsets -3..2, the two-character strings at -2, -1 and 0, and the three-character strings at
-3..0. Each character and each string of a text is looked up here once, in a table that holds its
scores for every feature it can take part in (a character's six, a pair's three, a triple's four),
so a position's score is a sum of thirteen entries read by index. The text is padded with a
character no feature mentions, so the edges need no tests: BudouX skips a feature that would
reach past the text, and a padded string scores 0. A test checks it against `Parser.parse`.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

UNIGRAMS = ("UW1", "UW2", "UW3", "UW4", "UW5", "UW6")  # the character at offset -3, -2, -1, 0, 1, 2
BIGRAMS = ("BW1", "BW2", "BW3")  # the pair starting at -2, -1, 0
TRIGRAMS = ("TW1", "TW2", "TW3", "TW4")  # the triple starting at -3, -2, -1, 0
PAD = "\0" * 3  # in no feature of the model (checked when it loads)

Scores = tuple[int, ...]


@dataclass(frozen=True)
class _Tables:
    unigrams: dict[str, Scores]
    bigrams: dict[str, Scores]
    trigrams: dict[str, Scores]
    threshold: float  # a phrase starts where the summed score exceeds this


@functools.cache
def _tables() -> _Tables:
    import budoux  # loaded on first use: the model takes a while to read

    model = budoux.load_default_simplified_chinese_parser().model
    if any("\0" in key for group in model.values() for key in group):
        raise RuntimeError("BudouX's model mentions the padding character U+0000")
    threshold = sum(sum(group.values()) for group in model.values()) * 0.5
    return _Tables(_table(model, UNIGRAMS), _table(model, BIGRAMS), _table(model, TRIGRAMS), threshold)


def _table(model: dict[str, dict[str, int]], features: Sequence[str]) -> dict[str, Scores]:
    """Every string any of these features mentions, with its score in each of them (0 where none)."""
    groups = [model.get(feature, {}) for feature in features]
    return {key: tuple(group.get(key, 0) for group in groups) for key in set().union(*groups)}


def boundaries(text: str) -> set[int]:
    """The ends of BudouX's phrases in `text`, the end of the text included (as its chunk lengths add up)."""
    n = len(text)
    if n < 2:
        return {n}
    tables, padded = _tables(), PAD + text + PAD
    u = _scores(tables.unigrams, padded, 1, 6)
    b = _scores(tables.bigrams, padded, 2, 3)
    t = _scores(tables.trigrams, padded, 3, 4)
    found = {n}
    for k in range(4, n + 3):  # position i = k - 3 of the text, from 1 to n - 1
        score = u[k - 3][0] + u[k - 2][1] + u[k - 1][2] + u[k][3] + u[k + 1][4] + u[k + 2][5]
        score += b[k - 2][0] + b[k - 1][1] + b[k][2] + t[k - 3][0] + t[k - 2][1] + t[k - 1][2] + t[k][3]
        if score > tables.threshold:
            found.add(k - 3)
    return found


def _scores(table: dict[str, Scores], padded: str, size: int, features: int) -> list[Scores]:
    """The table's scores of the string of `size` characters starting at each index of `padded`."""
    none = (0,) * features
    if size == 1:
        return [table.get(char, none) for char in padded]
    return [table.get(padded[k : k + size], none) for k in range(len(padded) - size + 1)]
