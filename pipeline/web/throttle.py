"""Login throttling: after LIMIT failed logins within WINDOW for one user name, or from one client
address, further attempts for that name or address are refused (429 with Retry-After) before any
password is hashed.

The counts live in this process's memory, which suits the one preview process that `shortline
serve` or `shortline run` starts: a restart forgets them, and several processes would each keep
their own. Time comes from the runtime's Clock, so tests move it instead of waiting. A success
clears its name's failures but never its address's, so that one account's password buys no more
guesses at another. Attempts still being checked count against the limit too: a burst of parallel
requests gets no more than LIMIT of them past the check. (The `limits` package reads the system
time itself, hence this small class.)
"""

from __future__ import annotations

import datetime as dt
import math
import threading
from collections import OrderedDict, deque
from dataclasses import dataclass, field

from ..clock import Clock

__all__ = ["LIMIT", "MAX_NAME", "WINDOW", "LoginThrottle"]

LIMIT = 5
WINDOW = dt.timedelta(minutes=15)
MAX_KEYS = 10_000  # the least recently failed are forgotten first: a spray of names cannot fill the memory
MAX_NAME = 64  # no user name is longer (config.USER_NAME); a longer one is keyed by its first 64 characters

Key = tuple[str, str]  # ("name", "alice") or ("address", "203.0.113.7")


@dataclass
class _Record:
    failures: deque[dt.datetime] = field(default_factory=deque)
    pending: int = 0  # attempts admitted and not settled yet


def _keys(name: str, address: str) -> tuple[Key, Key]:
    return ("name", name[:MAX_NAME]), ("address", address)


class LoginThrottle:
    """Failed logins per user name and per client address, in a sliding window."""

    def __init__(self, clock: Clock, limit: int = LIMIT, window: dt.timedelta = WINDOW) -> None:
        self.clock, self.limit, self.window = clock, limit, window
        self._records: OrderedDict[Key, _Record] = OrderedDict()
        self._lock = threading.Lock()

    def admit(self, name: str, address: str) -> int | None:
        """None: the attempt may check its password, and must be settle()d after; else the seconds to
        wait before the next attempt may be made."""
        now, keys = self.clock.now(), _keys(name, address)
        with self._lock:
            waits = [wait for key in keys if (wait := self._wait(self._record(key, now), now)) is not None]
            if not waits:
                for key in keys:
                    self._records[key].pending += 1
            self._forget(keys)
        return max(waits, default=None)

    def settle(self, name: str, address: str, succeeded: bool) -> None:
        """The outcome of an admitted attempt: a failure counts for its name and its address; a
        success clears its name's failures."""
        now, keys = self.clock.now(), _keys(name, address)
        with self._lock:
            for key in keys:
                record = self._record(key, now)
                record.pending = max(0, record.pending - 1)
                if not succeeded:
                    record.failures.append(now)
                    self._records.move_to_end(key)
            if succeeded:
                self._records[keys[0]].failures.clear()
            self._forget(keys)

    def _record(self, key: Key, now: dt.datetime) -> _Record:
        """The key's record, without the failures older than the window."""
        record = self._records.setdefault(key, _Record())
        while record.failures and record.failures[0] <= now - self.window:
            record.failures.popleft()
        return record

    def _wait(self, record: _Record, now: dt.datetime) -> int | None:
        """Seconds until one more attempt fits under the limit; None if it fits now."""
        excess = len(record.failures) + record.pending - self.limit
        if excess < 0:
            return None
        if excess >= len(record.failures):
            return 1  # only attempts still being checked stand in the way: they settle within a second
        freed = record.failures[excess] + self.window
        return max(1, math.ceil((freed - now).total_seconds()))

    def _forget(self, keys: tuple[Key, Key]) -> None:
        """Drop the records that hold nothing, then the least recently failed beyond MAX_KEYS."""
        for key in keys:
            record = self._records.get(key)
            if record is not None and not record.failures and not record.pending:
                del self._records[key]
        while len(self._records) > MAX_KEYS:
            self._records.popitem(last=False)
