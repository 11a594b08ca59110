"""The preview under test: a small project (the example's facts and templates; outbox and Mastodon
channels), users of every role, a real queue, and helpers to log in and to bring deliveries into
each state through the store's own transitions."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import argon2
import pytest
from starlette.testclient import TestClient

from pipeline import flow
from pipeline.config import Project
from pipeline.flow import Runtime
from pipeline.records import Delivery, DeliveryStatus
from pipeline.testing import FakeClock
from pipeline.web.app import create_app

NOW = dt.datetime(2026, 11, 30, 1, 0, tzinfo=dt.UTC)  # a Monday, 09:00 in Shanghai
PASSWORDS = {"alice": "alice-pass-1", "victor": "victor-pass-1", "ada": "ada-pass-1"}
TOKENS = {"SHORTLINE_TEST_TOKEN_CMS": "cms-token-0123456789", "SHORTLINE_TEST_TOKEN_VIEW": "view-token-0123456789"}
LATER = dt.timedelta(days=400)  # a claim's horizon that takes any rescheduled delivery too
SCRIPT = "<script>alert(1)</script>"
# Cheap argon2 parameters keep the tests fast; verify() reads them from the hash itself.
CHEAP = argon2.PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


def schedule(hashes: dict[str, str]) -> str:
    return f"""\
timezone: Asia/Shanghai
channels:
  outbox: {{type: outbox, langs: [en, zh]}}
  mastodon:
    type: mastodon
    langs: [en]
    base_url: http://127.0.0.1:9
    credentials: {{access_token: "${{SHORTLINE_TEST_MASTODON}}"}}
jobs:
  shenyang-profile:
    facts: facts/shenyang.yaml
    post: posts/city-profile
    cards: [cards/stat.yaml]
    channels: [outbox, mastodon]
    trigger: {{cron: "0 9 * * mon"}}
    review: required
users:
  alice: {{role: editor, password_hash: "{hashes["alice"]}"}}
  victor: {{role: viewer, password_hash: "${{SHORTLINE_TEST_PW_VICTOR}}", api_token: "${{SHORTLINE_TEST_TOKEN_VIEW}}"}}
  ada: {{role: admin, password_hash: "{hashes["ada"]}"}}
  cms: {{role: editor, api_token: "${{SHORTLINE_TEST_TOKEN_CMS}}"}}
web:
  session_secret: "${{SHORTLINE_TEST_SESSION_SECRET}}"
"""


def make_project(root: Path, monkeypatch: pytest.MonkeyPatch, database_url: str | None = None) -> Project:
    """The example project's files under a test schedule; the subject's English name carries a script tag."""
    hashes = {name: CHEAP.hash(password) for name, password in PASSWORDS.items()}
    (root / "schedule.yaml").write_text(schedule(hashes))
    facts = root / "facts/shenyang.yaml"
    facts.write_text(facts.read_text().replace("subject: {en: Shenyang,", f"subject: {{en: Shenyang {SCRIPT},", 1))
    monkeypatch.setenv("SHORTLINE_TEST_PW_VICTOR", hashes["victor"])
    monkeypatch.setenv("SHORTLINE_TEST_SESSION_SECRET", "test-session-secret-0123456789")
    for name, value in TOKENS.items():
        monkeypatch.setenv(name, value)
    if database_url:
        monkeypatch.setenv("SHORTLINE_DATABASE_URL", database_url)
    else:
        monkeypatch.delenv("SHORTLINE_DATABASE_URL", raising=False)
    return Project(root)


def runtime(project: Project) -> Runtime:
    return Runtime.load(project, FakeClock(NOW))


def client(rt: Runtime) -> TestClient:
    return TestClient(create_app(rt), base_url="http://127.0.0.1", follow_redirects=False)


def csrf_token(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, "the page has no CSRF field"
    return found[1]


def log_in(web: TestClient, name: str, password: str | None = None) -> str:
    """Log in through the form; the session's CSRF token after login."""
    token = csrf_token(web.get("/login").text)
    form = {"name": name, "password": password or PASSWORDS[name], "csrf_token": token, "next": "/"}
    assert web.post("/login", data=form).status_code == 303
    return csrf_token(web.get("/").text)


def fire(rt: Runtime, when: dt.datetime = NOW) -> int:
    """A real post: the job's facts composed and its cards rendered, queued for review."""
    post_id = flow.fire(rt, "shenyang-profile", when)
    assert post_id is not None
    return post_id


def settle(rt: Runtime, post_id: int, channel: str, lang: str, status: DeliveryStatus) -> Delivery:
    """Take one approved delivery through a worker's claim to `status` (failed or unknown)."""
    now, every = rt.clock.now(), rt.store.post(post_id).deliveries
    [wanted] = [d.id for d in every if (d.channel, d.variant.lang) == (channel, lang)]
    others = [d.id for d in every if d.id != wanted]
    [claimed] = rt.store.claim_due(now, dt.timedelta(minutes=5), [channel], due_by=now + LATER, exclude=others)
    rt.store.finish(claimed, status, now, error="the API answered 503" if status == "failed" else "read timeout")
    [settled] = [d for d in rt.store.post(post_id).deliveries if d.id == wanted]
    return settled
