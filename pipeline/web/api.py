"""The JSON API under /api/: what the preview shows and does, for other systems; see /openapi.json.

Authentication: a user's API token (`Authorization: Bearer <token>`; `api_token` in schedule.yaml's
`users:`), or the preview's session cookie with the header `X-CSRF-Token` on every POST. Errors are
`{"detail": "..."}`: 401 not logged in, 403 not allowed, 404 no such post or delivery, 409 not in a
state that allows the action, 422 input refused (an over-long edit names the channel, count and limit).
Every action goes through pipeline/review.py, as the pages and the CLI do.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.security import HTTPBearer
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from .. import flow, review
from ..model import Card, Variant
from ..records import Delivery, DeliveryStatus, PostStatus
from . import calendar
from .auth import CurrentUser, Editor
from .pages import runtime
from .queueview import PER_PAGE, Filters

Runtime = Annotated[flow.Runtime, Depends(runtime)]
Days = Annotated[int, Query(ge=1, le=calendar.MAX_DAYS, description="How many days ahead")]


class Output(BaseModel):
    model_config = ConfigDict(from_attributes=True)  # built from the pipeline's dataclasses


class Error(Output):
    detail: str | list[dict[str, Any]] = Field(description="Why; for malformed input, one entry per field")


class Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


ERRORS: dict[int | str, dict[str, object]] = {
    401: {"model": Error, "description": "Not logged in: no session, or an unknown API token"},
    403: {"model": Error, "description": "Not allowed for this role, or the CSRF token is missing"},
}
ACTION_ERRORS: dict[int | str, dict[str, object]] = ERRORS | {
    404: {"model": Error, "description": "No such post or delivery"},
    409: {"model": Error, "description": "The post or delivery is not in a state that allows this"},
    422: {"model": Error, "description": "The input was refused; the detail says why"},
}
bearer = HTTPBearer(auto_error=False, description="A user's API token (schedule.yaml `users:`, `api_token`)")
router = APIRouter(prefix="/api", tags=["queue"], dependencies=[Depends(bearer)], responses=ERRORS)


# -- what the API returns -----------------------------------------------------------------------


class Me(Output):
    name: str
    role: str


class CardOut(Output):
    url: str = Field(description="Where the preview serves the image (login required)")
    width: int
    height: int
    alt: str


class VariantOut(Output):
    channel: str
    type: str
    lang: str
    text: str
    title: str | None
    digest: str | None
    cards: list[CardOut]


class DeliveryOut(Output):
    id: int
    channel: str
    lang: str
    status: DeliveryStatus
    due_at: dt.datetime


class DeliveryDetail(DeliveryOut):
    attempt: int
    remote_id: str | None
    url: str | None
    error: str | None
    variant: VariantOut


class AuditOut(Output):
    at: dt.datetime
    actor: str
    from_status: str | None
    to_status: str
    reason: str | None
    delivery_id: int | None


class EditOut(Output):
    id: int
    channel: str
    lang: str
    at: dt.datetime
    actor: str
    before: str
    after: str
    diff: list[str] = Field(description="Unified diff lines, before → after")


class PostBase(Output):
    id: int
    job_id: str
    fire_time: dt.datetime
    status: PostStatus
    title: str


class PostOut(PostBase):
    deliveries: dict[str, int] = Field(description="How many of the post's deliveries are in each state")
    attention: list[DeliveryOut] = Field(description="Its failed and unknown deliveries: an editor must act")


class PostDetail(PostBase):
    deliveries: list[DeliveryDetail]
    audit: list[AuditOut] = Field(description="Every transition, oldest first")
    edits: list[EditOut] = Field(description="Every edit of a variant's text, oldest first")


class Queue(Output):
    total: int = Field(description="Posts matching the filters, on every page")
    page: int
    per_page: int
    post_counts: dict[str, int] = Field(description="Posts per review status, under the other filters")
    delivery_counts: dict[str, int] = Field(description="Their deliveries per state, under the other filters")
    posts: list[PostOut]


class SlotOut(Output):
    at: dt.datetime
    channel: str
    job_id: str
    status: str = Field(description="The delivery's state, or `planned` for a job fire still to come")
    post_id: int | None
    title: str
    lang: str


# -- what the API takes -------------------------------------------------------------------------


class NewPost(Input):
    job: str = Field(description="A job of schedule.yaml: its facts, templates and channels make the post")
    fire_time: AwareDatetime | None = Field(None, description="The fire this post is for (default: now)")


class Reason(Input):
    reason: str = Field(min_length=1, max_length=2000)


class Reschedule(Input):
    at: AwareDatetime = Field(description="The new due time, with its UTC offset")
    channel: str | None = Field(None, description="Only this channel's deliveries (default: every channel)")


class EditText(Input):
    text: str = Field(min_length=1, max_length=100_000)


class Resolve(Input):
    url: str | None = Field(None, pattern=r"^https?://\S+$", description="Where the post was found published")
    publish_again: bool = Field(False, description="It did not go out: schedule it again")

    @model_validator(mode="after")
    def _one(self) -> Resolve:
        if (self.url is None) == (not self.publish_again):
            raise ValueError("give either url or publish_again: true")
        return self


# -- reads --------------------------------------------------------------------------------------


@router.get("/me")
def me(user: CurrentUser) -> Me:
    return Me(name=user.name, role=user.role)


@router.get("/posts")
def list_posts(
    rt: Runtime,
    user: CurrentUser,
    status: Annotated[PostStatus | DeliveryStatus | None, Query(description="A post or a delivery status")] = None,
    channel: str | None = None,
    job: str | None = None,
    start: Annotated[dt.date | None, Query(alias="from", description="First fire day, in the project's tz")] = None,
    end: Annotated[dt.date | None, Query(alias="to", description="Last fire day (inclusive)")] = None,
    page: Annotated[int, Query(ge=1)] = 1,
) -> Queue:
    """The queue, newest fire first, a page at a time, with the counts beside each filter."""
    filters = Filters(status or "", channel or "", job or "", start, end, page)
    found = rt.store.queue_page(filters.for_store(rt.config.tz), PER_PAGE, (page - 1) * PER_PAGE)
    posts = [PostOut.model_validate(post) for post in found.posts]
    return Queue(
        total=found.total,
        page=page,
        per_page=PER_PAGE,
        post_counts=found.post_counts,
        delivery_counts=found.delivery_counts,
        posts=posts,
    )


@router.get("/posts/{post_id}", responses=ACTION_ERRORS)
def get_post(rt: Runtime, user: CurrentUser, post_id: int) -> PostDetail:
    return post_detail(rt, post_id)


@router.get("/calendar")
def upcoming(rt: Runtime, user: CurrentUser, days: Days = calendar.DEFAULT_DAYS) -> list[SlotOut]:
    """Every channel's slots in the coming days: queued deliveries and job fires still to come."""
    now = rt.clock.now()
    found = calendar.slots(rt, now, now + dt.timedelta(days=days))
    return [SlotOut.model_validate(slot) for slots in found.values() for slot in slots]


# -- actions ------------------------------------------------------------------------------------


@router.post("/posts", status_code=201, responses=ACTION_ERRORS)
def queue_post(rt: Runtime, user: Editor, body: NewPost) -> PostDetail:
    """Make a job's post now from its facts and templates, and queue it (for review, unless the job
    says `review: auto`). 409 when this job's post for that fire time is queued already."""
    if body.job not in rt.config.jobs:
        raise HTTPException(422, f"no job named {body.job!r} (jobs: {', '.join(rt.config.jobs)})")
    post_id = flow.fire(rt, body.job, body.fire_time or rt.clock.now())
    if post_id is None:
        raise HTTPException(409, f"job {body.job}'s post for {body.fire_time} is queued already")
    return post_detail(rt, post_id)


@router.post("/posts/{post_id}/approve", responses=ACTION_ERRORS)
def approve(rt: Runtime, user: Editor, post_id: int) -> PostDetail:
    """Approve a post in review: its deliveries are scheduled."""
    review.approve(rt, post_id, user.name)
    return post_detail(rt, post_id)


@router.post("/posts/{post_id}/reject", responses=ACTION_ERRORS)
def reject(rt: Runtime, user: Editor, post_id: int, body: Reason) -> PostDetail:
    review.reject(rt, post_id, user.name, body.reason)
    return post_detail(rt, post_id)


@router.post("/posts/{post_id}/cancel", responses=ACTION_ERRORS)
def cancel(rt: Runtime, user: Editor, post_id: int, body: Reason) -> PostDetail:
    """Cancel every delivery of the post that has not gone out."""
    review.cancel(rt, post_id, user.name, body.reason)
    return post_detail(rt, post_id)


@router.post("/posts/{post_id}/reschedule", responses=ACTION_ERRORS)
def reschedule(rt: Runtime, user: Editor, post_id: int, body: Reschedule) -> PostDetail:
    """Move the due time of the deliveries not yet published (of one channel, if given)."""
    review.reschedule(rt, post_id, body.at, user.name, body.channel)
    return post_detail(rt, post_id)


@router.post("/posts/{post_id}/variants/{channel}/{lang}/edit", responses=ACTION_ERRORS)
def edit(rt: Runtime, user: Editor, post_id: int, channel: str, lang: str, body: EditText) -> EditOut:
    """Replace a variant's text, checked against the channel's limit and the post's facts; an edit of
    an approved post returns it to review."""
    return EditOut.model_validate(review.edit(rt, post_id, channel, lang, body.text, user.name))


@router.post("/posts/{post_id}/rerender", responses=ACTION_ERRORS)
def rerender(rt: Runtime, user: Editor, post_id: int) -> PostDetail:
    """Draw the post's cards again from its facts."""
    review.rerender(rt, post_id, user.name)
    return post_detail(rt, post_id)


@router.post("/deliveries/{delivery_id}/retry", responses=ACTION_ERRORS)
def retry(rt: Runtime, user: Editor, delivery_id: int) -> PostDetail:
    """Schedule a failed delivery again, due now."""
    review.retry(rt, delivery_id, user.name)
    return post_detail(rt, rt.store.delivery_post(delivery_id))


@router.post("/deliveries/{delivery_id}/resolve", responses=ACTION_ERRORS)
def resolve(rt: Runtime, user: Editor, delivery_id: int, body: Resolve) -> PostDetail:
    """Settle a delivery whose outcome is unknown: published at `url`, or publish it again."""
    review.resolve(rt, delivery_id, user.name, url=body.url, publish_again=body.publish_again)
    return post_detail(rt, rt.store.delivery_post(delivery_id))


# -- shapes -------------------------------------------------------------------------------------


def post_detail(rt: flow.Runtime, post_id: int) -> PostDetail:
    post = rt.store.post(post_id)
    return PostDetail(
        id=post.id,
        job_id=post.job_id,
        fire_time=post.fire_time,
        status=post.status,
        title=post.title,
        deliveries=[_delivery_detail(d) for d in post.deliveries],
        audit=[AuditOut.model_validate(event) for event in rt.store.audit_trail(post_id)],
        edits=[EditOut.model_validate(edit) for edit in review.edits(rt, post_id)],
    )


def _variant(v: Variant) -> VariantOut:
    cards = [_card(card) for card in v.cards]
    return VariantOut(
        channel=v.channel, type=v.type, lang=v.lang, text=v.text, title=v.title, digest=v.digest, cards=cards
    )


def _delivery_detail(d: Delivery) -> DeliveryDetail:
    return DeliveryDetail(
        id=d.id,
        channel=d.channel,
        lang=d.variant.lang,
        status=d.status,
        due_at=d.due_at,
        attempt=d.attempt,
        remote_id=d.remote_id,
        url=d.url,
        error=d.error,
        variant=_variant(d.variant),
    )


def _card(card: Card) -> CardOut:
    return CardOut(url=f"/media/{card.path.name}", width=card.width, height=card.height, alt=card.alt)
