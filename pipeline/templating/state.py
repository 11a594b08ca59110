"""Per-post template state: deterministic variation, and the numbers a post may print.

A template may offer alternative wordings with `one_of("links", "connects", "joins")`. The choice
is seeded by the post's identity, so the same post always reads the same, and no wording is used
twice within one post. Phrases marked with `keep(...)` are never split by the line breaker.
Every number a filter prints is remembered, so that the composed text can
be checked for numbers that no fact supports.
"""

from __future__ import annotations

import functools
import hashlib
import random
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import regex

NUMBER_PATTERN = r"\d+(?:[.,]\d+)*"


@functools.cache
def _number() -> regex.Pattern[str]:
    import regex  # slow to import; cards, which never check numbers, do without it

    return regex.compile(NUMBER_PATTERN)


def __getattr__(name: str) -> regex.Pattern[str]:
    """`NUMBER`, the compiled pattern of a number, made on first use."""
    if name == "NUMBER":
        return _number()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@functools.lru_cache(maxsize=8192)
def number_tokens(text: str) -> frozenset[str]:
    """The numbers in a text, with grouping commas removed: "1,234 and 4.5" → {"1234", "4.5"}."""
    if text.isascii() and text.isdigit():  # a figure as a filter prints it
        return frozenset((text,))
    tokens = _number().findall(text)
    return frozenset(token.replace(",", "") for token in tokens) if "," in text else frozenset(tokens)


class PostState:
    def __init__(self, identity: str, allowed_numbers: Iterable[str] = ()) -> None:
        self.identity = identity
        self.used: set[str] = set()
        self.numbers: set[str] = set(allowed_numbers)
        self.protected: set[str] = set()  # phrases the line breaker keeps whole

    @functools.cached_property
    def rng(self) -> random.Random:
        """Seeded by the post's identity on the first choice: most posts make none."""
        return random.Random(int.from_bytes(hashlib.sha256(self.identity.encode()).digest()[:8], "big"))

    def one_of(self, options: tuple[str, ...]) -> str:
        fresh = sorted(set(options) - self.used)
        if not fresh:
            raise ValueError(f"every wording of {list(options)} is already used in this post")
        choice = self.rng.choice(fresh)
        self.used.add(choice)
        return choice

    def allow(self, text: str) -> str:
        """Record the numbers in a filter's output (or a literal the template vouches for)."""
        self.numbers |= number_tokens(text)
        return text

    def unsupported(self, text: str) -> list[str]:
        return sorted(number_tokens(text) - self.numbers, key=lambda n: (len(n), n))
