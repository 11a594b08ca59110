from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from pipeline import config
from pipeline.config import Project
from pipeline.errors import ConfigError


def _problems(root: Path, text: str) -> list[str]:
    (root / "schedule.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        config.load(Project(root))
    return [str(p) for p in caught.value.problems]


def test_example_schedule_loads(project_dir: Path) -> None:
    cfg = config.load(Project(project_dir))
    job = cfg.jobs["shenyang-profile"]
    assert cfg.timezone == "Asia/Shanghai"
    assert job.channels[0] == "outbox" and len(job.channels) == 10 and job.review == "required"
    assert {channel.type for channel in cfg.channels.values()} >= {"outbox", "wechat", "x", "bluesky", "webhook"}
    assert job.max_lateness == dt.timedelta(days=7)


def test_typo_key_names_file_line_and_key(project_dir: Path) -> None:
    text = (project_dir / "schedule.yaml").read_text().replace("    review:", "    reveiw:")
    line = next(i for i, s in enumerate(text.splitlines(), 1) if "reveiw" in s)
    [problem] = _problems(project_dir, text)
    assert problem.startswith(f"{project_dir / 'schedule.yaml'}:{line}: jobs.shenyang-profile.reveiw: unknown key")
    assert "did you mean 'review'" in problem


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("Asia/Shanghai", "Asia/Shang_Hai", "is not an IANA timezone"),
        ('"0 9 * * 1"', '"0 25 * * 1"', "is not a 5-field cron expression"),
        ("review: required ", "review: sometimes ", "review: Input should be 'required' or 'auto'"),
        ("channels: [outbox, wechat,", "channels: [outbox, wechat2,", "no channel named 'wechat2'"),
        ("max_lateness: 7d", "max_lateness: a week", "is not a duration"),
    ],
)
def test_bad_values_are_located(project_dir: Path, old: str, new: str, expected: str) -> None:
    text = (project_dir / "schedule.yaml").read_text()
    assert old in text
    text = text.replace(old, new)
    line = next(i for i, s in enumerate(text.splitlines(), 1) if new.split(":")[-1].strip() in s)
    [problem] = _problems(project_dir, text)
    assert f"schedule.yaml:{line}: " in problem and expected in problem


def test_inline_secret_is_refused(project_dir: Path) -> None:
    text = (project_dir / "schedule.yaml").read_text()
    text = text.replace("    langs: [en, zh]", "    langs: [en, zh]\n    credentials: {token: hunter2}", 1)
    [problem] = _problems(project_dir, text)
    assert "${ENV_VAR}" in problem and "hunter2" not in problem


def test_invalid_yaml_is_located(project_dir: Path) -> None:
    [problem] = _problems(project_dir, "timezone: UTC\nchannels: [\n")
    assert "schedule.yaml:3: invalid YAML" in problem
