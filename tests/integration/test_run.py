"""`shortline run` as the README promises: the example post appears in the preview within 30 seconds,
approving it there puts it in var/outbox/, and SIGTERM shuts everything down cleanly."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for(what: str, condition: Callable[[], bool], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"{what} did not happen within {seconds} s")


@pytest.fixture
def running(project_dir: Path) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "SHORTLINE_DATABASE_URL"}
    command = [sys.executable, "-m", "pipeline", "--project", str(project_dir), "run", "--port", str(port)]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    yield f"http://127.0.0.1:{port}", process
    if process.poll() is None:
        process.kill()
        process.wait()


def _page(url: str) -> str:
    try:
        return requests.get(url, timeout=2).text
    except requests.ConnectionError:
        return ""


def test_run_shows_the_post_and_publishes_it_after_approval(
    running: tuple[str, subprocess.Popen[str]], project_dir: Path
) -> None:
    url, process = running
    _wait_for("the example post in the preview", lambda: "Shenyang ranks No.1" in _page(url), 30)
    page = _page(url)
    assert "沈阳位列东北地区第一！" in page and "/media/" in page
    image = page.split('src="/media/', 1)[1].split('"', 1)[0]
    card = requests.get(f"{url}/media/{image}", timeout=5)
    assert card.headers["content-type"] == "image/png" and card.content.startswith(b"\x89PNG")

    approved = requests.post(f"{url}/posts/1/approve", timeout=5, allow_redirects=False)
    assert approved.status_code == 303
    outbox = project_dir / "var/outbox/outbox"
    _wait_for("two deliveries in the outbox", lambda: len(list(outbox.glob("delivery-*.json"))) == 2, 15)

    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=20)
    assert process.returncode == 0, output
    assert "Traceback" not in output
