"""`shortline render` and `shortline doctor` as editors and designers run them: real processes, real files."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image, features

from pipeline.cli import main
from pipeline.compose.channels import SPECS
from pipeline.errors import RenderError
from pipeline.render import fonts
from pipeline.render.encode import EXTENSIONS
from pipeline.render.fonts import CHINESE, LATIN

from . import webapp
from .test_cli import shortline

SHA_NAME = re.compile(r"^[0-9a-f]{64}\.(png|jpg|webp)$")


def rendered(stdout: str) -> tuple[Path, str, str]:
    """(path, size line, alt text) from the three lines `render` prints."""
    path, size, alt = stdout.splitlines()
    assert alt.startswith("alt: ")
    return Path(path), size, alt.removeprefix("alt: ")


def test_render_writes_a_content_addressed_png_of_the_default_size(project_dir: Path) -> None:
    result = shortline(project_dir, "render", "stat", "--facts", "facts/shenyang.yaml")
    assert result.returncode == 0, result.stderr
    path, size, alt = rendered(result.stdout)

    data = path.read_bytes()
    assert path.parent == project_dir / "var" / "media" and path.name == f"{hashlib.sha256(data).hexdigest()}.png"
    assert size == f"1080x1350 PNG, {len(data):,} bytes"
    with Image.open(path) as image:
        assert (image.format, image.size) == ("PNG", (1080, 1350))
    assert alt == "Shenyang has 23 sister cities. Source: Shenyang WeChat Official Account, February 16, 2023."


def test_render_a_wechat_cover_size_to_a_file(project_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out" / "cover.png"
    result = shortline(
        project_dir, "render", "cards/stat.yaml", "--facts", "facts/shenyang.yaml", "--size", "900x383", "-o", str(out)
    )
    assert result.returncode == 0, result.stderr
    path, size, _ = rendered(result.stdout)
    assert path == out and size.startswith("900x383 PNG, ")
    with Image.open(out) as image:
        assert (image.format, image.size) == ("PNG", (900, 383))
    assert not (project_dir / "var" / "media").exists()  # -o writes only there


def test_render_in_chinese(project_dir: Path) -> None:
    template = project_dir / "templates" / "cards" / "stat.yaml"
    result = shortline(project_dir, "render", str(template), "--facts", "facts/shenyang.yaml", "--lang", "zh")
    assert result.returncode == 0, result.stderr
    _, _, alt = rendered(result.stdout)
    assert alt.startswith("沈阳有23个国际友好城市。来源：沈阳发布微信公众号")


@pytest.mark.parametrize("channel", ["wechat", "bluesky"])
def test_render_for_a_channel_takes_its_size_format_and_budget(project_dir: Path, channel: str) -> None:
    spec = SPECS[channel]
    result = shortline(project_dir, "render", "cover", "--facts", "facts/shenyang.yaml", "--channel", channel)
    assert result.returncode == 0, result.stderr
    path, size, _ = rendered(result.stdout)
    assert path.suffix == f".{EXTENSIONS[spec.card_format]}" and spec.card_budget is not None
    assert path.stat().st_size <= spec.card_budget
    assert re.fullmatch(
        rf"{spec.card_size[0]}x{spec.card_size[1]} JPEG, [\d,]+ bytes, quality \d+, budget [\d,]+", size
    )


def test_render_with_an_impossible_budget_says_why(project_dir: Path) -> None:
    command = ["render", "stat", "--facts", "facts/shenyang.yaml", "--format", "webp", "--budget", "1000"]
    result = shortline(project_dir, *command)
    assert result.returncode == 2 and result.stdout == ""
    assert "error: card stat (" in result.stderr and "cannot fit WEBP into 1,000 bytes" in result.stderr


def test_a_typo_in_the_template_names_file_and_line(project_dir: Path) -> None:
    path = project_dir / "templates" / "cards" / "stat.yaml"
    text = path.read_text().replace("    color:", "    colour:", 1)
    path.write_text(text)
    line = next(i for i, s in enumerate(text.splitlines(), 1) if s.startswith("    colour:"))

    result = shortline(project_dir, "render", "stat", "--facts", "facts/shenyang.yaml")

    assert result.returncode == 2 and result.stdout == ""
    assert f"{path}:{line}: layers." in result.stderr and "colour: unknown key (did you mean 'color'?)" in result.stderr


def test_a_name_in_a_template_field_that_does_not_exist_names_file_and_line(project_dir: Path) -> None:
    path = project_dir / "templates" / "cards" / "stat.yaml"
    text = path.read_text().replace("{{ subject | upper }}", "{{ subjcet | upper }}", 1)
    path.write_text(text)
    line = next(i for i, s in enumerate(text.splitlines(), 1) if "subjcet" in s)

    result = shortline(project_dir, "render", "stat", "--facts", "facts/shenyang.yaml")

    assert result.returncode == 2
    assert f"{path}:{line}: " in result.stderr and "'subjcet' is undefined" in result.stderr


def test_bad_facts_and_unknown_templates_are_input_errors(project_dir: Path) -> None:
    facts = project_dir / "facts" / "shenyang.yaml"
    text = facts.read_text().replace("    value: 23\n", "    value: twenty-three\n", 1)
    facts.write_text(text)
    result = shortline(project_dir, "render", "stat", "--facts", str(facts))
    assert result.returncode == 2 and f"{facts}:" in result.stderr and "a count needs a numeric value" in result.stderr

    result = shortline(project_dir, "render", "stats", "--facts", str(facts))
    assert result.returncode == 2 and "stats: no such card template" in result.stderr and "stat" in result.stderr
    assert shortline(project_dir, "render", "stat").returncode == 2  # no --facts
    assert shortline(project_dir, "render", "stat", "--facts", str(facts), "--size", "900").returncode == 2
    assert shortline(project_dir, "render", "--job", "shenyang-profile", "--lang", "zh").returncode == 2


def test_render_job_writes_every_card_the_job_publishes(project_dir: Path) -> None:
    result = shortline(project_dir, "render", "--job", "shenyang-profile", "--workers", "2")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # no progress bar when stderr is not a terminal

    lines = [line.split() for line in result.stdout.splitlines()]
    seen = {(row[0], row[1], row[2], row[3]) for row in lines}
    expected = {
        ("cards/stat.yaml", lang, f"{s.card_size[0]}x{s.card_size[1]}", s.card_format)
        for s in SPECS.values()
        for lang in ("en", "zh")
    } | {("cards/cover.yaml", lang, "900x383", "jpeg") for lang in ("en", "zh")}  # WeChat's cover
    assert seen == expected
    for template in ("cards/stat.yaml", "cards/cover.yaml"):  # en first, then zh: the plan's order
        langs = [row[1] for row in lines if row[0] == template]
        assert langs == sorted(langs)
    for row in lines:
        path = project_dir / next(part for part in row if part.startswith("var/media/"))
        assert SHA_NAME.match(path.name) and path.is_file()
        assert path.stem == hashlib.sha256(path.read_bytes()).hexdigest()
        assert path.suffix == {"png": ".png", "jpeg": ".jpg"}[row[3]]

    # the same files generate makes in this process, byte for byte: render --job is what the pipeline uses
    generated = shortline(project_dir, "generate", "shenyang-profile", "--dry-run", "--json")
    cards = {card["path"] for variant in json.loads(generated.stdout) for card in variant["cards"]}
    assert cards == {next(part for part in row if part.startswith("var/media/")) for row in lines}
    again = shortline(project_dir, "render", "--job", "shenyang-profile", "--workers", "1")
    assert again.stdout == result.stdout


def test_render_job_reports_a_card_that_cannot_be_made_and_renders_the_rest(project_dir: Path) -> None:
    path = project_dir / "templates" / "cards" / "stat.yaml"
    english_subject = '{en: "{{ subject | upper }}",'
    path.write_text(path.read_text().replace(english_subject, '{en: "{{ (subject | upper) * 40 }}",'))

    result = shortline(project_dir, "render", "--job", "shenyang-profile")

    assert result.returncode == 1, result.stderr
    errors = result.stderr.splitlines()
    sizes = {f"{s.card_size[0]}x{s.card_size[1]}" for s in SPECS.values()}
    assert sorted(line.split()[2] for line in errors) == sorted(sizes)  # once a size, for all its formats
    for line in errors:
        assert line.startswith("cards/stat.yaml  en  ") and "error: stat: text box 'subject' does not fit" in line
    assert "(for outbox, webhook, wechat, weibo, bluesky, telegram, facebook)" in result.stderr
    rendered = {(line.split()[0], line.split()[1]) for line in result.stdout.splitlines()}
    assert rendered == {("cards/stat.yaml", "zh"), ("cards/cover.yaml", "en"), ("cards/cover.yaml", "zh")}


def test_doctor_reports_pillow_raqm_and_every_font_with_its_licence(project_dir: Path) -> None:
    result = shortline(project_dir, "doctor")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Pillow ")
    for feature in ("raqm", "fribidi", "harfbuzz", "jpg", "webp"):
        assert re.search(rf"^  {feature} +yes ", result.stdout, re.MULTILINE), feature
    for face in {*LATIN.values(), *CHINESE.values()}:
        assert re.search(
            rf"^  {re.escape(face)} +[\d,]+ B  SIL OPEN FONT LICENSE Version 1.1", result.stdout, re.MULTILINE
        )


def test_without_raqm_doctor_and_render_stop_with_what_to_install(
    project_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = features.check
    monkeypatch.setattr(features, "check", lambda name: False if name == "raqm" else real(name))
    monkeypatch.setattr(fonts, "require_raqm", no_raqm)  # the real one may have cached its answer
    runner = CliRunner()

    doctor = runner.invoke(main, ["--project", str(project_dir), "doctor"])
    assert doctor.exit_code == 2
    assert re.search(r"^  raqm +NO ", doctor.stdout, re.MULTILINE)
    assert "error: Pillow has no libraqm" in doctor.stderr and "apt install libraqm0" in doctor.stderr

    for command in (["render", "stat", "--facts", "facts/shenyang.yaml"], ["render", "--job", "shenyang-profile"]):
        result = runner.invoke(main, ["--project", str(project_dir), *command])
        assert result.exit_code == 2 and "error: Pillow has no libraqm" in result.stderr, command
    assert not (project_dir / "var" / "media").exists()


def no_raqm() -> None:
    raise RenderError(
        "Pillow has no libraqm, which cards need to shape text and set its language: install libraqm "
        "(Debian: apt install libraqm0) and reinstall Pillow from a wheel that finds it"
    )


def test_help_lists_render_and_doctor(tmp_path: Path) -> None:
    result = shortline(tmp_path, "--help")
    assert "render" in result.stdout and "doctor" in result.stdout
    assert "shortline render --job" in shortline(tmp_path, "render", "--help").stdout


@pytest.mark.parametrize(
    ("extension", "media_type"), [("png", "image/png"), ("jpg", "image/jpeg"), ("webp", "image/webp")]
)
def test_the_preview_serves_each_card_format_with_its_type(
    project_dir: Path, monkeypatch: pytest.MonkeyPatch, extension: str, media_type: str
) -> None:
    rt = webapp.runtime(webapp.make_project(project_dir, monkeypatch))
    rt.project.media.mkdir(parents=True)
    name = "ab" * 32 + f".{extension}"
    Image.new("RGB", (30, 40), "#0b5cab").save(rt.project.media / name)
    client = webapp.client(rt)
    assert client.get(f"/media/{name}").status_code == 303  # to the login page first
    webapp.log_in(client, "alice")
    response = client.get(f"/media/{name}")
    assert (response.status_code, response.headers["content-type"]) == (200, media_type)
