"""Memos of composing's per-text and per-block functions, kept out of the garbage collector's way.

A composing process remembers thousands of recent texts and blocks. functools.lru_cache keeps each
result under a key tuple, one more object for the collector to track and walk on every full
collection; a Memo keeps results in plain dicts, keyed by the argument itself. A dict from str to
int or str holds nothing the collector tracks, so it is not walked at all.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


_MISSING = object()


class Memo(Generic[K, V]):
    """`function(key)` for keys seen lately. The newer of two dicts is retired when full, so a result
    is made again only after it went unused for a whole generation of `size` keys. Threads may share
    one: a race can only make a result twice (`function` must be pure)."""

    __slots__ = ("__wrapped__", "new", "old", "size")

    def __init__(self, function: Callable[[K], V], size: int = 8192) -> None:
        self.__wrapped__, self.size = function, size
        self.new: dict[K, V] = {}
        self.old: dict[K, V] = {}

    def __call__(self, key: K) -> V:
        found = self.new.get(key, _MISSING)  # one lookup: a block's tuple hash is made anew on each
        return self._miss(key) if found is _MISSING else found  # type: ignore[return-value]

    def many(self, keys: Iterable[K]) -> list[V]:
        """[self(key) for key in keys], with one call."""
        get, miss = self.new.get, self._miss
        return [miss(key) if (found := get(key, _MISSING)) is _MISSING else found for key in keys]  # type: ignore[misc]

    def _miss(self, key: K) -> V:
        old = self.old
        found = old[key] if key in old else self.__wrapped__(key)
        if len(self.new) >= self.size:
            self.old, self.new = self.new, {}
        self.new[key] = found
        return found
