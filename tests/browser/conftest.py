"""Browser tests: Playwright for Python driving Debian's Chromium against a real `shortline run`.

One server (a copy of the example project, an editor whose password hash comes from the
environment) and one browser serve a whole module; each test gets a fresh browser context. Playwright
cannot download browsers here, so the tests use the `chromium` on PATH (.ci/run installs Debian's)
and are skipped, saying so, only when there is none.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import argon2
import pytest
import requests
from playwright.sync_api import Browser, Page, sync_playwright

from pipeline.testing import free_port, wait_for
from tests.conftest import REPO

EDITOR, PASSWORD = "editor", "correct horse battery staple"
# Cheap argon2 parameters keep logging in fast; the server reads them from the hash itself.
HASHER = argon2.PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
USERS = """
users:
  editor: {role: editor, password_hash: "${SHORTLINE_BROWSER_EDITOR_HASH}"}
web:
  session_secret: "${SHORTLINE_BROWSER_SESSION_SECRET}"
"""


@dataclass(frozen=True)
class Server:
    url: str
    project: Path
    process: subprocess.Popen[str]




def _example_project(root: Path) -> Path:
    """The example project (as tests/conftest.py copies it), with one editor."""
    root.mkdir()
    for folder in ("facts", "templates", "assets"):
        shutil.copytree(REPO / folder, root / folder)
    (root / "schedule.yaml").write_text((REPO / "schedule.yaml").read_text() + USERS)
    return root


def _post_is_queued(url: str) -> bool:
    """Whether the scheduler's catch-up has queued the example post (post 1), seen through the login."""
    with requests.Session() as http:
        try:
            login = http.get(f"{url}/login", timeout=2)
        except requests.ConnectionError:
            return False
        token = login.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        form = {"name": EDITOR, "password": PASSWORD, "csrf_token": token, "next": "/posts/1"}
        return http.post(f"{url}/login", data=form, timeout=5).status_code == 200


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`shortline run` (scheduler, worker, preview) on a free port; the example post queued."""
    project, port = _example_project(tmp_path_factory.mktemp("browser") / "project"), free_port()
    env = {k: v for k, v in os.environ.items() if k != "SHORTLINE_DATABASE_URL"}
    env |= {"SHORTLINE_BROWSER_EDITOR_HASH": HASHER.hash(PASSWORD)}
    env |= {"SHORTLINE_BROWSER_SESSION_SECRET": secrets.token_urlsafe(32)}
    command = [sys.executable, "-m", "pipeline", "--project", str(project), "run", "--port", str(port)]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for("the example post in the queue", lambda: process.poll() is None and _post_is_queued(url), 60)
    except AssertionError:
        process.kill()
        raise AssertionError(process.communicate()[0]) from None
    yield Server(url, project, process)
    process.terminate()
    process.communicate(timeout=20)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("no `chromium` on PATH: install Debian's (apt-get install -y chromium); .ci/run does")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser, server: Server) -> Iterator[Page]:
    """A fresh context (no cookies) at desktop width, its timeouts short enough to fail fast."""
    context = browser.new_context(base_url=server.url, viewport={"width": 1440, "height": 900})
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Where screenshots go: $SHORTLINE_ARTIFACTS, else tests/browser/artifacts/ (git ignores it)."""
    folder = Path(os.environ.get("SHORTLINE_ARTIFACTS") or Path(__file__).parent / "artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def log_in(page: Page, name: str = EDITOR, password: str = PASSWORD) -> None:
    page.goto("/")
    page.get_by_label("Name").fill(name)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(lambda url: "/login" not in url)


def full_page(page: Page, artifacts: Path, name: str) -> None:
    """A full-page screenshot; JPEG, because the post page is tall and PNG takes twice as long."""
    page.screenshot(path=artifacts / f"{name}.jpg", full_page=True, type="jpeg", quality=80)
