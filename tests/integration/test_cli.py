"""The `shortline` command as a user runs it: exit codes, messages, and the whole flow to the outbox."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.compose.channels import SPECS


def shortline(project: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "pipeline", "--project", str(project), *args]
    environment = {k: v for k, v in os.environ.items() if k != "SHORTLINE_DATABASE_URL"} | (env or {})
    return subprocess.run(command, capture_output=True, text=True, timeout=120, env=environment)


def test_help_lists_every_command(tmp_path: Path) -> None:
    result = shortline(tmp_path, "--help")
    assert result.returncode == 0
    for command in ("check", "generate", "queue", "publish", "run", "serve"):
        assert command in result.stdout
    assert "Example:" in shortline(tmp_path, "queue", "reject", "--help").stdout


def test_check_passes_silently_on_the_example(project_dir: Path) -> None:
    result = shortline(project_dir, "check")
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_check_names_a_typo_in_schedule(project_dir: Path) -> None:
    schedule = project_dir / "schedule.yaml"
    schedule.write_text(
        schedule.read_text().replace("  shenyang-profile:\n    facts:", "  shenyang-profile:\n    fatcs:")
    )
    result = shortline(project_dir, "check")
    assert result.returncode == 2
    line = next(i for i, s in enumerate(schedule.read_text().splitlines(), 1) if "fatcs" in s)
    assert f"schedule.yaml:{line}: jobs.shenyang-profile.fatcs: unknown key (did you mean 'facts'?)" in result.stdout


def test_check_names_a_broken_fact(project_dir: Path) -> None:
    path = project_dir / "facts/shenyang.yaml"
    text = path.read_text().replace("    value: 78\n", "    value: seventy-eight\n")
    path.write_text(text)
    result = shortline(project_dir, "check")
    assert result.returncode == 2
    line = next(i for i, s in enumerate(text.splitlines(), 1) if s.strip() == "friendly_cities:")
    assert f"facts/shenyang.yaml:{line}: facts.friendly_cities: a count needs a numeric value" in result.stdout


def test_generate_with_a_broken_fact_file_exits_2(project_dir: Path) -> None:
    path = project_dir / "facts/shenyang.yaml"
    path.write_text(path.read_text().replace("  as_of: 2022-08-31", "  as_of: last August", 1))
    result = shortline(project_dir, "generate", "shenyang-profile", "--dry-run", "--json")
    assert result.returncode == 2 and "as_of" in result.stderr and "shenyang.yaml:" in result.stderr
    assert result.stdout == ""


def test_a_post_too_long_for_a_channel_names_channel_count_and_limit(project_dir: Path) -> None:
    path = project_dir / "templates/posts/city-profile.zh.j2"
    path.write_text(path.read_text().replace("::: source\n", "::: source\n" + "沈阳" * 160 + "\n", 1))
    for command in (["check"], ["generate", "shenyang-profile", "--dry-run"]):
        result = shortline(project_dir, *command)
        output = result.stdout + result.stderr  # check reports on stdout, generate's error goes to stderr
        assert result.returncode == 2, output
        assert "posts/city-profile.zh.j2: channel 'weibo' (weibo, zh): weibo status: 365 汉字 units" in output
        assert "the limit is 140" in output


def test_unknown_job_and_post_are_usage_errors(project_dir: Path) -> None:
    assert shortline(project_dir, "generate", "nope", "--dry-run").returncode == 2
    result = shortline(project_dir, "queue", "approve", "41")
    assert result.returncode == 2 and "no post with id 41" in result.stderr


def test_dry_run_json_queues_nothing(project_dir: Path) -> None:
    result = shortline(project_dir, "generate", "shenyang-profile", "--dry-run", "--json")
    assert result.returncode == 0, result.stderr
    variants = json.loads(result.stdout)
    assert [(v["channel"], v["lang"]) for v in variants[:2]] == [("outbox", "en"), ("outbox", "zh")]
    assert {v["type"] for v in variants} == set(SPECS) and len(variants) == 2 * len(SPECS)
    for variant in variants:
        assert variant["text"] and variant["cards"]
        spec = SPECS[variant["type"]]
        sizes = [(card["width"], card["height"]) for card in variant["cards"]]
        assert sizes == [spec.cover_size, spec.card_size] if spec.cover_size else [spec.card_size]
        for card in variant["cards"]:
            assert (project_dir / card["path"]).is_file() and card["alt"]
    wechat = next(v for v in variants if v["type"] == "wechat")
    assert wechat["title"] and wechat["digest"] and wechat["html"].startswith("<section")
    cover = (project_dir / wechat["cards"][0]["path"]).stat().st_size
    assert wechat["cards"][0]["path"].endswith(".jpg") and cover <= 64_000  # a WeChat thumb: ≤ 64 KB JPEG
    assert json.loads(shortline(project_dir, "queue", "list", "--json").stdout) == []


@pytest.mark.parametrize("review", ["required", "auto"])
def test_fact_file_to_outbox(project_dir: Path, review: str) -> None:
    schedule = project_dir / "schedule.yaml"
    schedule.write_text(schedule.read_text().replace("review: required", f"review: {review}"))
    assert shortline(project_dir, "generate", "shenyang-profile").returncode == 0
    [post] = json.loads(shortline(project_dir, "queue", "list", "--json").stdout)
    if review == "required":
        assert post["status"] == "in_review"
        assert shortline(project_dir, "publish", "--due").stdout.strip() == "nothing due"
        assert shortline(project_dir, "queue", "approve", str(post["id"])).returncode == 0
    published = shortline(project_dir, "publish", "--due")
    assert (published.returncode, published.stdout.strip()) == (0, "2 published")
    _assert_outbox(project_dir / "var/outbox/outbox", post)
    assert shortline(project_dir, "publish", "--due").stdout.strip() == "nothing due"


def _assert_outbox(folder: Path, post: dict[str, object]) -> None:
    documents = [json.loads(p.read_text()) for p in sorted(folder.glob("delivery-*.json"))]
    assert [d["lang"] for d in documents] == ["en", "zh"]
    assert documents[0]["text"].startswith("Shenyang ranks No.1 in Northeast China!")
    assert documents[1]["text"].startswith("沈阳位列东北地区第一！")
    for document in documents:
        assert document["post_id"] == post["id"]
        for card in document["cards"]:
            assert (folder / card["path"]).is_file()


def test_reject_keeps_the_post_out_of_the_outbox(project_dir: Path) -> None:
    shortline(project_dir, "generate", "shenyang-profile")
    result = shortline(project_dir, "queue", "reject", "1", "--reason", "figure is outdated")
    assert result.returncode == 0
    assert shortline(project_dir, "publish", "--due").stdout.strip() == "nothing due"
    assert not (project_dir / "var/outbox").exists()
    again = shortline(project_dir, "queue", "approve", "1")
    assert again.returncode == 1 and "post 1 is rejected; it cannot become approved" in again.stderr


def test_database_url_override(project_dir: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'elsewhere.db'}"
    result = shortline(project_dir, "generate", "shenyang-profile", env={"SHORTLINE_DATABASE_URL": url})
    assert result.returncode == 0
    assert (tmp_path / "elsewhere.db").exists()


def test_check_finds_a_card_that_cannot_meet_its_channel_byte_budget(
    project_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipeline.checks import check_project
    from pipeline.config import Project

    monkeypatch.setitem(SPECS, "wechat", dataclasses.replace(SPECS["wechat"], cover_budget=300))
    problems = [str(p) for p in check_project(Project(project_dir))]
    assert problems and all("cards/cover.yaml" in p for p in problems), problems
    assert "300" in problems[0] and "jpeg" in problems[0].lower()
