"""The post page's model on a real queue (SQLite and PostgreSQL): deliveries grouped by channel and
language in schedule.yaml's order, the actions each state allows, the audit trail and kept edits."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from pipeline import review
from pipeline.config import Project
from pipeline.flow import Runtime
from pipeline.model import Card, Variant
from pipeline.records import DeliveryStatus
from pipeline.testing import FakeClock
from pipeline.web import postview
from pipeline.web.auth import User
from pipeline.web.pages import environment

NOW = dt.datetime(2026, 11, 30, 1, 0, tzinfo=dt.UTC)  # 09:00 in Shanghai, the example's timezone
CARD = Card(Path("var/media") / ("ab" * 32 + ".png"), 1200, 675, "23 sister cities")
TEXT = {"en": "Shenyang ranks No.1 in Northeast China!", "zh": "沈阳位列东北地区第一！"}
VARIANTS = [
    Variant(ch, kind, lang, TEXT[lang], (CARD,))
    for ch, kind, lang in (
        ("x", "x", "zh"),
        ("outbox", "outbox", "zh"),
        ("x", "x", "en"),
        ("telegram", "telegram", "en"),
        ("outbox", "outbox", "en"),
    )
]


@pytest.fixture
def rt(project_dir: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Runtime:
    monkeypatch.setenv("SHORTLINE_DATABASE_URL", database_url)
    return Runtime.load(Project(project_dir), FakeClock(NOW))


@pytest.fixture
def post_id(rt: Runtime) -> int:
    found = rt.store.add_post("shenyang-profile", NOW, TEXT["en"], VARIANTS, auto_approve=False, now=NOW)
    assert found is not None
    return found


def _views(context: dict[str, object]) -> dict[tuple[str, str], postview.DeliveryView]:
    groups = context["channels"]
    assert isinstance(groups, list)
    return {(view.mockup.channel, view.mockup.lang): view for group in groups for view in group.views}


def test_deliveries_are_grouped_by_channel_in_the_schedules_order(rt: Runtime, post_id: int) -> None:
    context = postview.context(rt, post_id)
    groups = context["channels"]
    assert [(g.name, g.type, [v.mockup.lang for v in g.views]) for g in groups] == [
        ("outbox", "outbox", ["en", "zh"]),
        ("x", "x", ["en", "zh"]),
        ("telegram", "telegram", ["en"]),
    ]
    x_zh = _views(context)[("x", "zh")].mockup
    assert x_zh.wire.body["text"] == TEXT["zh"] and x_zh.meters[0].count == 2 * len(TEXT["zh"])
    assert [p.url for p in x_zh.pictures] == [f"/media/{CARD.path.name}"]


def test_a_post_in_review_offers_every_action_and_every_edit(rt: Runtime, post_id: int) -> None:
    context = postview.context(rt, post_id)
    assert context["actions"] == postview.PostActions(True, True, True, True, True)
    assert context["reschedule_at"] == "2026-11-30T09:00"
    assert all(view.editable and not view.retry and not view.resolve for view in _views(context).values())


def test_an_approved_post_offers_no_review_but_failed_and_unknown_deliveries_offer_theirs(
    rt: Runtime, post_id: int
) -> None:
    rt.store.approve(post_id, "ed", NOW)
    claimed = rt.store.claim_due(NOW, dt.timedelta(minutes=5), ["x", "outbox"])
    outcome = {"x": DeliveryStatus.FAILED, "outbox": DeliveryStatus.UNKNOWN}
    for delivery in claimed:
        rt.store.finish(delivery, outcome[delivery.channel], NOW, error="the API answered 503")
    context = postview.context(rt, post_id)
    actions, views = context["actions"], _views(context)
    assert isinstance(actions, postview.PostActions) and not (actions.approve or actions.reject)
    assert actions.cancel and actions.reschedule and actions.rerender  # the failed and the scheduled ones
    assert views[("x", "en")].retry and views[("x", "en")].editable
    assert views[("outbox", "en")].resolve and not views[("outbox", "en")].editable
    assert views[("telegram", "en")].delivery.status is DeliveryStatus.SCHEDULED and views[("telegram", "en")].editable


def test_a_rejected_post_offers_nothing(rt: Runtime, post_id: int) -> None:
    rt.store.reject(post_id, "ed", "off message", NOW)
    context = postview.context(rt, post_id)
    assert not context["actions"].any and context["reschedule_at"] is None  # type: ignore[attr-defined]
    assert not any(view.editable for view in _views(context).values())


def test_the_audit_trail_names_each_delivery_and_the_edits_show_their_diff(rt: Runtime, post_id: int) -> None:
    review.edit(rt, post_id, "x", "en", "Shenyang ranks No.1\nin Northeast China!", "ed")
    rt.store.approve(post_id, "ed", NOW)
    context = postview.context(rt, post_id)
    rows = [(row.subject, row.event.to_status, row.event.actor) for row in context["audit"]]
    assert rows[0] == ("post", "in_review", "scheduler") and ("outbox · en", "scheduled", "ed") in rows
    [shown] = context["edits"]
    assert (shown.edit.channel, shown.edit.lang, shown.edit.actor) == ("x", "en", "ed")
    changed = [(line.kind, line.text) for line in shown.lines if line.kind in ("add", "del")]
    assert changed == [("del", f"-{TEXT['en']}"), ("add", "+Shenyang ranks No.1"), ("add", "+in Northeast China!")]


def _page(rt: Runtime, post_id: int, role: str) -> str:
    user = User(role, role)  # type: ignore[arg-type]
    context = postview.context(rt, post_id) | {"user": user, "csrf_token": "t0ken", "message": None}
    return environment.get_template("post.html").render(context | {"tz": rt.config.tz, "project": "example"})


def test_editors_get_the_action_forms_and_viewers_none(rt: Runtime, post_id: int) -> None:
    editor, viewer = _page(rt, post_id, "editor"), _page(rt, post_id, "viewer")
    forms = set(re.findall(rf'<form method="post" action="/posts/{post_id}/([^"]+)"', editor))
    actions = {"approve", "reject", "reschedule", "rerender", "cancel"}
    assert forms == actions | {f"variants/{v.channel}/{v.lang}/edit" for v in VARIANTS}
    assert editor.count('name="csrf_token" value="t0ken"') == len(forms) + 1  # and the logout form
    assert '<form method="post" action="/posts/' not in viewer and "<textarea" not in viewer


def test_every_text_on_the_page_is_escaped(rt: Runtime) -> None:
    hostile = '<script>alert(1)</script> "x" & <img src=x onerror=alert(2)>'
    variants = [Variant(ch, kind, "en", hostile, (CARD,)) for ch, kind in (("x", "x"), ("telegram", "telegram"))]
    found = rt.store.add_post("shenyang-profile", NOW, hostile, variants, auto_approve=False, now=NOW)
    assert found is not None
    review.edit(rt, found, "x", "en", "Plain <b>words</b> now", "ed <i>")
    page = _page(rt, found, "editor")
    assert "<script>" not in page and "<img src=x" not in page and "<b>words" not in page and "<i>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
