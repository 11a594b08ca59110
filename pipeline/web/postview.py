"""The post page's model: a post's deliveries by channel and language, each with the mockup of what
its publisher will send, the audit trail, the kept edits, and the actions the current states allow.

web-core's handler renders post.html with `context(rt, post_id)` plus `user`, `csrf_token`,
`message` and `tz`; actions are offered to editors only, and only where the store's transitions
(pipeline/store: POST_FROM, DELIVERY_FROM) let them succeed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..config import ChannelConfig
from ..publish import Services
from ..records import AuditEvent, Delivery, DeliveryStatus, Post, PostStatus
from ..review import Edit, edits
from ..store import DELIVERY_FROM, POST_FROM
from .mockups import Mockup, mockup

if TYPE_CHECKING:
    from ..flow import Runtime

__all__ = ["AuditRow", "ChannelGroup", "DeliveryView", "DiffLine", "EditView", "PostActions", "context"]

UNSENT = frozenset(DELIVERY_FROM[DeliveryStatus.CANCELLED])  # pending, scheduled, failed: may still change
REVIEWABLE = frozenset(POST_FROM[PostStatus.APPROVED] & POST_FROM[PostStatus.REJECTED])
LOCAL_MINUTE = "%Y-%m-%dT%H:%M"  # the reschedule form's `at`, in the project's timezone


@dataclass(frozen=True)
class DeliveryView:
    """One channel variant on the page: its delivery, its mockup, and what an editor may do to it."""

    delivery: Delivery
    mockup: Mockup
    editable: bool

    @property
    def retry(self) -> bool:
        return self.delivery.status is DeliveryStatus.FAILED

    @property
    def resolve(self) -> bool:
        return self.delivery.status is DeliveryStatus.UNKNOWN


@dataclass(frozen=True)
class ChannelGroup:
    name: str
    type: str
    views: tuple[DeliveryView, ...]


@dataclass(frozen=True)
class PostActions:
    """The post-wide actions the current states allow."""

    approve: bool
    reject: bool
    cancel: bool
    reschedule: bool
    rerender: bool

    @property
    def any(self) -> bool:
        return self.approve or self.reject or self.cancel or self.reschedule or self.rerender


@dataclass(frozen=True)
class DiffLine:
    text: str
    kind: str  # "add", "del", "hunk", "file" or "same"


@dataclass(frozen=True)
class EditView:
    edit: Edit
    lines: tuple[DiffLine, ...]


@dataclass(frozen=True)
class AuditRow:
    event: AuditEvent
    subject: str  # "post", or the delivery's "channel · lang"


def context(rt: Runtime, post_id: int) -> dict[str, Any]:
    """Everything post.html shows; raises NotFound for an unknown post."""
    post = rt.store.post(post_id)
    actions = post_actions(post)
    return {
        "post": post,
        "channels": channel_groups(rt, post),
        "actions": actions,
        "reschedule_at": _reschedule_default(rt, post) if actions.reschedule else None,
        "audit": audit_rows(rt, post),
        "edits": [edit_view(edit) for edit in edits(rt, post_id)],
    }


def post_actions(post: Post) -> PostActions:
    unsent = any(d.status in UNSENT for d in post.deliveries)
    reviewable = post.status in REVIEWABLE
    live = post.status is not PostStatus.REJECTED
    return PostActions(reviewable, reviewable, unsent, unsent, unsent and live)


def channel_groups(rt: Runtime, post: Post) -> list[ChannelGroup]:
    """Deliveries by channel, in schedule.yaml's order (channels since removed last), languages in order."""
    services = Services(rt.project.root)
    live = post.status is not PostStatus.REJECTED
    order = list(rt.config.channels)
    groups: dict[str, list[DeliveryView]] = {}
    for delivery in sorted(post.deliveries, key=lambda d: _position(order, d)):
        shown = mockup(delivery, _config(rt, delivery), services)
        editable = live and delivery.status in UNSENT
        groups.setdefault(delivery.channel, []).append(DeliveryView(delivery, shown, editable))
    return [ChannelGroup(name, views[0].mockup.type, tuple(views)) for name, views in groups.items()]


def _position(order: list[str], delivery: Delivery) -> tuple[int, str, str]:
    channel = order.index(delivery.channel) if delivery.channel in order else len(order)
    return channel, delivery.channel, delivery.variant.lang


def _config(rt: Runtime, delivery: Delivery) -> ChannelConfig:
    """The channel's configuration; a channel since removed from schedule.yaml is shown with its type's defaults."""
    found = rt.config.channels.get(delivery.channel)
    return found if found is not None else ChannelConfig.model_validate({"type": delivery.variant.type})


def _reschedule_default(rt: Runtime, post: Post) -> str:
    due = min(d.due_at for d in post.deliveries if d.status in UNSENT)
    return due.astimezone(rt.config.tz).strftime(LOCAL_MINUTE)


def audit_rows(rt: Runtime, post: Post) -> list[AuditRow]:
    names = {d.id: f"{d.channel} · {d.variant.lang}" for d in post.deliveries}
    trail = rt.store.audit_trail(post.id)
    return [AuditRow(event, names.get(event.delivery_id, "post") if event.delivery_id else "post") for event in trail]


def edit_view(edit: Edit) -> EditView:
    return EditView(edit, tuple(DiffLine(line.rstrip("\n"), _diff_kind(line)) for line in edit.diff))


def _diff_kind(line: str) -> str:
    if line.startswith(("+++", "---")):
        return "file"
    if line.startswith("@@"):
        return "hunk"
    return {"+": "add", "-": "del"}.get(line[:1], "same")
