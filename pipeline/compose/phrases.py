"""BudouX phrase boundaries, scored for a whole sentence at once with numpy.

BudouX's own `Parser.parse` scores each position in a Python loop of thirteen dictionary lookups
(the characters and the two- and three-character strings around it). This computes exactly the
same scores from BudouX's own Chinese model in a handful of array operations: characters become
small ids (0 for any character the model never mentions, and for the padding past either end),
every feature key packs its feature number and up to three ids into one int64, and all keys of all
positions are looked up with one binary search. A test checks it against `Parser.parse`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Ints = npt.NDArray[np.int64]
BITS = 14  # bits per character id (the model mentions a few thousand characters)
PAD = 3  # padding positions on each side, so that every offset stays inside the array
# feature → the offsets of its characters from the position before which a phrase may start
FEATURES = {
    "UW1": (-3,), "UW2": (-2,), "UW3": (-1,), "UW4": (0,), "UW5": (1,), "UW6": (2,),
    "BW1": (-2, -1), "BW2": (-1, 0), "BW3": (0, 1),
    "TW1": (-3, -2, -1), "TW2": (-2, -1, 0), "TW3": (-1, 0, 1), "TW4": (0, 1, 2),
}  # fmt: skip


@dataclass(frozen=True)
class _Model:
    chars: Ints  # code points the model mentions, sorted; a character's id is its index + 1
    keys: Ints  # every packed feature key, sorted
    scores: Ints  # the score of each key
    offsets: Ints  # (feature, slot): offset of the slot's character, left-padded with "none"
    threshold: float  # a phrase starts where the summed score exceeds this

    def ids(self, text: str) -> Ints:
        codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.int64)
        found = np.minimum(np.searchsorted(self.chars, codes), len(self.chars) - 1)
        return np.where(self.chars[found] == codes, found + 1, 0)


NONE = 10**6  # a slot a feature does not use; it reads the id 0


@functools.cache
def _model() -> _Model:
    import budoux  # loaded on first use: the model takes a while to read

    model = budoux.load_default_simplified_chinese_parser().model
    chars = np.array(sorted({ord(c) for group in model.values() for key in group for c in key}), dtype=np.int64)
    index = {int(code): i + 1 for i, code in enumerate(chars)}
    entries = sorted(
        (_pack(number, [index[ord(c)] for c in key]), score)
        for number, feature in enumerate(FEATURES)
        for key, score in model.get(feature, {}).items()
    )
    offsets = np.array([(NONE,) * (3 - len(o)) + o for o in FEATURES.values()], dtype=np.int64)
    threshold = sum(sum(group.values()) for group in model.values()) * 0.5
    keys, scores = (np.array(column, dtype=np.int64) for column in zip(*entries, strict=True))
    return _Model(chars, keys, scores, offsets, threshold)


def _pack(number: int, ids: list[int]) -> int:
    packed = number
    for char_id in [0] * (3 - len(ids)) + ids:
        packed = (packed << BITS) | char_id
    return packed


def boundaries(text: str) -> set[int]:
    """The ends of BudouX's phrases in `text`, the end of the text included (as its chunk lengths add up)."""
    n = len(text)
    if n < 2:
        return {n}
    model = _model()
    ids = np.zeros(n + 2 * PAD + 1, dtype=np.int64)  # the last element is the "none" slot's 0
    ids[PAD : PAD + n] = model.ids(text)
    positions = np.arange(PAD + 1, PAD + n, dtype=np.int64)
    where = np.where(model.offsets[:, :, None] == NONE, -1, model.offsets[:, :, None] + positions)
    slots = ids[where]  # (feature, slot, position)
    packed = np.arange(len(FEATURES), dtype=np.int64)[:, None]
    for slot in range(3):
        packed = (packed << BITS) | slots[:, slot, :]
    found = np.minimum(np.searchsorted(model.keys, packed), len(model.keys) - 1)
    scores = np.where(model.keys[found] == packed, model.scores[found], 0).sum(axis=0)
    return {int(i) + 1 for i in np.flatnonzero(scores > model.threshold)} | {n}
