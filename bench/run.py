"""Benchmarks that print a table of medians (never timed assertions in tests).

    python bench/run.py [--repeat N]

Measures, on the example project copied to a temporary folder:
  - `shortline --help` as a fresh process (target < 0.3 s: heavy imports stay lazy);
  - one whole `shortline generate <job> --dry-run` as a fresh process (compose + render + JSON);
  - one `generate` in-process once warm (compose + render, cards already cached on disk or not).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
JOB = "shenyang-profile"


def timed(action: Callable[[], object], repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        samples.append(time.perf_counter() - start)
    return samples


def cli(project: Path, *args: str) -> Callable[[], object]:
    command = [str(Path(sys.executable).with_name("shortline")), "--project", str(project), *args]
    return lambda: subprocess.run(command, check=True, capture_output=True)


def copy_project(into: Path) -> Path:
    root = into / "project"
    root.mkdir()
    shutil.copy(REPO / "schedule.yaml", root)
    for folder in ("facts", "templates", "assets"):
        shutil.copytree(REPO / folder, root / folder)
    return root


def in_process_generate(project: Path) -> Callable[[], object]:
    from pipeline import flow
    from pipeline.clock import SystemClock
    from pipeline.config import Project

    rt = flow.Runtime.load(Project(project), SystemClock())
    return lambda: flow.generate(rt, JOB)


def row(name: str, samples: list[float], target: float | None) -> str:
    median = statistics.median(samples)
    ratio = f"{median / target:.2f}" if target else "-"
    goal = f"{target * 1000:.0f}" if target else "-"
    return f"| {name:<42} | {median * 1000:>9.1f} | {min(samples) * 1000:>9.1f} | {goal:>9} | {ratio:>6} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=11)
    repeat = parser.parse_args().repeat
    with tempfile.TemporaryDirectory() as tmp:
        project = copy_project(Path(tmp))
        rows = [
            row("shortline --help (process)", timed(cli(project, "--help"), repeat), 0.3),
            row(
                "shortline generate --dry-run (process)",
                timed(cli(project, "generate", JOB, "--dry-run"), repeat),
                None,
            ),
            row("generate, in process, warm", timed(in_process_generate(project), repeat), None),
        ]
    print(f"| {'benchmark':<42} | {'median ms':>9} | {'min ms':>9} | {'target':>9} | {'ratio':>6} |")
    print(f"|{'-' * 44}|{'-' * 11}|{'-' * 11}|{'-' * 11}|{'-' * 8}|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
