"""Bounded caches for rendering: the least recently used entry goes first, by count and by bytes.

Every cache here is registered by name, so tests and benchmarks can clear them all (`clear_all`)
and check their sizes (`stats`). Values are shared, never copied: a cached value must not be
changed by whoever gets it (draw.py copies a cached base image before painting on it).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, NamedTuple, Protocol, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Stats(NamedTuple):
    items: int
    bytes: int
    max_items: int
    max_bytes: int | None
    hits: int
    misses: int


class _Cache(Protocol):
    def clear(self) -> None: ...

    def stats(self) -> Stats: ...


_REGISTRY: dict[str, _Cache] = {}
_CLEARERS: list[Callable[[], None]] = []


class LRU(Generic[K, V]):
    """A dict that forgets its least recently used entries beyond `max_items` or `max_bytes`.

    With `max_bytes`, `weigh(value)` gives each value's size; a value heavier than the whole
    budget is returned but not kept. Safe to share between threads.
    """

    def __init__(
        self,
        name: str,
        max_items: int,
        max_bytes: int | None = None,
        weigh: Callable[[V], int] | None = None,
        *,
        register: bool = True,
    ) -> None:
        if max_items < 1 or (max_bytes is not None and weigh is None):
            raise ValueError("an LRU needs max_items >= 1, and weigh() with max_bytes")
        self.name = name
        self.max_items = max_items
        self.max_bytes = max_bytes
        self._weigh = weigh
        self._data: OrderedDict[K, tuple[V, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0
        if register:
            _REGISTRY[name] = self

    def get(self, key: K) -> V | None:
        with self._lock:
            entry = self._data.get(key)
            if entry is None:
                self.misses += 1
                return None
            self._data.move_to_end(key)
            self.hits += 1
            return entry[0]

    def put(self, key: K, value: V) -> V:
        weight = self._weigh(value) if self._weigh is not None else 0
        if self.max_bytes is not None and weight > self.max_bytes:
            return value
        with self._lock:
            old = self._data.pop(key, None)
            if old is not None:
                self._bytes -= old[1]
            self._data[key] = (value, weight)
            self._bytes += weight
            while len(self._data) > self.max_items or (self.max_bytes is not None and self._bytes > self.max_bytes):
                _, (_, dropped) = self._data.popitem(last=False)
                self._bytes -= dropped
        return value

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
            self._bytes = 0
            self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: K) -> bool:
        return key in self._data

    def stats(self) -> Stats:
        return Stats(len(self._data), self._bytes, self.max_items, self.max_bytes, self.hits, self.misses)


def on_clear(clear: Callable[[], None]) -> None:
    """Also run `clear` (say, an lru_cache's cache_clear) in clear_all()."""
    _CLEARERS.append(clear)


def clear_all() -> None:
    """Empty every rendering cache (and the font and shaping caches), as in a fresh process."""
    for cache in _REGISTRY.values():
        cache.clear()
    for clear in _CLEARERS:
        clear()


def stats() -> dict[str, Stats]:
    return {name: cache.stats() for name, cache in _REGISTRY.items()}
