"""How `shortline queue` shows a post: as JSON, or as lines of text in the project's time zone."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import datetime as dt
    import zoneinfo

    from ..records import AuditEvent, Delivery, Edit, Post


def post_json(post: Post) -> dict[str, Any]:
    return {
        "id": post.id,
        "job_id": post.job_id,
        "fire_time": post.fire_time.isoformat(),
        "status": post.status,
        "title": post.title,
        "deliveries": [_delivery_json(d) for d in post.deliveries],
    }


def _delivery_json(d: Delivery) -> dict[str, Any]:
    return {
        "id": d.id,
        "channel": d.channel,
        "lang": d.variant.lang,
        "status": d.status,
        "attempt": d.attempt,
        "due_at": d.due_at.isoformat(),
        "remote_id": d.remote_id,
        "url": d.url,
        "error": d.error,
    }


def audit_json(event: AuditEvent) -> dict[str, Any]:
    fields = ("actor", "from_status", "to_status", "reason", "delivery_id")
    return {k: getattr(event, k) for k in fields} | {"at": event.at.isoformat()}


def edit_json(edit: Edit) -> dict[str, Any]:
    fields = ("id", "channel", "lang", "actor", "before", "after")
    return {k: getattr(edit, k) for k in fields} | {"at": edit.at.isoformat(), "diff": edit.diff}


def post_lines(post: Post, trail: list[AuditEvent], edits: list[Edit], tz: zoneinfo.ZoneInfo) -> Iterator[str]:
    """The post, its deliveries, its audit trail and its edits (as diffs), times in `tz`."""
    local = functools.partial(_local, tz=tz)
    yield f"post {post.id}  {post.status}  {post.job_id}  at {local(post.fire_time)} ({tz.key})\n  {post.title}"
    yield "deliveries:"
    for d in sorted(post.deliveries, key=lambda d: d.id):
        extra = "".join(f"  {label} {value}" for label, value in (("url", d.url), ("error", d.error)) if value)
        yield f"  {d.id:>5}  {d.channel} ({d.variant.lang})  {d.status}  due {local(d.due_at)}{extra}"
    yield "audit:"
    for e in trail:
        on = f" delivery {e.delivery_id}" if e.delivery_id else ""
        yield f"  {local(e.at)}  {e.actor}{on}: {e.from_status or '-'} → {e.to_status}  {e.reason or ''}".rstrip()
    yield "edits:" if edits else "edits: none"
    for edit in edits:
        yield f"  {local(edit.at)}  {edit.actor}: {edit.channel} ({edit.lang})"
        yield from (f"    {line}" for line in edit.diff)


def _local(when: dt.datetime, tz: zoneinfo.ZoneInfo) -> str:
    """A stored (UTC) time in the project's time zone."""
    return f"{when.astimezone(tz):%Y-%m-%d %H:%M}"
