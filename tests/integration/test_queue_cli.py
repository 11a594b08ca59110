"""`shortline queue ...` as an editor runs it: add, show, edit, import a CSV, settle deliveries;
on SQLite and PostgreSQL, in a copy of the example project."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result
from PIL import Image

from pipeline.cli import main

LINK = "https://www.shenyang.gov.cn/"


@pytest.fixture
def project(project_dir: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The example project cut to three channels, its job without cards (quick), and an image."""
    monkeypatch.setenv("SHORTLINE_DATABASE_URL", database_url)
    path = project_dir / "schedule.yaml"
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    config["channels"] = {
        "outbox": {"type": "outbox", "langs": ["en", "zh"]},
        "x": {"type": "x", "langs": ["en"]},
        "weibo": {"type": "weibo", "langs": ["en"], "link": LINK},
    }
    job = config["jobs"]["shenyang-profile"]
    job.update(channels=["outbox", "x", "weibo"], cards=[])
    job.pop("cover")
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    Image.new("RGB", (1200, 675), "#123C6E").save(project_dir / "card.png")
    return project_dir


def shortline(project: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["--project", str(project), "queue", "--as", "anna", *args])


def posts(project: Path) -> list[dict[str, object]]:
    result = shortline(project, "list", "--json")
    assert result.exit_code == 0, result.stderr
    found: list[dict[str, object]] = json.loads(result.stdout)
    return found


def test_add_free_text_with_an_image_then_show_it(project: Path) -> None:
    text = "Shenyang at night\n\nCome and see the lights"
    args = ["add", "--text", text, "--lang", "en", "--channel", "x", "--channel", "weibo", "--image", "card.png"]
    result = shortline(project, *args, "--at", "2030-12-01 09:00")
    assert (result.exit_code, result.stdout) == (0, "queued post 1 (in_review)\n"), result.stderr
    [post] = posts(project)
    assert str(post["job_id"]).startswith("manual:") and post["fire_time"] == "2030-12-01T01:00:00+00:00"
    shown = shortline(project, "show", "1")
    assert shown.exit_code == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0].startswith("post 1  in_review  manual:") and lines[0].endswith(
        "at 2030-12-01 09:00 (Asia/Shanghai)"
    )
    assert [line.split()[1:5] for line in lines[3:5]] == [
        ["x", "(en)", "pending", "due"],
        ["weibo", "(en)", "pending", "due"],
    ]
    assert all(line.endswith("due 2030-12-01 09:00") for line in lines[3:5])
    assert lines[6].endswith("anna: - → in_review") and lines[-1] == "edits: none"
    data = json.loads(shortline(project, "show", "1", "--json").stdout)
    assert [(d["channel"], d["status"]) for d in data["deliveries"]] == [("x", "pending"), ("weibo", "pending")]
    assert [(e["actor"], e["to_status"]) for e in data["audit"]] == [("anna", "in_review")] and data["edits"] == []
    digest = hashlib.sha256((project / "card.png").read_bytes()).hexdigest()
    assert (project / "var/media" / f"{digest}.png").read_bytes() == (project / "card.png").read_bytes()


def test_add_a_jobs_post_to_one_channel_and_language(project: Path) -> None:
    result = shortline(project, "add", "--job", "shenyang-profile", "--channel", "outbox", "--lang", "zh", "--approve")
    assert (result.exit_code, result.stdout) == (0, "queued post 1 (approved)\n"), result.stderr
    [post] = posts(project)
    assert post["job_id"] == "shenyang-profile"
    assert [(d["channel"], d["lang"], d["status"]) for d in post["deliveries"]] == [("outbox", "zh", "scheduled")]  # type: ignore[attr-defined]


def test_add_refuses_a_text_over_the_channels_limit(project: Path) -> None:
    text = "Shenyang welcomes the world. " * 12
    result = shortline(project, "add", "--text", text, "--lang", "en", "--channel", "x")
    assert result.exit_code == 2
    assert "error: text: channel 'x' (en): x text: 347 weighted characters; the limit is 280" in result.stderr
    assert posts(project) == []


def test_add_refuses_a_file_that_is_not_an_image(project: Path) -> None:
    (project / "fake.png").write_text("not an image")
    result = shortline(project, "add", "--text", "Hello", "--lang", "en", "--channel", "x", "--image", "fake.png")
    assert result.exit_code == 2 and f"error: images: {project / 'fake.png'}: not an image" in result.stderr
    assert posts(project) == []


def test_edit_show_the_diff_and_the_trail(project: Path) -> None:
    assert shortline(project, "add", "--text", "Hello Shenyang", "--lang", "en", "--channel", "x").exit_code == 0
    assert shortline(project, "approve", "1").exit_code == 0
    edited = shortline(project, "edit", "1", "--channel", "x", "--lang", "en", "--text", "Hello again, Shenyang")
    assert edited.exit_code == 0, edited.stderr
    assert edited.stdout.splitlines()[-2:] == ["-Hello Shenyang", "+Hello again, Shenyang"]
    shown = shortline(project, "show", "1").stdout.splitlines()
    assert shown[0].startswith("post 1  in_review")
    assert any(line.endswith("anna: approved → in_review  edited x (en)") for line in shown)
    assert shown[-2:] == ["    -Hello Shenyang", "    +Hello again, Shenyang"]


def test_settling_deliveries_from_the_command_line(project: Path) -> None:
    assert shortline(project, "add", "--text", "Hello", "--lang", "en", "--channel", "x", "--approve").exit_code == 0
    retried = shortline(project, "retry", "1")
    assert retried.exit_code == 1 and "delivery 1 is scheduled; it cannot become scheduled" in retried.stderr
    usage = shortline(project, "resolve", "1")
    assert usage.exit_code == 2 and "give --url URL or --publish-again" in usage.stderr
    moved = shortline(project, "reschedule", "1", "--at", "2031-01-02 08:30", "--channel", "x")
    assert moved.exit_code == 0 and posts(project)[0]["deliveries"][0]["due_at"] == "2031-01-02T00:30:00+00:00"  # type: ignore[index]
    cancelled = shortline(project, "cancel", "1", "--reason", "postponed")
    assert cancelled.exit_code == 0 and posts(project)[0]["deliveries"][0]["status"] == "cancelled"  # type: ignore[index]


CSV_GOOD = """at,channels,lang,text,images,job,approve
2030-12-02 09:00,outbox x,en,"Shenyang at night

Come and see",card.png,,yes
2030-12-03 09:00,outbox,zh,,,shenyang-profile,
"""


def test_import_dry_run_prints_and_queues_nothing_then_queues(project: Path) -> None:
    (project / "posts.csv").write_text(CSV_GOOD, encoding="utf-8")
    dry = shortline(project, "import", str(project / "posts.csv"), "--dry-run")
    assert dry.exit_code == 0, dry.stderr
    first, second = dry.stdout.splitlines()
    assert first.startswith("line 2: would queue 2030-12-02 09:00 manual:") and first.endswith(
        "[approved] 'Shenyang at night' → outbox (en, 1 card(s)), x (en, 1 card(s))"
    )
    assert second.startswith("line 5: would queue 2030-12-03 09:00 shenyang-profile [in review]")
    assert posts(project) == []
    real = shortline(project, "import", str(project / "posts.csv"))
    assert (real.exit_code, real.stdout) == (0, "line 2: queued post 1\nline 5: queued post 2\n"), real.stderr
    assert [(p["job_id"] == "shenyang-profile", p["status"]) for p in posts(project)] == [
        (True, "in_review"),
        (False, "approved"),
    ]


CSV_BAD = """at,channels,lang,text,images,job
2030-12-02 09:00,outbox,fr,hello,,
tomorrow,outbox,en,hi,,
2030-12-02 09:00,outbox,en,,,no-such-job
2030-12-02 09:00,x,en,"{long}",,
2030-12-02 09:00,outbox,en,hi,missing.png,
2030-12-02 09:00,outbox,en,hi
2030-12-02 09:00,outbox,en,a good row,,
"""


def test_import_names_file_line_and_column_and_queues_nothing(project: Path) -> None:
    path = project / "bad.csv"
    path.write_text(CSV_BAD.format(long="Shenyang welcomes the world. " * 12), encoding="utf-8")
    result = shortline(project, "import", str(path))
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"{path}:2: lang: a text needs its language, en or zh (not 'fr')",
        f"{path}:3: at: 'tomorrow' is not a date and time such as 2026-12-01 09:00",
        f"{path}:4: job: no job named 'no-such-job' (jobs: shenyang-profile)",
        f"{path}:5: text: channel 'x' (en): x text: 347 weighted characters; the limit is 280",
        f"{path}:6: images: no file 'missing.png' in {project.resolve()}",
        f"{path}:7: 4 fields; the header has 6",
    ]
    assert posts(project) == []


def test_import_names_an_unknown_column(project: Path) -> None:
    path = project / "typo.csv"
    path.write_text("at,chanels,text\n2030-12-02 09:00,x,hi\n", encoding="utf-8")
    result = shortline(project, "import", str(path))
    assert result.exit_code == 2
    assert f"{path}:1: unknown column 'chanels' (did you mean 'channels'?)" in result.stderr
