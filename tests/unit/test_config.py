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


CRON = '{cron: "0 9 * * 1"}'


@pytest.mark.parametrize(
    ("trigger", "expected"),
    [
        ('{cron: "0 9 * * 1", every: 6h}', "exactly one of cron, every or at"),
        ("{every: 30s}", "every must be at least 1m"),
        ('{at: "2026-12-01 09:00", start: "2026-12-01 09:00"}', "start goes with every"),
        ('{at: "2026-12-01T09:00+08:00"}', "write the local time"),
        ('{at: "next monday"}', "is not a local date and time"),
    ],
)
def test_bad_triggers_are_located(project_dir: Path, trigger: str, expected: str) -> None:
    text = (project_dir / "schedule.yaml").read_text().replace(f"trigger: {CRON}", f"trigger: {trigger}")
    line = next(i for i, s in enumerate(text.splitlines(), 1) if "trigger:" in s)
    [problem] = _problems(project_dir, text)
    assert f"schedule.yaml:{line}: jobs.shenyang-profile.trigger" in problem and expected in problem


def test_interval_and_date_triggers_fire_at_times_that_do_not_depend_on_the_start(project_dir: Path) -> None:
    from pipeline import triggers

    text = (project_dir / "schedule.yaml").read_text()
    (project_dir / "schedule.yaml").write_text(
        text.replace(f"trigger: {CRON}", 'trigger: {every: 6h, start: "2026-11-01 09:30"}')
    )
    cfg = config.load(Project(project_dir))
    now = dt.datetime(2026, 11, 30, 5, 0, tzinfo=dt.UTC)  # 13:00 in Shanghai
    assert triggers.latest_fire(cfg.jobs["shenyang-profile"], cfg.tz, now) == dt.datetime(
        2026, 11, 30, 1, 30, tzinfo=dt.UTC
    )
    (project_dir / "schedule.yaml").write_text(text.replace(f"trigger: {CRON}", 'trigger: {at: "2026-11-30 09:00"}'))
    job = config.load(Project(project_dir)).jobs["shenyang-profile"]
    assert triggers.latest_fire(job, cfg.tz, now) == dt.datetime(2026, 11, 30, 1, 0, tzinfo=dt.UTC)
    assert triggers.latest_fire(job, cfg.tz, now - dt.timedelta(hours=5)) is None


def test_clock_changes_are_flagged_and_a_doubled_time_fires_once(project_dir: Path) -> None:
    from pipeline import triggers
    from pipeline.checks import check_project

    text = (project_dir / "schedule.yaml").read_text().replace("timezone: Asia/Shanghai", "timezone: Europe/Berlin")
    (project_dir / "schedule.yaml").write_text(text.replace(f"trigger: {CRON}", 'trigger: {cron: "30 2 * * *"}'))
    cfg = config.load(Project(project_dir))
    job, tz = cfg.jobs["shenyang-profile"], cfg.tz
    found = triggers.dst_problems(job, tz, dt.datetime(2026, 12, 1, tzinfo=dt.UTC))
    assert found == [
        "2027-03-28 02:30 does not exist in Europe/Berlin: the clock jumps over it",
        "2027-10-31 02:30 happens twice in Europe/Berlin: the post is made at the first",
    ]
    first, second = (dt.datetime(2027, 10, 31, h, 30, tzinfo=dt.UTC) for h in (0, 1))  # 02:30 CEST, 02:30 CET
    assert not triggers.repeated(first, tz) and triggers.repeated(second, tz)
    problems = [str(p) for p in check_project(Project(project_dir)) if "trigger" in str(p)]
    assert len(problems) == 2 and all(
        "schedule.yaml:" in p and "jobs.shenyang-profile.trigger: " in p for p in problems
    )


def _line_of(text: str, fragment: str) -> int:
    return next(i for i, s in enumerate(text.splitlines(), 1) if fragment in s)


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("misfire: catch_up_once", "misfire: catchup", "jobs.shenyang-profile.misfire: Input should be 'skip' or"),
        ("max_lateness: 7d", "max_lateness: 0s", "jobs.shenyang-profile.max_lateness: must be longer than 0s"),
        ("max_lateness: 7d", "max_lateness: -1d", "jobs.shenyang-profile.max_lateness: '-1d' is not a duration"),
        ("review: required", "max_fact_age: forever", "jobs.shenyang-profile.max_fact_age: 'forever' is not a"),
        ("channels: [outbox, wechat, weibo, x, mastodon, bluesky, telegram, facebook, linkedin, webhook]",
         "channels: []", "jobs.shenyang-profile.channels: list at least one"),
        ("channels: [outbox, wechat,", "channels: [outbox, outbox, wechat,",
         "jobs.shenyang-profile.channels: 'outbox' listed twice"),
        ("    post: posts/city-profile", "    pots: posts/city-profile", "jobs.shenyang-profile.pots: unknown key"),
        ("type: outbox ", "type: outbocks ", "channels.outbox.type: Input should be 'outbox', 'wechat'"),
        ("langs: [en, zh]", "langs: [en, fr]", "channels.outbox.langs.1: Input should be 'en' or 'zh'"),
        ("langs: [en, zh]", "langs: []", "channels.outbox.langs: list at least one"),
        ("langs: [en, zh]", "langs: [zh, zh]", "channels.outbox.langs: 'zh' listed twice"),
        ("base_url: https://mastodon.social", "base_url: mastodon.social",
         "channels.mastodon.base_url: 'mastodon.social' is not an http:// or https:// URL"),
        ("timezone: Asia/Shanghai", "timezone: UTC+8", "timezone: 'UTC+8' is not an IANA timezone"),
        ("timezone: Asia/Shanghai", "timezone: 8", "timezone: Input should be a valid string"),
    ],
)  # fmt: skip
def test_every_key_is_checked_where_it_is_written(project_dir: Path, old: str, new: str, expected: str) -> None:
    text = (project_dir / "schedule.yaml").read_text()
    assert old in text
    text = text.replace(old, new, 1)
    line = _line_of(text, new)
    problems = _problems(project_dir, text)
    assert any(p.startswith(f"{project_dir / 'schedule.yaml'}:{line}: {expected}") for p in problems), problems


@pytest.mark.parametrize(
    ("trigger", "expected"),
    [
        ("{every: 6 hours}", "trigger.every: '6 hours' is not a duration such as '90s', '15m', '6h' or '2d'"),
        ("{every: 6h, start: yesterday}", "trigger.start: 'yesterday' is not a local date and time"),
        ('{at: "2026-02-30 09:00"}', "trigger.at: '2026-02-30 09:00' is not a local date and time"),
        ('{cron: "0 9 * *"}', "trigger.cron: '0 9 * *' is not a 5-field cron expression"),
        ("{}", "trigger: a trigger has exactly one of cron, every or at"),
        ('"0 9 * * 1"', "trigger: Input should be a valid dictionary"),
        ("{cron: '0 9 * * 1', when: daily}", "trigger.when: unknown key; expected one of: at, cron, every, start"),
    ],
)
def test_every_trigger_kind_is_checked(project_dir: Path, trigger: str, expected: str) -> None:
    text = (project_dir / "schedule.yaml").read_text().replace(f"trigger: {CRON}", f"trigger: {trigger}")
    [problem] = _problems(project_dir, text)
    assert problem.startswith(f"{project_dir / 'schedule.yaml'}:{_line_of(text, 'trigger:')}: jobs.shenyang-profile.")
    assert expected in problem


def test_every_problem_is_reported_at_once_in_line_order(project_dir: Path) -> None:
    text = (project_dir / "schedule.yaml").read_text()
    text = text.replace("timezone: Asia/Shanghai", "timezone: Mars/Olympus").replace("review: required", "review: no")
    text = text.replace("max_lateness: 7d", "max_lateness: 0s").replace("type: outbox ", "type: inbox ")
    problems = _problems(project_dir, text)
    keys = [p.split(": ", 2)[1] for p in problems]
    job = "jobs.shenyang-profile"
    assert keys == ["timezone", "channels.outbox.type", f"{job}.review", f"{job}.max_lateness"]
    lines = [int(p.split(":")[1]) for p in problems]
    assert lines == sorted(lines)
