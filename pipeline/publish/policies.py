"""Each channel's publishing policy from schedule.yaml: when it may post (posting windows), how much
(quotas), how many deliveries at once (concurrency), and its circuit breaker's settings.

Windows and the daily quota are in the channel's timezone (the project's unless the channel names its
own). A window is a range of local wall-clock times, each day's turned into instants the way iCalendar
reads local times (RFC 5545): a time that a daylight-saving change skips takes the offset from before
the change (a window opening at 02:30 on the spring-forward night opens at 03:30), a repeated one is
its first showing. The per_hour quota is a rolling hour; per_day counts from local midnight.

The Gate applies them before each claim; the claim itself (store/channels.py) enforces concurrency and
quotas again, atomically, so that several workers together never exceed them.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from ..config import BreakerConfig, ChannelConfig, PostingWindow
from ..store import BreakerState, Quota, Store

HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)
# Our own endpoints take deliveries side by side; the social APIs dislike parallel posting (bursts trip
# their spam and rate-limit checks, and a duplicate check races its twin), so they default to one at a time.
PARALLEL_TYPES = frozenset({"outbox", "webhook"})
Published = Callable[[dt.datetime], tuple[int, dt.datetime | None]]  # since → how many, and the first when


@dataclass(frozen=True)
class Hold:
    """Why a channel sends nothing now, and until when its deliveries wait (None: their due time stays)."""

    reason: str
    until: dt.datetime | None = None


@dataclass(frozen=True)
class ChannelPolicy:
    tz: zoneinfo.ZoneInfo = field(default_factory=lambda: zoneinfo.ZoneInfo("UTC"))
    windows: tuple[PostingWindow, ...] = ()
    per_hour: int | None = None
    per_day: int | None = None
    concurrency: int | None = None  # None: no cap
    breaker: BreakerConfig = field(default_factory=BreakerConfig)

    @classmethod
    def of(cls, config: ChannelConfig) -> ChannelPolicy:
        concurrency = config.concurrency or (None if config.type in PARALLEL_TYPES else 1)
        tz = zoneinfo.ZoneInfo(config.timezone or "UTC")
        quota = config.quota
        return cls(tz, config.window, quota.per_hour, quota.per_day, concurrency, config.breaker)

    def quotas(self, now: dt.datetime) -> list[Quota]:
        """The claim's rule: at most so many published since the start of each quota's period."""
        return [quota for quota, _ in self._periods(now)]

    def closed_until(self, now: dt.datetime) -> dt.datetime | None:
        """None while a posting window is open (or the channel has none), else when the next one opens."""
        return next_opening(self.windows, self.tz, now)

    def spent(self, now: dt.datetime, published: Published) -> Hold | None:
        """A quota used up, if one is, and when it has room again; `published(since)` counts (and dates the
        first of) the channel's deliveries published since then."""
        for quota, name in self._periods(now):
            count, first = published(quota.since)
            if count >= quota.limit:
                frees = first + HOUR if name == "per_hour" and first else local_midnight(now + DAY, self.tz)
                return Hold(f"quota used up: {count} published, {name} {quota.limit}", frees)
        return None

    def _periods(self, now: dt.datetime) -> list[tuple[Quota, str]]:
        hour = [(Quota(now - HOUR, self.per_hour), "per_hour")] if self.per_hour else []
        day = [(Quota(local_midnight(now, self.tz), self.per_day), "per_day")] if self.per_day else []
        return hour + day


def next_opening(windows: Sequence[PostingWindow], tz: zoneinfo.ZoneInfo, now: dt.datetime) -> dt.datetime | None:
    """None while one of the windows is open (or there are none), else the instant the next one opens."""
    if not windows:
        return None
    today = now.astimezone(tz).date()
    spans = [_span(window, today + dt.timedelta(days=d), tz) for window in windows for d in (-1, 0, 1)]
    if any(start <= now < end for start, end in spans):
        return None
    return min(start for start, _ in spans if start > now)


def _span(window: PostingWindow, day: dt.date, tz: zoneinfo.ZoneInfo) -> tuple[dt.datetime, dt.datetime]:
    """The window on one local day, as instants; it ends on the next day when it runs past midnight."""
    ends = day + DAY if window.end <= window.start else day
    return _instant(day, window.start, tz), _instant(ends, window.end, tz)


def _instant(day: dt.date, time: dt.time, tz: zoneinfo.ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day, time, tzinfo=tz).astimezone(dt.UTC)  # fold=0: RFC 5545's reading


def local_midnight(now: dt.datetime, tz: zoneinfo.ZoneInfo) -> dt.datetime:
    """When the local day that contains `now` began."""
    return _instant(now.astimezone(tz).date(), dt.time(0), tz)


class Gate:
    """Before a claim: a channel outside its posting windows, with its breaker open or a quota used up,
    claims nothing, and its due deliveries wait: due time moved to when it may post again, audited, no
    attempt used."""

    def __init__(self, store: Store, policies: Mapping[str, ChannelPolicy]) -> None:
        self.store, self.policies = store, policies

    def open_channels(self, channels: Sequence[str], now: dt.datetime) -> list[str]:
        states = self.store.breakers(channels)
        held = {name: hold for name in channels if (hold := self.hold(name, states.get(name), now))}
        for name, hold in held.items():
            if hold.until is not None:
                self.store.postpone(name, now, hold.until, f"waiting: {hold.reason}; due {hold.until.isoformat()}")
        return [name for name in channels if name not in held]

    def hold(self, channel: str, breaker: BreakerState | None, now: dt.datetime) -> Hold | None:
        policy = self.policies[channel]
        opening = policy.closed_until(now)
        if opening is not None:
            windows = ", ".join(map(str, policy.windows))
            return Hold(f"outside the posting windows {windows} ({policy.tz.key})", opening)
        if breaker is not None and breaker.is_open(now):
            return Hold(f"circuit breaker open after {breaker.failures} failures in a row", breaker.open_until)
        return policy.spent(now, lambda since: self.store.published_since(channel, since))
