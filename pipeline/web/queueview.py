"""The queue page: filters from the query string, one page of posts, and the counts beside the filters."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from ..records import DeliveryStatus, PostStatus
from ..store.listing import PostRow, QueueFilter

if TYPE_CHECKING:
    from ..flow import Runtime

PER_PAGE = 50
STATUSES: tuple[str, ...] = (*PostStatus, *DeliveryStatus)  # no name is both a post and a delivery state


@dataclass(frozen=True)
class Filters:
    """The queue's filters as the page shows them; dates are local days in the project's timezone."""

    status: str = ""
    channel: str = ""
    job: str = ""
    start: dt.date | None = None
    end: dt.date | None = None  # inclusive
    page: int = 1

    def link(self, **changes: Any) -> str:
        """The query string of these filters with some changed (back to page 1 unless a page is given)."""
        new = dataclasses.replace(self, **({"page": 1} | changes))
        start, end = (day.isoformat() if day else "" for day in (new.start, new.end))
        params = dict(status=new.status, channel=new.channel, job=new.job, page=new.page if new.page > 1 else "")
        return "?" + urlencode({key: value for key, value in (params | {"from": start, "to": end}).items() if value})

    def for_store(self, tz: dt.tzinfo) -> QueueFilter:
        after = self.end + dt.timedelta(days=1) if self.end else None
        chosen = (self.status or None, self.channel or None, self.job or None)
        return QueueFilter(*chosen, _utc(self.start, tz), _utc(after, tz))


def _utc(day: dt.date | None, tz: dt.tzinfo) -> dt.datetime | None:
    """The local midnight that starts `day`, in UTC."""
    return dt.datetime.combine(day, dt.time(), tz).astimezone(dt.UTC) if day else None


def parse(params: Mapping[str, str]) -> tuple[Filters, list[str]]:
    """Filters from a query string; each value that makes no sense is left out and named in a problem."""
    problems: list[str] = []
    found = Filters(
        status=_choice(params, "status", STATUSES, problems),
        channel=params.get("channel", ""),  # any name: a channel or job since removed still has posts
        job=params.get("job", ""),
        start=_date(params, "from", problems),
        end=_date(params, "to", problems),
        page=_page(params, problems),
    )
    return found, problems


def _choice(params: Mapping[str, str], key: str, known: Collection[str], problems: list[str]) -> str:
    value = params.get(key, "")
    if value and value not in known:
        problems.append(f"{key}: {value!r} is not one of {', '.join(known)}")
        return ""
    return value


def _date(params: Mapping[str, str], key: str, problems: list[str]) -> dt.date | None:
    value = params.get(key, "")
    try:
        return dt.date.fromisoformat(value) if value else None
    except ValueError:
        problems.append(f"{key}: {value!r} is not a date such as 2026-12-01")
        return None


def _page(params: Mapping[str, str], problems: list[str]) -> int:
    value = params.get("page", "1") or "1"
    if not value.isdigit() or int(value) < 1:
        problems.append(f"page: {value!r} is not a page number")
        return 1
    return int(value)


def context(rt: Runtime, params: Mapping[str, str]) -> dict[str, Any]:
    """What queue.html shows: the filters, their problems, the counts, and this page's rows."""
    filters, problems = parse(params)
    offset = (filters.page - 1) * PER_PAGE
    found = rt.store.queue_page(filters.for_store(rt.config.tz), PER_PAGE, offset)
    return dict(
        filters=filters,
        problems=problems,
        queue=found,
        rows=[row(post) for post in found.posts],
        pages=max(1, math.ceil(found.total / PER_PAGE)),
        statuses=STATUSES,
        channels=list(rt.config.channels),
        jobs=list(rt.config.jobs),
    )


def row(post: PostRow) -> dict[str, Any]:
    """One post's line: its deliveries counted by state (in the states' order), and those to act on."""
    counts = [(state, post.deliveries[state]) for state in DeliveryStatus if state in post.deliveries]
    return dict(post=post, counts=counts, attention=post.attention)
