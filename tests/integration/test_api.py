"""The JSON API over HTTP on a real queue: the OpenAPI document, and every action with an API token
and with a session and its CSRF header; one whole flow on SQLite and on PostgreSQL."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from fastapi.routing import APIRoute
from openapi_spec_validator import validate
from starlette.testclient import TestClient

from pipeline.flow import Runtime
from pipeline.records import DeliveryStatus
from pipeline.web import api
from tests.integration import webapp
from tests.integration.webapp import NOW, TOKENS, fire, log_in, settle

CMS = {"Authorization": f"Bearer {TOKENS['SHORTLINE_TEST_TOKEN_CMS']}"}


@pytest.fixture
def rt(project_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Runtime:
    return webapp.runtime(webapp.make_project(project_dir, monkeypatch))


@pytest.fixture
def web(rt: Runtime) -> TestClient:
    return webapp.client(rt)


def test_the_openapi_document_is_valid_and_lists_every_api_route(web: TestClient) -> None:
    document = web.get("/openapi.json").json()
    validate(document)
    routes = {
        (route.path, method.lower())
        for route in api.router.routes
        if isinstance(route, APIRoute)
        for method in route.methods
    }
    documented = {(path, method) for path, item in document["paths"].items() for method in item}
    assert routes == documented and len(routes) == 13  # and no page: they are for browsers
    assert all(path.startswith("/api/") for path, _ in routes)
    assert {"HTTPBearer"} <= set(document["components"]["securitySchemes"])
    approve = document["paths"]["/api/posts/{post_id}/approve"]["post"]
    assert {"401", "403", "404", "409", "422"} <= set(approve["responses"])


def test_read_the_queue_and_a_post(rt: Runtime, web: TestClient) -> None:
    post_id = fire(rt)
    queue = web.get("/api/posts", headers=CMS, params={"status": "in_review", "channel": "mastodon"}).json()
    assert (queue["total"], queue["page"], queue["per_page"]) == (1, 1, 50)
    assert queue["post_counts"] == {"in_review": 1} and queue["delivery_counts"] == {"pending": 1}
    [listed] = queue["posts"]
    assert (listed["id"], listed["deliveries"], listed["attention"]) == (post_id, {"pending": 3}, [])
    post = web.get(f"/api/posts/{post_id}", headers=CMS).json()
    assert post["title"].startswith("Shenyang <script>")  # JSON carries the text as it is
    assert post["audit"][0]["to_status"] == "in_review" and post["edits"] == []
    variant = post["deliveries"][0]["variant"]
    assert variant["cards"][0]["url"].startswith("/media/") and variant["text"]
    assert web.get("/api/posts", headers=CMS, params={"status": "lost"}).status_code == 422
    assert web.get("/api/posts", headers=CMS, params={"from": "2026-12-01"}).json()["total"] == 0
    assert web.get("/api/posts/999", headers=CMS).json() == {"detail": "no post with id 999"}


def test_queue_a_post_for_a_job(rt: Runtime, web: TestClient) -> None:
    made = web.post("/api/posts", headers=CMS, json={"job": "shenyang-profile", "fire_time": "2026-12-07T09:00+08:00"})
    assert made.status_code == 201, made.text
    post = made.json()
    assert post["status"] == "in_review" and post["fire_time"] == "2026-12-07T01:00:00Z"
    assert {(d["channel"], d["lang"]) for d in post["deliveries"]} == {
        ("outbox", "en"),
        ("outbox", "zh"),
        ("mastodon", "en"),
    }
    again = web.post("/api/posts", headers=CMS, json={"job": "shenyang-profile", "fire_time": "2026-12-07T01:00Z"})
    assert again.status_code == 409
    unknown = web.post("/api/posts", headers=CMS, json={"job": "nope"})
    assert unknown.status_code == 422 and "no job named 'nope'" in unknown.json()["detail"]
    assert web.post("/api/posts", headers=CMS, json={"job": "shenyang-profile", "extra": 1}).status_code == 422


def test_every_action_with_an_api_token(rt: Runtime, web: TestClient) -> None:
    post_id = fire(rt)
    act = lambda path, body=None: web.post(f"/api{path}", headers=CMS, json=body)  # noqa: E731

    edited = act(f"/posts/{post_id}/variants/outbox/en/edit", {"text": "Shenyang has 23 sister cities."})
    assert edited.status_code == 200 and edited.json()["actor"] == "cms"
    assert "+Shenyang has 23 sister cities." in edited.json()["diff"]
    refused = act(f"/posts/{post_id}/variants/outbox/en/edit", {"text": "Shenyang has 99 sister cities."})
    assert refused.status_code == 422 and "99" in refused.json()["detail"]
    moved = act(f"/posts/{post_id}/reschedule", {"at": "2026-12-02T10:00:00+08:00", "channel": "outbox"})
    assert {d["due_at"] for d in moved.json()["deliveries"] if d["channel"] == "outbox"} == {"2026-12-02T02:00:00Z"}
    assert act(f"/posts/{post_id}/reschedule", {"at": "2026-12-02T10:00"}).status_code == 422  # no offset
    assert act(f"/posts/{post_id}/rerender").status_code == 200
    approved = act(f"/posts/{post_id}/approve").json()
    assert approved["status"] == "approved" and approved["audit"][-1]["actor"] == "cms"
    assert act(f"/posts/{post_id}/approve").status_code == 409

    failed = settle(rt, post_id, "outbox", "en", DeliveryStatus.FAILED)
    unknown = settle(rt, post_id, "outbox", "zh", DeliveryStatus.UNKNOWN)
    lost = settle(rt, post_id, "mastodon", "en", DeliveryStatus.UNKNOWN)
    assert act(f"/deliveries/{failed.id}/retry").status_code == 200
    assert act(f"/deliveries/{unknown.id}/resolve", {"url": "https://example.org/p/1"}).status_code == 200
    assert act(f"/deliveries/{lost.id}/resolve", {"publish_again": True}).status_code == 200
    assert act(f"/deliveries/{lost.id}/resolve", {}).status_code == 422
    states = {
        d["id"]: (d["status"], d["url"]) for d in web.get(f"/api/posts/{post_id}", headers=CMS).json()["deliveries"]
    }
    assert states[unknown.id] == ("published", "https://example.org/p/1")
    assert states[failed.id][0] == states[lost.id][0] == "scheduled"

    assert act(f"/posts/{post_id}/cancel", {"reason": "event moved"}).json()["deliveries"][0]["status"] in {
        "cancelled",
        "published",
    }
    second = fire(rt, NOW + dt.timedelta(days=7))
    rejected = act(f"/posts/{second}/reject", {"reason": "wrong figure"}).json()
    assert rejected["status"] == "rejected" and rejected["audit"][-1]["reason"] == "wrong figure"
    assert act(f"/posts/{second}/reject", {"reason": ""}).status_code == 422


def test_a_session_calls_the_api_with_its_csrf_header(rt: Runtime, web: TestClient) -> None:
    post_id = fire(rt)
    token = log_in(web, "alice")
    assert web.post(f"/api/posts/{post_id}/approve").status_code == 403
    approved = web.post(f"/api/posts/{post_id}/approve", headers={"X-CSRF-Token": token})
    assert approved.status_code == 200 and approved.json()["audit"][-1]["actor"] == "alice"
    assert web.get("/api/me").json() == {"name": "alice", "role": "editor"}


def test_the_calendar_in_json(rt: Runtime, web: TestClient) -> None:
    post_id = fire(rt, NOW + dt.timedelta(hours=1))
    slots = web.get("/api/calendar", headers=CMS, params={"days": 8}).json()
    queued = [s for s in slots if s["post_id"] == post_id]
    planned = [s for s in slots if s["status"] == "planned"]
    assert {(s["channel"], s["lang"]) for s in queued} == {("outbox", "en"), ("outbox", "zh"), ("mastodon", "en")}
    assert {(s["channel"], s["at"]) for s in planned} == {
        (channel, at) for channel in ("outbox", "mastodon") for at in ("2026-11-30T01:00:00Z", "2026-12-07T01:00:00Z")
    }
    assert web.get("/api/calendar", headers=CMS, params={"days": 0}).status_code == 422


def test_the_api_flow_on_sqlite_and_postgresql(
    project_dir: Path, monkeypatch: pytest.MonkeyPatch, database_url: str
) -> None:
    rt = webapp.runtime(webapp.make_project(project_dir, monkeypatch, database_url))
    web = webapp.client(rt)
    made = web.post("/api/posts", headers=CMS, json={"job": "shenyang-profile"})
    assert made.status_code == 201, made.text
    post_id = made.json()["id"]
    assert web.get("/api/posts", headers=CMS).json()["post_counts"] == {"in_review": 1}
    assert web.post(f"/api/posts/{post_id}/approve", headers=CMS).json()["status"] == "approved"
    delivery = settle(rt, post_id, "outbox", "en", DeliveryStatus.FAILED)
    failed = web.get("/api/posts", headers=CMS, params={"status": "failed"}).json()
    assert failed["total"] == 1 and failed["delivery_counts"] == {"failed": 1, "scheduled": 2}
    assert [d["id"] for d in failed["posts"][0]["attention"]] == [delivery.id]
    assert web.post(f"/api/deliveries/{delivery.id}/retry", headers=CMS).status_code == 200
    [listed] = web.get("/api/posts", headers=CMS).json()["posts"]
    assert listed["deliveries"] == {"scheduled": 3} and listed["attention"] == []
    rt.store.engine.dispose()
