"""Tokens an API hands out, shared so that one process refreshes while the others reuse the result.

`renew` re-reads under a lock before fetching: a process that waited for the lock finds the token
another one just fetched and uses it, so a refresh happens once (WeChat counts every one).
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from .. import secrets
from ..records import Token

if TYPE_CHECKING:
    from ..store import Store

Good = Callable[[Token | None], bool]
Fetch = Callable[[Token | None], Token]


class TokenCache(Protocol):
    def get(self, key: str) -> Token | None: ...

    def renew(self, key: str, good: Good, fetch: Fetch) -> Token: ...


class MemoryTokens:
    """Tokens for one process (tests, dry runs)."""

    def __init__(self) -> None:
        self._tokens: dict[str, Token] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> Token | None:
        return _registered(self._tokens.get(key))

    def renew(self, key: str, good: Good, fetch: Fetch) -> Token:
        with self._lock:
            current = self._tokens.get(key)
            if not good(current):
                current = self._tokens[key] = fetch(current)
            return _registered(current)  # type: ignore[return-value]


class StoredTokens:
    """Tokens in the store's tokens table, renewed under a row lock (a write lock on SQLite).

    A token read is kept for `keep` seconds, so a busy worker does not read it before every request.
    That is safe because a token another process replaced meanwhile is only ever used until the API
    refuses it, and the refresh that follows reads the store under the lock first.
    """

    def __init__(self, store: Store, keep: float = 10.0) -> None:
        self.store, self.keep = store, keep
        self._read: dict[str, tuple[float, Token | None]] = {}

    def get(self, key: str) -> Token | None:
        read_at, token = self._read.get(key, (-math.inf, None))
        if time.monotonic() - read_at > self.keep:
            token = _registered(self.store.token(key))
            self._read[key] = (time.monotonic(), token)
        return token

    def renew(self, key: str, good: Good, fetch: Fetch) -> Token:
        token = _registered(self.store.renew_token(key, good, fetch))
        self._read[key] = (time.monotonic(), token)
        return token  # type: ignore[return-value]


def _registered(token: Token | None) -> Token | None:
    if token is not None:
        secrets.register(token.value, *token.extra.values())
    return token


class OAuthPair:
    """A user's access/refresh pair, configured by hand and refreshed through the API.

    Only what the API hands out is stored (and shared by every process); the configured pair stays
    in the environment. A fingerprint of it, kept with the stored pair, tells when someone has
    configured a new pair, which then takes over from the stored one.
    """

    def __init__(self, cache: TokenCache, key: str, access: str, refresh: str, renew: Callable[[Token], Token]) -> None:
        self.cache, self.key, self._renew = cache, key, renew
        seed = hashlib.sha256(f"{access}\n{refresh}".encode()).hexdigest()[:16]
        self.configured = Token(access, extra={"refresh": refresh, "seed": seed} if refresh else {"seed": seed})

    def current(self) -> Token:
        stored = self.cache.get(self.key)
        return stored if self._ours(stored) else self.configured  # type: ignore[return-value]

    def refreshed(self, stale: Token) -> Token:
        """A new pair, unless another process already replaced the stale one; `renew` must keep extra["seed"]."""
        return self.cache.renew(
            self.key,
            lambda token: self._ours(token) and token is not None and token.value != stale.value,
            lambda token: self._renew(token if self._ours(token) and token is not None else self.configured),
        )

    def _ours(self, token: Token | None) -> bool:
        return token is not None and token.extra.get("seed") == self.configured.extra["seed"]
