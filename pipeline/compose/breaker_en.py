"""English break candidates for breaker.py: one penalty per gap between words, None = forbidden.

A small table, not a parser: clause punctuation is the best place to break, then before a
conjunction, a preposition, a determiner, a verb; anywhere else costs the most.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Sequence

DANGLING = frozenset({"a", "an", "the", "of", "to", "in"})
CONJUNCTIONS = frozenset({"and", "or", "but", "while", "which", "that", "as", "so"})
PREPOSITIONS = frozenset(
    {"of", "in", "at", "on", "to", "with", "among", "including", "from", "for", "by", "into", "across", "around"}
)
DETERMINERS = frozenset({"a", "an", "the", "its", "their", "our", "this", "these", "those", "every", "each"})
VERBS = frozenset({"is", "are", "was", "were", "has", "have", "had", "will", "can", "ranks", "ranked", "remains"})
QUALIFIERS = frozenset({"than", "over", "about", "nearly", "almost", "around", "approximately", "some"})
COMPARATIVES = frozenset({"more", "less", "fewer"})
# Capitalised at the start of a sentence, these do not begin a proper noun.
SMALL_WORDS = DANGLING | CONJUNCTIONS | PREPOSITIONS | DETERMINERS | VERBS | {"it", "we", "there", "here"}

PEN_CLAUSE, PEN_CONJ, PEN_PREP, PEN_DET, PEN_VERB, PEN_PLAIN = 0.0, 3.0, 5.0, 7.0, 10.0, 20.0
PEN_TITLE = 22.0  # inside a long capitalised run, e.g. a report's title
PEN_TIGHT = 40.0  # between "more" and "than"
MAX_NAME_WORDS = 3  # capitalised runs up to this long are names and never broken

_BEFORE = {w: p for p, ws in ((PEN_VERB, VERBS), (PEN_DET, DETERMINERS), (PEN_PREP, PREPOSITIONS),
                              (PEN_CONJ, CONJUNCTIONS)) for w in ws}  # fmt: skip
CLAUSE_END = re.compile(r"[,;:—–…!?.][\"'”’)\]]*$")
NUMBER = re.compile(r"[\"'“‘(\[]*[$¥€£]?\d[\d.,]*\+?")
OPENERS = "\"'“‘([{"
CLOSERS = ",.;:!?)]}”’…"
CORE = re.compile(r"[\"'“‘(\[{]*(.*?)[\"'”’)\]},;:.!?…—–]*")


def core(word: str) -> str:
    """The word without surrounding quotes, brackets and punctuation, lower-cased."""
    match = CORE.fullmatch(word)
    return (match.group(1) if match else word).lower()


def gap_penalties(words: Sequence[str]) -> list[float | None]:
    """Penalty of a break after words[k], for every k but the last. A gap's penalty depends on its two
    words only, and a new paragraph mostly repeats the word pairs of earlier ones (a new figure makes
    two new pairs), so each pair is weighed once."""
    penalties = list(itertools.starmap(_penalty, itertools.pairwise(words)))
    for start, end in _capitalised_runs(words):
        inside = None if end - start <= MAX_NAME_WORDS else PEN_TITLE
        for k in range(start, end - 1):
            penalties[k] = inside if penalties[k] is not None else None
    return penalties


@functools.lru_cache(maxsize=16384)
def _penalty(left: str, right: str) -> float | None:
    if _forbidden(left, right):
        return None
    if CLAUSE_END.search(left):
        return PEN_CLAUSE
    if left.lower() in COMPARATIVES and right.lower() == "than":
        return PEN_TIGHT
    return _BEFORE.get(core(right), PEN_PLAIN)


def _forbidden(left: str, right: str) -> bool:
    bare = left.lower()
    return (
        bare in DANGLING  # never leave "the" or "of" hanging at a line end
        or NUMBER.fullmatch(left) is not None  # "23 | sister cities"
        or (bare in QUALIFIERS and NUMBER.match(right) is not None)  # "more than | 220"
        or right[0] in CLOSERS
        or all(char in OPENERS for char in left)
    )


def _capitalised_runs(words: Sequence[str]) -> list[tuple[int, int]]:
    """Word ranges [start, end) of two or more joined capitalised words: Northeast China."""
    runs: list[tuple[int, int]] = []
    start = 0
    for joined, pairs in itertools.groupby(map(_joined, words, words[1:])):
        count = len(list(pairs))
        if joined:
            runs.append((start, start + count + 1))
        start += count
    return runs


@functools.lru_cache(maxsize=16384)
def _joined(left: str, right: str) -> bool:
    return _capitalised(left) and left[-1].isalnum() and right[0].isupper() and _capitalised(right)


def _capitalised(word: str) -> bool:
    stripped = word.lstrip(OPENERS)
    return stripped[:1].isupper() and core(word) not in SMALL_WORDS
