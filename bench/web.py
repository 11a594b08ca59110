"""Response times of the preview over real HTTP: the queue page with 1,000 posts, and a post page.

    python bench/web.py [--posts N] [--repeat N]

The example project is copied to a temporary folder and its queue (SQLite) seeded with N posts of
the example job (its ten channels in two languages: 20 deliveries a post, the payloads real: the
first post is composed and rendered, the others queued with its variants at earlier fire times; a
third approved, a seventh rejected). `shortline serve` then runs in its own process, as an editor
would reach it, and one logged-in requests.Session (keep-alive) times each page; the table shows the
median and p95 and the ratio of the median to its target (queue ≤ 100 ms, post page ≤ 150 ms).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.run import copy_project
from pipeline import flow
from pipeline.clock import SystemClock
from pipeline.config import Project
from pipeline.testing import free_port

JOB = "shenyang-profile"
QUEUE_TARGET, POST_TARGET = 0.100, 0.150  # seconds, median


def seed(project: Path, posts: int) -> int:
    """Fill the queue; the id of the composed post (the one whose page is timed)."""
    rt = flow.Runtime.load(Project(project), SystemClock())
    now = rt.clock.now()
    first = flow.fire(rt, JOB, now)
    assert first is not None
    variants = [delivery.variant for delivery in rt.store.post(first).deliveries]
    title = rt.store.post(first).title
    for n in range(1, posts):
        post_id = rt.store.add_post(JOB, now - dt.timedelta(hours=6 * n), title, variants, auto_approve=False, now=now)
        assert post_id is not None
        if n % 3 == 0:
            rt.store.approve(post_id, "bench", now)
        elif n % 7 == 0:
            rt.store.reject(post_id, "bench", "bench", now)
    rt.store.engine.dispose()
    return first


@contextmanager
def serving(project: Path) -> Iterator[str]:
    """`shortline serve` in its own process, until the block ends."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "SHORTLINE_DATABASE_URL"}
    command = [sys.executable, "-m", "pipeline", "--project", str(project), "serve", "--port", str(port)]
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not reachable(url):
            time.sleep(0.1)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=20)


def reachable(url: str) -> bool:
    try:
        return requests.get(f"{url}/login", timeout=1).status_code == 200
    except requests.ConnectionError:
        return False


def log_in(url: str, project: Path) -> requests.Session:
    """The local admin of a project without users (README): its password is in var/admin-password."""
    browser = requests.Session()
    page = browser.get(f"{url}/login", timeout=5).text
    token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    form = {"name": "admin", "password": (project / "var/admin-password").read_text().strip(), "csrf_token": token}
    assert browser.post(f"{url}/login", data=form, timeout=5, allow_redirects=False).status_code == 303
    return browser


def timed(browser: requests.Session, url: str, repeat: int) -> list[float]:
    for _ in range(5):  # warm: templates compiled, connection open, SQLite pages cached
        browser.get(url, timeout=10).raise_for_status()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        response = browser.get(url, timeout=10)
        samples.append(time.perf_counter() - start)
        response.raise_for_status()
    return samples


def row(name: str, samples: list[float], target: float | None) -> str:
    median, p95 = statistics.median(samples), statistics.quantiles(samples, n=20)[-1]
    goal, ratio = (f"{target * 1000:.0f}", f"{median / target:.2f}") if target else ("-", "-")
    return f"| {name:<34} | {median * 1000:>9.1f} | {p95 * 1000:>9.1f} | {goal:>9} | {ratio:>6} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--posts", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=60)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        project = copy_project(Path(tmp))
        started = time.perf_counter()
        post_id = seed(project, args.posts)
        print(f"seeded {args.posts:,} posts in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        pages = [
            (f"queue page ({args.posts:,} posts)", "/", QUEUE_TARGET),
            ("queue, filtered (in review)", "/?status=in_review", None),
            ("post page (20 deliveries)", f"/posts/{post_id}", POST_TARGET),
            ("calendar (14 days)", "/calendar?tz=Europe/Berlin", None),
            ("GET /api/posts", "/api/posts", None),
        ]
        with serving(project) as url:
            browser = log_in(url, project)
            rows = [row(name, timed(browser, url + path, args.repeat), target) for name, path, target in pages]
    print(f"| {'page':<34} | {'median ms':>9} | {'p95 ms':>9} | {'target':>9} | {'ratio':>6} |")
    print(f"|{'-' * 36}|{'-' * 11}|{'-' * 11}|{'-' * 11}|{'-' * 8}|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
