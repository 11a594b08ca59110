"""Public fakes that stand beside the interfaces they imitate."""

from __future__ import annotations

import datetime as dt

from .clock import utc


class FakeClock:
    """A clock that moves only when told to: `sleep` advances it instantly."""

    def __init__(self, start: dt.datetime) -> None:
        self._now = utc(start)

    def now(self) -> dt.datetime:
        return self._now

    def sleep(self, seconds: float) -> None:
        self.advance(seconds)

    def advance(self, seconds: float) -> None:
        self._now += dt.timedelta(seconds=seconds)
