"""The preview's defences, over HTTP on a real queue: login everywhere, CSRF on every state change,
roles, escaping, media only from the media folder, security headers, users' secrets in config, login
throttling per name and per address, and the session cookie's flags."""

from __future__ import annotations

import logging
import stat
import subprocess
import sys
from pathlib import Path
from typing import cast

import pytest
from fastapi import FastAPI
from httpx2 import Response
from starlette.testclient import TestClient

from pipeline import cli
from pipeline.config import Project
from pipeline.errors import ConfigError
from pipeline.flow import Runtime
from pipeline.testing import FakeClock
from pipeline.web import auth, throttle
from pipeline.web.app import create_app
from tests.integration import webapp
from tests.integration.webapp import SCRIPT, TOKENS, csrf_token, fire, log_in

ACTIONS = [
    "/posts/{post}/approve",
    "/posts/{post}/reject",
    "/posts/{post}/cancel",
    "/posts/{post}/reschedule",
    "/posts/{post}/variants/outbox/en/edit",
    "/posts/{post}/rerender",
    "/deliveries/{delivery}/retry",
    "/deliveries/{delivery}/resolve",
]
FIELDS = {"reason": "r", "at": "2026-12-02T10:00", "text": "Shenyang", "url": "https://example.org/1"}


@pytest.fixture
def rt(project_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Runtime:
    return webapp.runtime(webapp.make_project(project_dir, monkeypatch))


@pytest.fixture
def web(rt: Runtime) -> TestClient:
    return webapp.client(rt)


@pytest.fixture
def post_id(rt: Runtime) -> int:
    return fire(rt)


def urls(rt: Runtime, post_id: int) -> list[str]:
    delivery = rt.store.post(post_id).deliveries[0].id
    return [action.format(post=post_id, delivery=delivery) for action in ACTIONS]


# -- CSRF -----------------------------------------------------------------------------------------


def test_every_action_without_the_csrf_token_gets_403(web: TestClient, rt: Runtime, post_id: int) -> None:
    token = log_in(web, "alice")
    for url in urls(rt, post_id):
        assert web.post(url, data=FIELDS).status_code == 403, url
        assert web.post(url, data=FIELDS | {"csrf_token": token[:-2] + "xx"}).status_code == 403, url
        assert web.post(url, json=FIELDS, headers={"X-CSRF-Token": "forged"}).status_code == 403, url
    assert web.post("/logout").status_code == 403
    assert rt.store.post(post_id).status == "in_review"
    assert [event.actor for event in rt.store.audit_trail(post_id)] == ["scheduler"]


def test_another_sessions_token_is_refused(rt: Runtime, post_id: int) -> None:
    first, second = webapp.client(rt), webapp.client(rt)
    log_in(first, "alice")
    other = log_in(second, "ada")
    assert first.post(f"/posts/{post_id}/approve", data={"csrf_token": other}).status_code == 403


def test_login_needs_the_token_too_and_a_new_one_after(web: TestClient) -> None:
    anonymous = csrf_token(web.get("/login").text)
    form = {"name": "alice", "password": webapp.PASSWORDS["alice"], "next": "/"}
    assert web.post("/login", data=form).status_code == 403
    assert web.post("/login", data=form | {"csrf_token": anonymous}).status_code == 303
    assert csrf_token(web.get("/").text) != anonymous


def test_the_token_in_a_header_works_for_forms_and_json(web: TestClient, post_id: int) -> None:
    token = log_in(web, "alice")
    assert web.post(f"/posts/{post_id}/approve", headers={"X-CSRF-Token": token}).status_code == 303


# -- logging in -----------------------------------------------------------------------------------


def test_every_page_asks_for_a_login(web: TestClient, post_id: int) -> None:
    name = "ab" * 32 + ".png"
    for path in ("/", "/calendar", f"/posts/{post_id}", f"/media/{name}", "/?status=failed"):
        response = web.get(path)
        assert response.status_code == 303 and response.headers["location"].startswith("/login?next=%2F"), path
    for path in ("/api/posts", f"/api/posts/{post_id}", "/api/me"):
        response = web.get(path)
        assert (response.status_code, response.headers["www-authenticate"]) == (401, "Bearer"), path
    assert web.post(f"/api/posts/{post_id}/approve").status_code == 401
    assert web.post(f"/posts/{post_id}/approve").status_code == 303
    assert web.get("/api/me", headers={"Authorization": "Bearer wrong-token"}).status_code == 401
    assert web.get("/api/me", headers={"Authorization": "Basic YWxpY2U6YWxpY2U="}).status_code == 401
    assert web.get("/login").status_code == 200 and web.get("/openapi.json").status_code == 200


def test_login_never_redirects_off_the_site(web: TestClient) -> None:
    token = csrf_token(web.get("/login?next=//evil.example/").text)
    form = {"name": "alice", "password": webapp.PASSWORDS["alice"], "csrf_token": token}
    for target in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
        web.cookies.clear()
        token = csrf_token(web.get("/login").text)
        response = web.post("/login", data=form | {"csrf_token": token, "next": target})
        assert response.headers["location"] == "/", target


def test_session_cookie_is_http_only_and_same_site(web: TestClient) -> None:
    cookie = web.get("/login").headers["set-cookie"]
    assert "shortline_session=" in cookie and "httponly" in cookie.lower() and "samesite=lax" in cookie.lower()


def test_a_viewers_token_reads_but_cannot_act(web: TestClient, post_id: int) -> None:
    viewer = {"Authorization": f"Bearer {TOKENS['SHORTLINE_TEST_TOKEN_VIEW']}"}
    assert web.get("/api/me", headers=viewer).json() == {"name": "victor", "role": "viewer"}
    refused = web.post(f"/api/posts/{post_id}/approve", headers=viewer)
    assert refused.status_code == 403 and refused.json() == {
        "detail": "victor is a viewer: only editors and admins may change posts"
    }


# -- what pages show and serve --------------------------------------------------------------------


def test_a_fact_with_a_script_tag_shows_as_text(web: TestClient, post_id: int) -> None:
    log_in(web, "alice")
    for path in ("/", f"/posts/{post_id}", "/calendar"):
        page = web.get(path).text
        assert SCRIPT not in page, path
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page, path
    assert "<script>" not in web.get("/login").text


@pytest.mark.parametrize(
    "path",
    [
        "/media/..%2fshortline.db",
        "/media/..%2Fshortline.db",
        "/media/%2e%2e%2fshortline.db",
        "/media/..%252fshortline.db",
        "/media/../shortline.db",
        "/media/..%5cshortline.db",
        "/media/%2Fetc%2Fpasswd",
        "/media/" + "cd" * 32 + ".png",
        "/media/" + "AB" * 32 + ".png",
        "/media/shortline.db",
        "/static/../app.py",
        "/static/..%2fapp.py",
        "/static/%2e%2e/app.py",
    ],
)
def test_path_traversal_gets_404(web: TestClient, rt: Runtime, path: str) -> None:
    log_in(web, "alice")
    (rt.project.var / "shortline.db").touch()
    response = web.get(path)
    assert response.status_code == 404, path
    assert b"SQLite" not in response.content


def test_security_headers_on_every_response(web: TestClient, post_id: int) -> None:
    log_in(web, "alice")
    for path in ("/", "/login", f"/posts/{post_id}", "/static/style.css", "/api/me", "/openapi.json", "/nowhere"):
        headers = web.get(path).headers
        assert headers["x-content-type-options"] == "nosniff", path
        assert headers["x-frame-options"] == "DENY", path
        policy = headers["content-security-policy"]
        assert "default-src 'self'" in policy and "script-src 'self'" in policy and "unsafe-inline" not in policy
        assert "frame-ancestors 'none'" in policy and headers["referrer-policy"] == "same-origin"


def test_an_unexpected_error_is_a_plain_500_with_the_headers(
    rt: Runtime, post_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    web = TestClient(create_app(rt), follow_redirects=False, raise_server_exceptions=False)
    log_in(web, "alice")

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("secret detail of a bug")

    monkeypatch.setattr(rt.store, "queue_page", broken)
    response = web.get("/")
    assert response.status_code == 500 and "secret detail" not in response.text
    assert response.headers["x-frame-options"] == "DENY"
    assert "default-src 'self'" in response.headers["content-security-policy"]


def test_pages_carry_no_inline_script_or_style(web: TestClient, post_id: int) -> None:
    log_in(web, "alice")
    for path in ("/", "/calendar", f"/posts/{post_id}", "/login"):
        page = web.get(path).text
        assert "<script>" not in page and " style=" not in page and " onclick=" not in page, path


def test_actions_are_post_only(web: TestClient, rt: Runtime, post_id: int) -> None:
    log_in(web, "alice")
    for url in urls(rt, post_id):
        assert web.get(url).status_code == 405, url


def test_the_server_binds_to_loopback_unless_told() -> None:
    for command in ("serve", "run"):
        [host] = [p for p in cli.main.commands[command].params if p.name == "host"]
        assert host.default == "127.0.0.1"


# -- users in schedule.yaml -----------------------------------------------------------------------


def test_a_plain_password_in_schedule_is_an_error_naming_the_line(
    project_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = webapp.make_project(project_dir, monkeypatch)
    text = project.schedule.read_text()
    start = text.index('password_hash: "$argon2')
    end = text.index('"', start + len('password_hash: "'))
    project.schedule.write_text(text[:start] + 'password_hash: "hunter2' + text[end:])
    with pytest.raises(ConfigError) as caught:
        webapp.runtime(project)
    line = text[:start].count("\n") + 1
    assert f"schedule.yaml:{line}: users.alice.password_hash: write the hash `shortline users hash` prints" in str(
        caught.value
    )
    assert "hunter2" not in str(caught.value)


def test_an_environment_hash_that_is_no_hash_is_named(project_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rt = webapp.runtime(webapp.make_project(project_dir, monkeypatch))
    monkeypatch.setenv("SHORTLINE_TEST_PW_VICTOR", "victor-plain-password")
    with pytest.raises(ConfigError) as caught:
        create_app(rt)
    assert "schedule.yaml:" in str(caught.value) and "users.victor.password_hash: ${SHORTLINE_TEST_PW_VICTOR}" in str(
        caught.value
    )
    assert "victor-plain-password" not in str(caught.value)


def test_a_project_without_users_gets_a_local_admin(
    project_dir: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("SHORTLINE_DATABASE_URL", raising=False)
    monkeypatch.delenv("SHORTLINE_SESSION_SECRET", raising=False)
    rt = webapp.runtime(Project(project_dir))  # the example schedule: no users
    with caplog.at_level(logging.WARNING):
        web = webapp.client(rt)
    secret = project_dir / "var/admin-password"
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    password = secret.read_text().strip()
    assert (
        "log in as 'admin' with the password in" in caplog.text and "SHORTLINE_SESSION_SECRET is unset" in caplog.text
    )
    assert password not in caplog.text
    log_in(web, "admin", password)
    assert "admin" in web.get("/").text
    webapp.client(rt)  # a restart keeps the password
    assert secret.read_text().strip() == password


def test_a_password_file_made_at_the_same_moment_elsewhere_stands(tmp_path: Path) -> None:
    secret = tmp_path / "var/admin-password"
    auth.new_password_file(secret)  # another process, between this one's check and its write
    first = secret.read_text()
    auth.new_password_file(secret)
    assert secret.read_text() == first and first.strip()
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert [p.name for p in secret.parent.iterdir()] == ["admin-password"]  # no draft left behind


def test_users_hash_prints_a_hash_that_logs_in(project_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    command = [sys.executable, "-m", "pipeline", "users", "hash"]
    result = subprocess.run(command, input="s3cret-words\ns3cret-words\n", capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    printed = result.stdout.strip().splitlines()[-1]
    assert printed.startswith("$argon2id$") and "s3cret-words" not in result.stdout
    project = webapp.make_project(project_dir, monkeypatch)
    monkeypatch.setenv("SHORTLINE_TEST_PW_VICTOR", printed)
    web = webapp.client(webapp.runtime(project))
    assert log_in(web, "victor", "s3cret-words")


# -- login throttling -----------------------------------------------------------------------------


def from_address(app: FastAPI, address: str) -> TestClient:
    """A browser at `address` (its own cookies) on the one app, so that all share its throttle."""
    return TestClient(app, base_url="http://127.0.0.1", follow_redirects=False, client=(address, 50000))


def try_login(app: FastAPI, address: str, name: str, password: str) -> Response:
    web = from_address(app, address)
    form = {"name": name, "password": password, "csrf_token": csrf_token(web.get("/login").text), "next": "/"}
    return web.post("/login", data=form)


@pytest.fixture
def checked(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The passwords the app hashes to check, in order."""
    seen: list[str] = []
    verify = auth._verify

    def counting(password_hash: str, password: str) -> bool:
        seen.append(password)
        return verify(password_hash, password)

    monkeypatch.setattr(auth, "_verify", counting)
    return seen


def test_failures_for_a_name_refuse_it_from_anywhere_without_hashing(
    rt: Runtime, checked: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    app, right = create_app(rt), webapp.PASSWORDS["alice"]
    for n in range(throttle.LIMIT):
        assert try_login(app, f"203.0.113.{n}", "alice", f"guess-{n}").status_code == 401
    with caplog.at_level(logging.WARNING):
        refused = try_login(app, "198.51.100.9", "alice", right)
    assert (refused.status_code, refused.headers["retry-after"]) == (429, "900")
    assert "Too many failed logins: try again in 15 minutes." in refused.text and "set-cookie" not in refused.headers
    assert right not in checked and len(checked) == throttle.LIMIT
    assert "login as 'alice' from 198.51.100.9 refused: too many failed attempts" in caplog.text
    assert right not in caplog.text and "guess-" not in caplog.text
    assert try_login(app, "198.51.100.9", "ada", webapp.PASSWORDS["ada"]).status_code == 303  # another name
    cast(FakeClock, rt.clock).advance(throttle.WINDOW.total_seconds())
    assert try_login(app, "198.51.100.9", "alice", right).status_code == 303


def test_failures_from_an_address_refuse_every_name_from_it(rt: Runtime, checked: list[str]) -> None:
    app = create_app(rt)
    for n in range(throttle.LIMIT):
        assert try_login(app, "203.0.113.7", f"user{n}", "guess").status_code == 401
    refused = try_login(app, "203.0.113.7", "alice", webapp.PASSWORDS["alice"])
    assert refused.status_code == 429 and webapp.PASSWORDS["alice"] not in checked
    assert try_login(app, "203.0.113.8", "alice", webapp.PASSWORDS["alice"]).status_code == 303


def test_a_success_clears_the_names_failures_only(rt: Runtime) -> None:
    app, right = create_app(rt), webapp.PASSWORDS["alice"]
    for n in range(throttle.LIMIT - 1):
        assert try_login(app, f"203.0.113.{n}", "alice", "guess").status_code == 401
    assert try_login(app, "203.0.113.0", "alice", right).status_code == 303
    for n in range(throttle.LIMIT - 1):  # without the clearing, these would make 8 failures
        assert try_login(app, f"198.51.100.{n}", "alice", "guess").status_code == 401
    assert try_login(app, "192.0.2.1", "alice", right).status_code == 303
    # 203.0.113.0 had failed once for alice; its own success does not clear the address's count
    for name in ("user1", "user2", "user3"):
        assert try_login(app, "203.0.113.0", name, "guess").status_code == 401
    assert try_login(app, "203.0.113.0", "ada", webapp.PASSWORDS["ada"]).status_code == 303
    assert try_login(app, "203.0.113.0", "user4", "guess").status_code == 401
    assert try_login(app, "203.0.113.0", "ada", webapp.PASSWORDS["ada"]).status_code == 429


def test_the_window_slides_and_retry_after_says_when(rt: Runtime) -> None:
    app, clock = create_app(rt), cast(FakeClock, rt.clock)
    for n in range(throttle.LIMIT):  # one failure a minute
        assert try_login(app, f"203.0.113.{n}", "alice", "guess").status_code == 401
        clock.advance(60)
    assert try_login(app, "192.0.2.1", "alice", "guess").headers["retry-after"] == str(15 * 60 - 5 * 60)
    clock.advance(10 * 60)  # the first failure is 15 minutes old: one more attempt
    assert try_login(app, "192.0.2.1", "alice", "guess").status_code == 401
    refused = try_login(app, "192.0.2.2", "alice", webapp.PASSWORDS["alice"])
    assert (refused.status_code, refused.headers["retry-after"]) == (429, "60")
    assert "try again in 1 minute." in refused.text


def test_attempts_still_being_checked_count_against_the_limit() -> None:
    guard = throttle.LoginThrottle(FakeClock(webapp.NOW))
    assert [guard.admit("alice", f"203.0.113.{n}") for n in range(throttle.LIMIT)] == [None] * throttle.LIMIT
    assert guard.admit("alice", "192.0.2.1") == 1  # five in flight: the sixth waits for their outcome
    assert guard.admit("ada", "203.0.113.0") is None
    guard.settle("ada", "203.0.113.0", succeeded=True)
    for n in range(throttle.LIMIT):
        guard.settle("alice", f"203.0.113.{n}", succeeded=False)
    assert guard.admit("alice", "192.0.2.1") == 900


# -- the session cookie ---------------------------------------------------------------------------


def session_cookie(project: Project) -> str:
    return webapp.client(webapp.runtime(project)).get("/login").headers["set-cookie"].lower()


def test_the_cookie_is_secure_only_when_configured(project_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = webapp.make_project(project_dir, monkeypatch)
    assert "secure" not in session_cookie(project)  # the default: the preview serves plain HTTP on loopback
    project.schedule.write_text(project.schedule.read_text().replace("web:\n", "web:\n  secure_cookies: true\n"))
    cookie = session_cookie(project)
    assert "; secure" in cookie and "samesite=lax" in cookie and "httponly" in cookie


def test_a_wrong_secure_cookies_value_is_named(project_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = webapp.make_project(project_dir, monkeypatch)
    text = project.schedule.read_text().replace("web:\n", "web:\n  secure_cookies: sometimes\n")
    project.schedule.write_text(text)
    with pytest.raises(ConfigError) as caught:
        webapp.runtime(project)
    line = text.splitlines().index("  secure_cookies: sometimes") + 1
    assert f"schedule.yaml:{line}: web.secure_cookies:" in str(caught.value)
