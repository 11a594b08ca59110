"""The editors' actions (pipeline/review.py) on a real project and queue, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from pipeline import flow, queueing, review
from pipeline.compose.counting import weibo_length, x_length
from pipeline.config import Project
from pipeline.errors import InvalidTransition, NotFound, ReviewError
from pipeline.flow import Runtime
from pipeline.records import Delivery, DeliveryStatus, PostStatus, Receipt
from pipeline.testing import FakeClock

D, P = DeliveryStatus, PostStatus
NOW = dt.datetime(2026, 11, 30, 1, 0, tzinfo=dt.UTC)
FIRE = NOW + dt.timedelta(days=1)
LEASE = dt.timedelta(minutes=5)
LINK = "https://www.shenyang.gov.cn/"
HEADLINE = "Shenyang ranks No.1 in Northeast China!"


def schedule() -> dict[str, object]:
    """Three channels of different limits; a job without cards (quick) and one with a card."""
    channels = {
        "outbox": {"type": "outbox", "langs": ["en", "zh"]},
        "x": {"type": "x", "langs": ["en"]},
        "weibo": {"type": "weibo", "langs": ["en"], "link": LINK},
    }
    job = {"facts": "facts/shenyang.yaml", "post": "posts/city-profile", "trigger": {"cron": "0 9 * * 1"}}
    jobs = {
        "profile": job | {"channels": ["outbox", "x", "weibo"]},
        "carded": job | {"channels": ["x"], "cards": ["cards/stat.yaml"]},
    }
    return {"timezone": "Asia/Shanghai", "channels": channels, "jobs": jobs}


@pytest.fixture
def rt(project_dir: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Runtime]:
    monkeypatch.setenv("SHORTLINE_DATABASE_URL", database_url)
    (project_dir / "schedule.yaml").write_text(yaml.safe_dump(schedule(), sort_keys=False), encoding="utf-8")
    runtime = Runtime.load(Project(project_dir), FakeClock(NOW))
    yield runtime
    runtime.store.engine.dispose()


def queued(rt: Runtime, job: str = "profile") -> int:
    post_id = flow.fire(rt, job, FIRE)
    assert post_id is not None
    return post_id


def delivery(rt: Runtime, post_id: int, channel: str, lang: str = "en") -> Delivery:
    return next(d for d in rt.store.post(post_id).deliveries if (d.channel, d.variant.lang) == (channel, lang))


def sent(rt: Runtime, post_id: int, channel: str, outcome: DeliveryStatus) -> Delivery:
    """Approve the post, let a worker take the channel's delivery and record `outcome` for it."""
    if rt.store.post(post_id).status != P.APPROVED:
        review.approve(rt, post_id, "anna")
    [claimed] = rt.store.claim_due(NOW, LEASE, [channel], due_by=FIRE)
    receipt = Receipt("r1", "https://x.example/r1") if outcome == D.PUBLISHED else None
    rt.store.finish(claimed, outcome, NOW, receipt=receipt, error=None if receipt else "it went wrong")
    return delivery(rt, post_id, channel)


def trail(rt: Runtime, post_id: int) -> list[tuple[str, str | None, str, str | None, int | None]]:
    return [(e.actor, e.from_status, e.to_status, e.reason, e.delivery_id) for e in rt.store.audit_trail(post_id)]


def test_approve_and_reject_are_audited_with_the_editor(rt: Runtime) -> None:
    first, second = queued(rt), flow.fire(rt, "profile", FIRE + dt.timedelta(days=7))
    assert second is not None
    review.approve(rt, first, "anna")
    review.reject(rt, second, "bob", "  figure is outdated ")
    assert trail(rt, first)[1] == ("anna", "in_review", "approved", None, None)
    assert {d.status for d in rt.store.post(first).deliveries} == {D.SCHEDULED}
    assert trail(rt, second)[1] == ("bob", "in_review", "rejected", "figure is outdated", None)
    with pytest.raises(ReviewError, match="a rejection needs a reason"):
        review.reject(rt, first, "bob", " ")
    with pytest.raises(InvalidTransition, match=f"post {second} is rejected; it cannot become approved"):
        review.approve(rt, second, "anna")


def test_an_edit_keeps_before_and_after_and_is_counted_again(rt: Runtime) -> None:
    post_id = queued(rt)
    before = delivery(rt, post_id, "x").variant.text
    text = f"{HEADLINE}\n\nSister cities: 23. Come and see!"
    edit = review.edit(rt, post_id, "x", "en", text, "anna")
    assert (edit.post_id, edit.channel, edit.lang, edit.actor, edit.at) == (post_id, "x", "en", "anna", NOW)
    assert (edit.before, edit.after) == (before, text)
    assert "+Sister cities: 23. Come and see!" in edit.diff and edit.diff[:2] == ["--- before", "+++ after"]
    assert review.edits(rt, post_id) == [edit]
    variant = delivery(rt, post_id, "x").variant
    assert variant.text == text
    assert variant.extra["counts"] == [
        {"field": "text", "count": x_length(text), "limit": 280, "unit": "weighted characters"}
    ]
    assert delivery(rt, post_id, "outbox").variant.text != text  # only the edited variant changed


def test_an_edited_text_keeps_the_channels_link(rt: Runtime) -> None:
    post_id = queued(rt)
    edit = review.edit(rt, post_id, "weibo", "en", f"{HEADLINE}\n\nSee you in Shenyang!", "anna")
    assert edit.after == f"{HEADLINE}\n\nSee you in Shenyang!\n\n{LINK}"
    again = review.edit(rt, post_id, "weibo", "en", f"{HEADLINE}\n\nSee you soon!\n\n{LINK}", "anna")
    assert again.after.count(LINK) == 1
    assert delivery(rt, post_id, "weibo").variant.extra["counts"][0]["count"] == weibo_length(again.after)


def test_an_edit_after_approval_returns_the_post_to_review(rt: Runtime) -> None:
    post_id = queued(rt)
    review.approve(rt, post_id, "anna")
    review.edit(rt, post_id, "x", "en", f"{HEADLINE}\n\nCome and see!", "bob")
    post = rt.store.post(post_id)
    assert post.status == P.IN_REVIEW and {d.status for d in post.deliveries} == {D.PENDING}
    back = [row for row in trail(rt, post_id) if row[0] == "bob"]
    assert back[0] == ("bob", "approved", "in_review", "edited x (en)", None)
    assert {row[1:4] for row in back[1:]} == {("scheduled", "pending", "edited x (en)")}
    assert len(back) == 1 + len(post.deliveries)
    review.approve(rt, post_id, "anna")
    assert {d.status for d in rt.store.post(post_id).deliveries} == {D.SCHEDULED}


def test_an_over_limit_edit_is_refused_naming_channel_count_and_limit(rt: Runtime) -> None:
    post_id = queued(rt)
    before = delivery(rt, post_id, "x").variant
    text = HEADLINE + "\n\n" + "Shenyang welcomes the world. " * 10
    with pytest.raises(
        ReviewError,
        match=rf"channel 'x' \(en\): x text: {x_length(text.strip())} weighted characters; the limit is 280",
    ):
        review.edit(rt, post_id, "x", "en", text, "anna")
    assert delivery(rt, post_id, "x").variant == before and review.edits(rt, post_id) == []


def test_a_number_no_fact_supports_is_refused(rt: Runtime) -> None:
    post_id = queued(rt)
    with pytest.raises(ReviewError, match=r"channel 'x' \(en\): the number 99 comes from no fact of this post"):
        review.edit(rt, post_id, "x", "en", f"{HEADLINE}\n\n99 sister cities!", "anna")
    assert review.edits(rt, post_id) == []
    review.edit(rt, post_id, "x", "en", f"{HEADLINE}\n\n23 sister cities!", "anna")  # a fact's value


def test_edits_are_checked_against_the_facts_the_post_was_made_from(rt: Runtime) -> None:
    post_id = queued(rt)
    fact_file = rt.project.root / "facts/shenyang.yaml"
    fact_file.write_text(fact_file.read_text().replace("    value: 23\n", "    value: 777\n", 1))
    snapshot = rt.store.facts(post_id)
    assert snapshot is not None and snapshot.facts["sister_cities"].value == 23
    with pytest.raises(ReviewError, match="the number 777"):
        review.edit(rt, post_id, "x", "en", f"{HEADLINE}\n\n777 sister cities!", "anna")
    review.edit(rt, post_id, "x", "en", f"{HEADLINE}\n\n23 sister cities!", "anna")


def test_the_facts_snapshot_gives_back_the_facts(rt: Runtime) -> None:
    post_id = queued(rt)
    assert rt.store.facts(post_id) == flow.load_facts(rt, rt.job("profile"))


def test_a_free_text_post_is_the_editors_own(rt: Runtime) -> None:
    request = queueing.Request(FIRE, text="Hello Shenyang", lang="en", channels=("x",))
    post_id = queueing.add(rt, request, "anna")
    assert rt.store.post(post_id).job_id.startswith(review.MANUAL) and rt.store.facts(post_id) is None
    review.edit(rt, post_id, "x", "en", "Hello Shenyang, 99 times!", "anna")  # no facts: no provenance check
    with pytest.raises(ReviewError, match="free text"):
        review.rerender(rt, post_id, "anna")


def test_an_unchanged_or_misaddressed_edit_is_refused(rt: Runtime) -> None:
    post_id = queued(rt)
    current = delivery(rt, post_id, "x").variant.text
    with pytest.raises(ReviewError, match="the text is unchanged"):
        review.edit(rt, post_id, "x", "en", current, "anna")
    with pytest.raises(ReviewError, match=r"has no 'x' delivery in 'zh' \(it has outbox \(en\), outbox \(zh\)"):
        review.edit(rt, post_id, "x", "zh", "你好", "anna")
    with pytest.raises(NotFound, match="no post with id 999"):
        review.edit(rt, 999, "x", "en", "Hello", "anna")


def test_a_published_delivery_cannot_be_edited(rt: Runtime) -> None:
    post_id = queued(rt)
    done = sent(rt, post_id, "x", D.PUBLISHED)
    with pytest.raises(InvalidTransition, match=f"delivery {done.id} is published; it cannot become edited"):
        review.edit(rt, post_id, "x", "en", f"{HEADLINE}\n\nToo late", "anna")


def test_reschedule_moves_what_is_not_sent(rt: Runtime) -> None:
    post_id = queued(rt)
    failed, done = sent(rt, post_id, "x", D.FAILED), sent(rt, post_id, "weibo", D.PUBLISHED)
    later = FIRE + dt.timedelta(hours=3)
    review.reschedule(rt, post_id, later, "anna")
    after = {d.id: d for d in rt.store.post(post_id).deliveries}
    assert (after[failed.id].status, after[failed.id].due_at) == (D.SCHEDULED, later)
    assert (after[done.id].status, after[done.id].due_at) == (D.PUBLISHED, FIRE)
    assert {(d.status, d.due_at) for d in after.values() if d.channel == "outbox"} == {(D.SCHEDULED, later)}
    assert ("anna", "failed", "scheduled", f"rescheduled to {later.isoformat()}", failed.id) in trail(rt, post_id)


def test_reschedule_of_one_channel_and_its_refusals(rt: Runtime) -> None:
    post_id = queued(rt)
    later = FIRE + dt.timedelta(days=2)
    review.reschedule(rt, post_id, later.astimezone(rt.config.tz), "anna", channel="outbox")
    assert {(d.channel, d.due_at) for d in rt.store.post(post_id).deliveries} == {
        ("outbox", later),
        ("x", FIRE),
        ("weibo", FIRE),
    }
    with pytest.raises(ReviewError, match=r"2026-11-30 08:59 \(Asia/Shanghai\) is in the past"):
        review.reschedule(rt, post_id, NOW - dt.timedelta(minutes=1), "anna")
    with pytest.raises(ReviewError, match="has no delivery to 'telegram'"):
        review.reschedule(rt, post_id, later, "anna", channel="telegram")
    sent(rt, post_id, "x", D.PUBLISHED)
    with pytest.raises(InvalidTransition, match=f"post {post_id} on x is published; it cannot become rescheduled"):
        review.reschedule(rt, post_id, later, "anna", channel="x")


def test_cancel_stops_every_delivery_not_sent(rt: Runtime) -> None:
    post_id = queued(rt)
    done = sent(rt, post_id, "x", D.PUBLISHED)
    review.cancel(rt, post_id, "anna", "event postponed")
    assert {(d.id == done.id, d.status) for d in rt.store.post(post_id).deliveries} == {
        (True, D.PUBLISHED),
        (False, D.CANCELLED),
    }
    cancelled = [row for row in trail(rt, post_id) if row[2] == "cancelled"]
    assert len(cancelled) == 3 and {row[:4] for row in cancelled} == {
        ("anna", "scheduled", "cancelled", "event postponed")
    }
    with pytest.raises(InvalidTransition, match=f"post {post_id} is cancelled/published; it cannot become cancelled"):
        review.cancel(rt, post_id, "anna", "again")
    with pytest.raises(ReviewError, match="a cancellation needs a reason"):
        review.cancel(rt, queued(rt, "carded"), "anna", "")


def test_retry_schedules_a_failed_delivery_now(rt: Runtime) -> None:
    post_id = queued(rt)
    failed = sent(rt, post_id, "x", D.FAILED)
    assert failed.error == "it went wrong"
    review.retry(rt, failed.id, "anna")
    again = delivery(rt, post_id, "x")
    assert (again.status, again.due_at, again.error) == (D.SCHEDULED, NOW, None)
    assert trail(rt, post_id)[-1] == ("anna", "failed", "scheduled", "retry", failed.id)
    with pytest.raises(InvalidTransition, match=f"delivery {failed.id} is scheduled; it cannot become scheduled"):
        review.retry(rt, failed.id, "anna")
    with pytest.raises(NotFound, match="no delivery with id 999"):
        review.retry(rt, 999, "anna")


def test_resolve_an_unknown_delivery_as_published(rt: Runtime) -> None:
    post_id = queued(rt)
    unknown = sent(rt, post_id, "x", D.UNKNOWN)
    with pytest.raises(ReviewError, match="is not an http"):
        review.resolve(rt, unknown.id, "anna", url="javascript:alert(1)")
    review.resolve(rt, unknown.id, "anna", url="https://x.com/shenyang/status/1")
    found = delivery(rt, post_id, "x")
    assert (found.status, found.url) == (D.PUBLISHED, "https://x.com/shenyang/status/1")
    assert trail(rt, post_id)[-1] == (
        "anna",
        "unknown",
        "published",
        "found published at https://x.com/shenyang/status/1",
        unknown.id,
    )
    with pytest.raises(InvalidTransition, match="is published; it cannot become scheduled"):
        review.resolve(rt, unknown.id, "anna", publish_again=True)


def test_resolve_an_unknown_delivery_by_publishing_again(rt: Runtime) -> None:
    post_id = queued(rt)
    unknown = sent(rt, post_id, "x", D.UNKNOWN)
    for wrong in ({}, {"url": "https://x.com/1", "publish_again": True}):
        with pytest.raises(ReviewError, match="give one of the URL it was found at or publish again"):
            review.resolve(rt, unknown.id, "anna", **wrong)  # type: ignore[arg-type]
    review.resolve(rt, unknown.id, "anna", publish_again=True)
    again = delivery(rt, post_id, "x")
    assert (again.status, again.due_at) == (D.SCHEDULED, NOW)
    assert trail(rt, post_id)[-1] == ("anna", "unknown", "scheduled", "publish again", unknown.id)


def test_an_unknown_delivery_of_a_post_back_in_review_is_not_published_again(rt: Runtime) -> None:
    post_id = queued(rt)
    unknown = sent(rt, post_id, "x", D.UNKNOWN)
    review.edit(rt, post_id, "outbox", "en", f"{HEADLINE}\n\nCome and see!", "bob")
    with pytest.raises(InvalidTransition, match=f"delivery {unknown.id} \\(post {post_id} is not approved\\)"):
        review.resolve(rt, unknown.id, "anna", publish_again=True)


def test_rerender_draws_the_cards_again_and_sends_an_approved_post_back(rt: Runtime) -> None:
    post_id = queued(rt, "carded")
    review.approve(rt, post_id, "anna")
    [old] = delivery(rt, post_id, "x").variant.cards
    review.rerender(rt, post_id, "anna")  # same template, same facts: the same card, nothing to review
    assert delivery(rt, post_id, "x").variant.cards == (old,) and rt.store.post(post_id).status == P.APPROVED
    template = rt.project.templates / "cards/stat.yaml"
    template.write_text(template.read_text().replace("#0A1A3A", "#5A1A1A"))
    review.rerender(rt, post_id, "bob")
    [new] = delivery(rt, post_id, "x").variant.cards
    assert new.path != old.path and (rt.project.root / new.path).is_file() and (new.width, new.height) == (1200, 675)
    assert rt.store.post(post_id).status == P.IN_REVIEW
    assert ("bob", "approved", "in_review", "cards re-rendered", None) in trail(rt, post_id)
    assert {f.path for f in rt.store.media()} == {old.path, new.path}


def test_rerender_of_a_post_all_sent_is_refused(rt: Runtime) -> None:
    post_id = queued(rt, "carded")
    sent(rt, post_id, "x", D.PUBLISHED)
    with pytest.raises(InvalidTransition, match=f"post {post_id} is published; it cannot become re-rendered"):
        review.rerender(rt, post_id, "anna")
