"""The preview's pages and form actions over HTTP (Starlette's test client) on a real SQLite queue:
logging in, the queue with its filters and counts, the calendar, every editor action, and what a
refused action gives back."""

from __future__ import annotations

import datetime as dt
import html
import re
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from pipeline import review
from pipeline.flow import Runtime
from pipeline.model import Variant
from pipeline.records import DeliveryStatus
from tests.integration import webapp
from tests.integration.webapp import NOW, SCRIPT, csrf_token, fire, log_in, settle


@pytest.fixture
def rt(project_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Runtime:
    return webapp.runtime(webapp.make_project(project_dir, monkeypatch))


@pytest.fixture
def web(rt: Runtime) -> TestClient:
    return webapp.client(rt)


@pytest.fixture
def editor(web: TestClient) -> tuple[TestClient, str]:
    return web, log_in(web, "alice")


def quick_post(rt: Runtime, job: str, fire_time: dt.datetime, channels: tuple[str, ...] = ("outbox",)) -> int:
    """A queued post without composing (for listing tests): one English variant per channel."""
    variants = [Variant(name, "outbox", "en", f"{job} at {fire_time:%H:%M}") for name in channels]
    post_id = rt.store.add_post(job, fire_time, f"{job} {fire_time:%m-%d}", variants, auto_approve=False, now=NOW)
    assert post_id is not None
    return post_id


# -- logging in -----------------------------------------------------------------------------------


def test_login_then_the_queue_then_logout(web: TestClient) -> None:
    assert web.get("/").headers["location"] == "/login?next=%2F"
    form = {"name": "alice", "password": "wrong", "csrf_token": csrf_token(web.get("/login").text), "next": "/"}
    refused = web.post("/login", data=form)
    assert refused.status_code == 401 and "Wrong name or password." in refused.text
    assert web.post("/login", data=form | {"name": "nobody"}).status_code == 401
    welcome = web.post("/login", data=form | {"password": "alice-pass-1", "next": "/calendar"})
    assert (welcome.status_code, welcome.headers["location"]) == (303, "/calendar")
    queue = web.get("/")
    assert queue.status_code == 200 and "alice" in queue.text and "editor" in queue.text
    assert web.post("/logout", data={"csrf_token": csrf_token(queue.text)}).headers["location"] == "/login"
    assert web.get("/").status_code == 303


def test_a_password_from_the_environment_logs_in(web: TestClient) -> None:
    token = log_in(web, "victor")
    assert "victor" in web.get("/").text and token


# -- the queue ------------------------------------------------------------------------------------


def test_queue_lists_posts_with_their_deliveries_escaped(editor: tuple[TestClient, str], rt: Runtime) -> None:
    web, _ = editor
    post_id = fire(rt)
    page = web.get("/")
    assert page.status_code == 200
    assert SCRIPT not in page.text and "Shenyang &lt;script&gt;alert(1)&lt;/script&gt; ranks No.1" in page.text
    assert f'href="/posts/{post_id}"' in page.text and "3 pending" in page.text
    assert f'action="/posts/{post_id}/approve"' in page.text  # an editor approves from the queue
    assert "2026-11-30 09:00" in page.text  # the fire time in Asia/Shanghai


def test_queue_filters_and_counts(editor: tuple[TestClient, str], rt: Runtime) -> None:
    web, _ = editor
    monday, tuesday = NOW, NOW + dt.timedelta(days=1)
    first = quick_post(rt, "alpha", monday, ("outbox", "mastodon"))
    second = quick_post(rt, "beta", tuesday)
    rt.store.approve(first, "alice", NOW)
    settle(rt, first, "mastodon", "en", DeliveryStatus.FAILED)

    def listed(query: str) -> set[int]:
        page = web.get("/" + query)
        assert page.status_code == 200, page.text
        return {int(n) for n in re.findall(r'<tr id="post-(\d+)"', page.text)}

    assert listed("") == {first, second}
    assert listed("?status=in_review") == {second}
    assert listed("?status=failed") == {first}
    assert listed("?channel=mastodon") == {first}
    assert listed("?status=failed&channel=outbox") == set()
    assert listed("?from=2026-12-01") == {second}  # local days: Tuesday 09:00 in Shanghai
    assert listed("?to=2026-11-30") == {first}
    counts = web.get("/?job=alpha").text
    assert re.search(r"approved <b>1</b>", counts) and re.search(r"in review <b>0</b>", counts)
    assert re.search(r"failed <b>1</b>", counts) and re.search(r"scheduled <b>1</b>", counts)


def test_queue_pages_fifty_posts_at_a_time(editor: tuple[TestClient, str], rt: Runtime) -> None:
    web, _ = editor
    ids = [quick_post(rt, "bulk", NOW - dt.timedelta(hours=n)) for n in range(55)]
    first, second = web.get("/").text, web.get("/?page=2").text
    assert first.count('<tr id="post-') == 50 and second.count('<tr id="post-') == 5
    assert "page 1 of 2" in first and 'href="?page=2"' in first
    assert f'id="post-{ids[-1]}"' in second


def test_a_wrong_filter_is_named(editor: tuple[TestClient, str]) -> None:
    web, _ = editor
    page = web.get("/?status=%3Cb%3Elost&from=2026-13-01&page=x")
    assert page.status_code == 400
    assert "status: &#39;&lt;b&gt;lost&#39; is not one of draft, in_review" in page.text
    assert "from: &#39;2026-13-01&#39; is not a date" in page.text and "page: &#39;x&#39;" in page.text


# -- the calendar ---------------------------------------------------------------------------------


def test_calendar_shows_queued_and_planned_slots_in_both_timezones(editor: tuple[TestClient, str], rt: Runtime) -> None:
    web, _ = editor
    post_id = fire(rt, NOW + dt.timedelta(hours=1))  # due 10:00 Shanghai today
    page = web.get("/calendar?tz=Europe/Berlin&days=14")
    assert page.status_code == 200
    assert '<script src="/static/calendar.js" defer></script>' in page.text
    outbox = page.text.split('id="channel-outbox"', 1)[1].split("</section>", 1)[0]
    assert f'href="/posts/{post_id}"' in outbox and outbox.count("status-pending") == 2  # en and zh
    assert "Mon 2026-11-30 10:00" in outbox and "Mon 2026-11-30 03:00 CET" in outbox
    # the fires of this Monday (due now) and the next have no post yet: planned, on each of the job's channels;
    # the one in 14 days is past the window's end
    assert "Mon 2026-11-30 09:00" in outbox and "Mon 2026-12-07 09:00" in outbox and "2026-12-14" not in outbox
    assert outbox.count("status-planned") == 2 and "Mon 2026-12-07 02:00 CET" in outbox
    assert page.text.split('id="channel-mastodon"', 1)[1].count("status-planned") == 2


def test_calendar_names_a_wrong_timezone(editor: tuple[TestClient, str]) -> None:
    web, _ = editor
    page = web.get("/calendar?tz=Mars/Olympus&days=99")
    assert page.status_code == 400
    assert "&#39;Mars/Olympus&#39; is not an IANA timezone" in page.text and "days: &#39;99&#39;" in page.text


def test_calendar_script_fills_the_timezone_once(web: TestClient) -> None:
    script = web.get("/static/calendar.js")
    assert script.status_code == 200 and "resolvedOptions().timeZone" in script.text
    assert 'params.has("tz")' in script.text


# -- actions through the forms --------------------------------------------------------------------


def post_form(web: TestClient, path: str, token: str, /, **fields: str) -> tuple[int, str]:
    response = web.post(path, data={"csrf_token": token, **fields})
    return response.status_code, response.headers.get("location", response.text)


def test_approve_and_reject_redirect_to_the_post(editor: tuple[TestClient, str], rt: Runtime) -> None:
    web, token = editor
    first, second = fire(rt), fire(rt, NOW + dt.timedelta(days=7))
    assert post_form(web, f"/posts/{first}/approve", token) == (303, f"/posts/{first}")
    assert rt.store.post(first).status == "approved"
    assert "Approved." in web.get(f"/posts/{first}").text  # the notice, once
    assert "Approved." not in web.get(f"/posts/{first}").text
    assert post_form(web, f"/posts/{second}/reject", token, reason="figure is outdated")[0] == 303
    assert rt.store.audit_trail(second)[-1].reason == "figure is outdated"
    assert rt.store.audit_trail(second)[-1].actor == "alice"


def test_a_refused_action_shows_the_post_with_the_reason(editor: tuple[TestClient, str], rt: Runtime) -> None:
    web, token = editor
    post_id = fire(rt)
    post_form(web, f"/posts/{post_id}/approve", token)
    again = web.post(f"/posts/{post_id}/approve", data={"csrf_token": token})
    assert again.status_code == 409 and "approved; it cannot become approved" in again.text
    missing_reason = web.post(f"/posts/{post_id}/cancel", data={"csrf_token": token, "reason": " "})
    assert missing_reason.status_code == 422 and "reason: this field is required" in missing_reason.text
    assert web.post("/posts/999/approve", data={"csrf_token": token}).status_code == 404


def test_edit_keeps_the_diff_and_returns_an_approved_post_to_review(
    editor: tuple[TestClient, str], rt: Runtime
) -> None:
    web, token = editor
    post_id = fire(rt)
    post_form(web, f"/posts/{post_id}/approve", token)
    text = "Shenyang has 23 sister cities.\r\nCome and see!"
    assert post_form(web, f"/posts/{post_id}/variants/outbox/en/edit", token, text=text)[0] == 303
    post = rt.store.post(post_id)
    outbox_en = next(d for d in post.deliveries if (d.channel, d.variant.lang) == ("outbox", "en"))
    assert post.status == "in_review" and outbox_en.variant.text == "Shenyang has 23 sister cities.\nCome and see!"
    [kept] = review.edits(rt, post_id)
    assert (kept.actor, kept.after) == ("alice", outbox_en.variant.text) and "+Come and see!" in kept.diff
    assert "Shenyang has 23 sister cities." in web.get(f"/posts/{post_id}").text
    refused = web.post(
        f"/posts/{post_id}/variants/outbox/en/edit", data={"csrf_token": token, "text": "Shenyang has 99 sister cities"}
    )
    assert refused.status_code == 422 and "99" in refused.text


def test_reschedule_takes_local_time_in_the_project_timezone(editor: tuple[TestClient, str], rt: Runtime) -> None:
    web, token = editor
    post_id = fire(rt)
    assert post_form(web, f"/posts/{post_id}/reschedule", token, at="2026-12-02T18:30", channel="mastodon")[0] == 303
    due = {d.channel: d.due_at for d in rt.store.post(post_id).deliveries}
    assert due["mastodon"] == dt.datetime(2026, 12, 2, 10, 30, tzinfo=dt.UTC) and due["outbox"] == NOW
    bad = web.post(f"/posts/{post_id}/reschedule", data={"csrf_token": token, "at": "tomorrow"})
    assert bad.status_code == 422 and "is not a local date and time" in bad.text


def test_cancel_and_rerender(editor: tuple[TestClient, str], rt: Runtime) -> None:
    web, token = editor
    post_id = fire(rt)
    assert post_form(web, f"/posts/{post_id}/rerender", token)[0] == 303
    assert post_form(web, f"/posts/{post_id}/cancel", token, reason="event moved")[0] == 303
    assert {d.status for d in rt.store.post(post_id).deliveries} == {DeliveryStatus.CANCELLED}
    assert any(event.reason == "event moved" for event in rt.store.audit_trail(post_id))


def test_retry_a_failed_delivery_and_resolve_unknown_ones(editor: tuple[TestClient, str], rt: Runtime) -> None:
    web, token = editor
    post_id = fire(rt)
    rt.store.approve(post_id, "alice", NOW)
    failed = settle(rt, post_id, "outbox", "en", DeliveryStatus.FAILED)
    unknown = settle(rt, post_id, "outbox", "zh", DeliveryStatus.UNKNOWN)
    lost = settle(rt, post_id, "mastodon", "en", DeliveryStatus.UNKNOWN)
    assert post_form(web, f"/deliveries/{failed.id}/retry", token) == (303, f"/posts/{post_id}")
    found = "https://mastodon.example/@city/1"
    assert post_form(web, f"/deliveries/{unknown.id}/resolve", token, url=found)[0] == 303
    assert post_form(web, f"/deliveries/{lost.id}/resolve", token, publish_again="1")[0] == 303
    states = {d.id: (d.status, d.url) for d in rt.store.post(post_id).deliveries}
    assert states[failed.id][0] == "scheduled" and states[lost.id][0] == "scheduled"
    assert states[unknown.id] == ("published", found)
    neither = web.post(f"/deliveries/{unknown.id}/resolve", data={"csrf_token": token})
    assert neither.status_code == 422 and "give the URL" in neither.text
    assert web.post("/deliveries/999/retry", data={"csrf_token": token}).status_code == 404


def test_a_viewer_reads_but_cannot_act(web: TestClient, rt: Runtime) -> None:
    post_id = fire(rt)
    token = log_in(web, "victor")
    queue = web.get("/").text
    assert f"/posts/{post_id}" in queue and "/approve" not in queue
    refused = web.post(f"/posts/{post_id}/approve", data={"csrf_token": token})
    assert refused.status_code == 403 and "victor is a viewer" in refused.text
    assert rt.store.post(post_id).status == "in_review"
    assert web.get(f"/posts/{post_id}").status_code == 200


def test_cards_are_served_from_the_media_folder(editor: tuple[TestClient, str], rt: Runtime) -> None:
    web, _ = editor
    post_id = fire(rt)
    card = rt.store.post(post_id).deliveries[0].variant.cards[0]
    image = web.get(f"/media/{card.path.name}")
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"
    assert image.content == (rt.project.root / card.path).read_bytes()


# -- what a refusal gives back --------------------------------------------------------------------


def edit_form(page: str, channel: str, lang: str) -> tuple[bool, str]:
    """Whether the variant's edit form is open, and the text in its textarea."""
    variant = page.split(f'data-channel="{channel}" data-lang="{lang}"', 1)[1].split('<div class="variant"', 1)[0]
    found = re.search(r'<details class="edit"( open)?>.*?<textarea[^>]*>(.*?)</textarea>', variant, re.DOTALL)
    assert found, f"no edit form for {channel} {lang}"
    return bool(found[1]), html.unescape(found[2])


def test_a_refused_edit_keeps_what_the_editor_typed(
    project_dir: Path, monkeypatch: pytest.MonkeyPatch, database_url: str
) -> None:
    rt = webapp.runtime(webapp.make_project(project_dir, monkeypatch, database_url))
    web, post_id = webapp.client(rt), fire(rt)
    token = log_in(web, "alice")
    before = {d.channel: d.variant.text for d in rt.store.post(post_id).deliveries if d.variant.lang == "en"}
    typed = f"Shenyang has 99 sister cities.\r\n{SCRIPT}"
    refused = web.post(f"/posts/{post_id}/variants/outbox/en/edit", data={"csrf_token": token, "text": typed})
    assert refused.status_code == 422 and SCRIPT not in refused.text
    assert edit_form(refused.text, "outbox", "en") == (True, typed.replace("\r\n", "\n"))
    assert edit_form(refused.text, "mastodon", "en") == (False, before["mastodon"])
    assert re.search(r'<p class="flash flash-error" role="alert">[^<]*99', refused.text)
    kept = {d.channel: d.variant.text for d in rt.store.post(post_id).deliveries if d.variant.lang == "en"}
    assert kept == before
    blank = web.post(f"/posts/{post_id}/variants/outbox/en/edit", data={"csrf_token": token, "text": "  "})
    assert blank.status_code == 422 and edit_form(blank.text, "outbox", "en") == (True, "  ")


def test_a_notice_and_an_error_look_different(editor: tuple[TestClient, str], rt: Runtime) -> None:
    web, token = editor
    post_id = fire(rt)
    post_form(web, f"/posts/{post_id}/approve", token)
    assert '<p class="flash flash-notice" role="status">Approved.</p>' in web.get(f"/posts/{post_id}").text
    again = web.post(f"/posts/{post_id}/approve", data={"csrf_token": token}).text
    assert '<p class="flash flash-error" role="alert">' in again and "flash-notice" not in again
    assert web.get(f"/posts/{post_id}").text.count('class="flash') == 0  # a refusal is not kept for later
    style = web.get("/static/style.css").text
    assert ".flash.flash-error {" in style and ".flash.flash-notice {" in style
