"""`shortline run` as the README promises: the example post appears in the preview within 30 seconds,
approving it there puts it in var/outbox/, and SIGTERM shuts everything down cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from pipeline.testing import free_port, wait_for


@pytest.fixture
def running(project_dir: Path) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "SHORTLINE_DATABASE_URL"}
    command = [sys.executable, "-m", "pipeline", "--project", str(project_dir), "run", "--port", str(port)]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    yield f"http://127.0.0.1:{port}", process
    if process.poll() is None:
        process.kill()
        process.wait()


def _page(browser: requests.Session, url: str) -> str:
    try:
        return browser.get(url, timeout=2).text
    except requests.ConnectionError:
        return ""


def _csrf(page: str) -> str:
    return page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]


def _log_in(url: str, project_dir: Path) -> requests.Session:
    """As the README says: a project without users has an admin whose password is in var/admin-password."""
    browser, secret = requests.Session(), project_dir / "var/admin-password"
    wait_for("the preview", lambda: secret.exists() and "csrf_token" in _page(browser, f"{url}/login"), 30)
    form = {
        "name": "admin",
        "password": secret.read_text().strip(),
        "csrf_token": _csrf(_page(browser, f"{url}/login")),
    }
    assert browser.post(f"{url}/login", data=form, timeout=5, allow_redirects=False).status_code == 303
    return browser


def test_run_shows_the_post_and_publishes_it_after_approval(
    running: tuple[str, subprocess.Popen[str]], project_dir: Path
) -> None:
    url, process = running
    browser = _log_in(url, project_dir)
    wait_for("the example post in the preview", lambda: "Shenyang ranks No.1" in _page(browser, url), 30)
    page = _page(browser, f"{url}/posts/1")
    assert "沈阳位列东北地区第一！" in page and "/media/" in page
    image = page.split('src="/media/', 1)[1].split('"', 1)[0]
    card = browser.get(f"{url}/media/{image}", timeout=5)
    assert card.headers["content-type"] == "image/png" and card.content.startswith(b"\x89PNG")

    approved = browser.post(
        f"{url}/posts/1/approve", data={"csrf_token": _csrf(page)}, timeout=5, allow_redirects=False
    )
    assert approved.status_code == 303
    outbox = project_dir / "var/outbox/outbox"
    wait_for("two deliveries in the outbox", lambda: len(list(outbox.glob("delivery-*.json"))) == 2, 15)

    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=20)
    assert process.returncode == 0, output
    assert "Traceback" not in output
