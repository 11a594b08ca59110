"""What the contract suite needs to know about each API: its emulator, its channel, its outcomes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from pipeline.clock import Clock
from pipeline.config import ChannelConfig
from pipeline.publish import Publisher
from tests.emulators.base import Emulator, Fault

# Every fault the suite injects into each API's create call; the outcome is "published" unless
# the API's contract says otherwise (unknown where the API offers no way to know).
# Factories, because an HTTP-date is only right when made.
FAULTS: dict[str, Callable[[], Fault]] = {
    "server_error": lambda: Fault.server_error(503),
    "rate_limited": lambda: Fault.rate_limited(2),
    "rate_limited_date": lambda: Fault.rate_limited(3, as_date=True),
    "reset": Fault.reset,
    "slow": lambda: Fault.slow(1.0),
    "commit_then_timeout": lambda: Fault.commit_then_timeout(1.0),
    "token_expired": Fault.token_expired,
}


@dataclass(frozen=True)
class Contract:
    type: str
    publisher: type[Publisher]
    emulator: Callable[[Clock], Emulator]  # given the clock the publisher sees
    channel: Callable[[Emulator], ChannelConfig]  # points base_url at the running emulator
    secrets: dict[str, str]  # environment variables the channel's ${...} references read
    create: str  # the emulator endpoint that creates the post: faults are injected there
    posts: Callable[[Emulator], int]  # how many posts the emulator holds
    outcomes: dict[str, str] = field(default_factory=dict)  # fault → outcome, where not "published"
    lang: str = "zh"

    def expected(self, fault: str) -> str:
        return self.outcomes.get(fault, "published")
