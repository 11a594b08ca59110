"""Circuit breakers, one per channel, their state shared by every worker through the store.

    closed ──(`failures` temporary failures or unknown outcomes in a row)──► open
    open ──(its cool-down is over)──► half-open: one delivery at a time goes through (the claim's cap)
    half-open ──(that delivery is published)──► closed
    half-open ──(it fails too)──► open, for another cool-down

While a breaker is open nothing is sent to its channel: the Gate moves the due deliveries to the end
of the cool-down, and a worker hands back unsent what it had claimed, no attempt used. Any answer that
shows the service works closes it, whichever worker saw it: a receipt (recorded in the same transaction
as the receipt, by Store.finish) or refused content.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping

from ..clock import Clock
from ..config import BreakerConfig
from ..store import BreakerState, Store

log = logging.getLogger(__name__)


def after_failure(state: BreakerState, settings: BreakerConfig, now: dt.datetime) -> BreakerState:
    """One more failure in a row: the breaker opens at the threshold, and again at once when half-open."""
    failures = state.failures + 1
    if failures < settings.failures and not state.half_open(now):
        return BreakerState(failures, state.open_until)
    return BreakerState(failures, now + settings.cooldown)


class Breakers:
    def __init__(self, store: Store, settings: Mapping[str, BreakerConfig], clock: Clock) -> None:
        self.store, self.settings, self.clock = store, settings, clock

    def failed(self, channel: str) -> BreakerState:
        """Count a temporary failure or unknown outcome; the breaker's state after it."""
        now, settings = self.clock.now(), self.settings[channel]
        state = self.store.change_breaker(channel, lambda current: after_failure(current, settings, now))
        if state.open_until == now + settings.cooldown:
            log.warning("channel %s: circuit breaker open after %d failures in a row, until %s",
                        channel, state.failures, state.open_until.isoformat())  # fmt: skip
        return state

    def answered(self, channel: str) -> None:
        """The service answered (without a receipt, which closes the breaker by itself)."""
        self.store.close_breaker(channel)
