"""Public fakes that stand beside the interfaces they imitate."""

from __future__ import annotations

import datetime as dt
import socket
import time
from collections.abc import Callable

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


def free_port() -> int:
    """A loopback TCP port nothing listens on right now, for a server a test starts."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(what: str, condition: Callable[[], bool], seconds: float = 10.0, pause: float = 0.05) -> None:
    """Poll `condition` (another process's doing, in real time) until it holds; AssertionError naming
    `what` after `seconds`."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {seconds} s")
        time.sleep(pause)
