"""The preview page over real HTTP semantics (Starlette's test client), on a real queue."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from PIL import Image
from starlette.testclient import TestClient

from pipeline.config import Project
from pipeline.flow import Runtime
from pipeline.model import Card, Variant
from pipeline.testing import FakeClock
from pipeline.web.app import create_app

NOW = dt.datetime(2026, 11, 30, 1, 0, tzinfo=dt.UTC)
NAME = "ab" * 32 + ".png"


@pytest.fixture
def rt(project_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Runtime:
    monkeypatch.delenv("SHORTLINE_DATABASE_URL", raising=False)
    rt = Runtime.load(Project(project_dir), FakeClock(NOW))
    rt.project.media.mkdir(parents=True)
    Image.new("RGB", (30, 40), "#0b5cab").save(rt.project.media / NAME)
    card = Card(Path("var/media") / NAME, 30, 40, "23 sister cities")
    text = "Headline <script>alert(1)</script>\n\nBody & more"
    rt.store.add_post(
        "job", NOW, "Title <b>bold</b>", [Variant("outbox", "outbox", "en", text, (card,))], auto_approve=False, now=NOW
    )
    return rt


@pytest.fixture
def client(rt: Runtime) -> TestClient:
    return TestClient(create_app(rt), follow_redirects=False)


def test_queue_page_escapes_every_text(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "Title &lt;b&gt;bold&lt;/b&gt;" in page.text and "Body &amp; more" in page.text
    assert f'src="/media/{NAME}"' in page.text and 'alt="23 sister cities"' in page.text
    assert page.headers["x-content-type-options"] == "nosniff"
    assert "default-src 'self'" in page.headers["content-security-policy"]


def test_approve_by_post_only(client: TestClient, rt: Runtime) -> None:
    assert client.get("/posts/1/approve").status_code == 405
    response = client.post("/posts/1/approve")
    assert (response.status_code, response.headers["location"]) == (303, "/")
    post = rt.store.post(1)
    assert post.status == "approved" and post.deliveries[0].status == "scheduled"
    assert client.post("/posts/1/approve").status_code == 409


def test_reject_keeps_the_reason(client: TestClient, rt: Runtime) -> None:
    assert client.post("/posts/1/reject", data={"reason": "wrong figure"}).status_code == 303
    assert rt.store.audit_trail(1)[-1].reason == "wrong figure"
    assert client.post("/posts/9/reject", data={"reason": "x"}).status_code == 404


def test_media_is_served_only_from_the_media_folder(client: TestClient) -> None:
    image = client.get(f"/media/{NAME}")
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"
    for path in (
        "/media/..%2F..%2Fschedule.yaml",
        "/media/../schedule.yaml",
        "/media/" + "cd" * 32 + ".png",
        "/media/%2Fetc%2Fpasswd",
        "/static/../app.py",
    ):
        assert client.get(path).status_code == 404, path
