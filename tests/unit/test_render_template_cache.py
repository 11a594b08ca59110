"""Checked card templates cached on disk: the same template as a fresh check, never a stale one.

The cache lives in <project>/var/cache/cards for templates under a templates/ folder; every test
here uses its own project folder under tmp_path.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from pipeline.errors import ConfigError
from pipeline.render import layers, load_card_template, schema, template_cache
from pipeline.render.template import CardTemplate

ROOT = Path(__file__).resolve().parents[2]
STAT = ROOT / "templates" / "cards" / "stat.yaml"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "templates" / "cards").mkdir(parents=True)
    return tmp_path


def copy_stat(project: Path, name: str = "stat.yaml") -> Path:
    return Path(shutil.copy(STAT, project / "templates" / "cards" / name))


def entries(project: Path) -> list[Path]:
    return sorted((project / "var" / "cache" / "cards").glob("*"))


def checked_afresh(path: Path) -> CardTemplate:
    """The template as a check without the cache gives it (the same file outside any templates/ folder)."""
    other = path.parent.parent.parent / "elsewhere" / path.name
    other.parent.mkdir(exist_ok=True)
    shutil.copy(path, other)
    fresh = load_card_template(other)
    return CardTemplate(fresh.name, path, fresh.alt, fresh.layers, fresh.lines, fresh.images)


def test_a_cached_template_equals_a_freshly_checked_one(project: Path) -> None:
    path = copy_stat(project)
    first = load_card_template(path)  # checked, then stored
    [entry] = entries(project)
    assert entry.name.endswith(f"-{template_cache.key(path.read_bytes())}.json")
    again = load_card_template(path)  # from the cache
    assert again == first == checked_afresh(path)
    assert again.layers and again.line_of(("layers", 3, "text")) == 42  # text: "{{ facts.sister_cities | number }}"


def test_a_changed_template_is_checked_again(project: Path) -> None:
    path = copy_stat(project)
    load_card_template(path)
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace('color: "#F2B544"', 'color: "gold"', 1), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"stat.yaml:\d+: layers.2.color: expected a colour like"):
        load_card_template(path)
    path.write_text(text.replace("max_size: 0.42", "max_size: 0.4"), encoding="utf-8")
    changed = load_card_template(path)
    assert changed.layers[3].max_size == 0.4
    [entry] = entries(project)  # the old entry is gone
    assert entry.name.endswith(f"-{template_cache.key(path.read_bytes())}.json")


def test_an_invalid_template_is_not_cached_and_fails_as_it_does_uncached(project: Path) -> None:
    path = copy_stat(project)
    path.write_text(path.read_text(encoding="utf-8").replace("type: shape", "type: shap", 1), encoding="utf-8")
    outside = project / "broken.yaml"
    shutil.copy(path, outside)
    for _ in range(2):
        with pytest.raises(ConfigError) as cached:
            load_card_template(path)
        with pytest.raises(ConfigError) as plain:
            load_card_template(outside)
        assert str(cached.value).replace(str(path), "X") == str(plain.value).replace(str(outside), "X")
    assert entries(project) == []


@pytest.mark.parametrize(
    "content",
    ["{not json", '{"key": "someone else", "checked": {}}', "[]", '{"key": "KEY", "checked": {"layers": 3}}'],
)
def test_a_corrupt_entry_is_ignored_and_rewritten(project: Path, content: str) -> None:
    path = copy_stat(project)
    expected = load_card_template(path)
    [entry] = entries(project)
    key = entry.stem.split("-")[1]
    entry.write_text(content.replace("KEY", key), encoding="utf-8")
    assert load_card_template(path) == expected
    stored = json.loads(entry.read_text(encoding="utf-8"))
    assert stored["key"] == key and stored["checked"]["name"] == "stat"


def test_other_checking_code_gives_another_key(monkeypatch: pytest.MonkeyPatch) -> None:
    raw = STAT.read_bytes()
    key = template_cache.key(raw)
    assert key == template_cache.key(raw) != template_cache.key(raw + b"\n")
    monkeypatch.setattr(template_cache, "code_digest", lambda: "another checker")
    assert template_cache.key(raw) != key


def test_unreadable_checking_code_turns_the_cache_off(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(template_cache, "CHECKER", (project / "no-such-schema.py",))
    template_cache.code_digest.cache_clear()
    try:
        path = copy_stat(project)
        assert template_cache.key(path.read_bytes()) is None and template_cache.slot(path, b"") is None
        assert load_card_template(path) == checked_afresh(path) and entries(project) == []
    finally:
        monkeypatch.undo()
        template_cache.code_digest.cache_clear()


def test_the_code_digest_covers_the_checker_and_the_library_versions() -> None:
    names = {path.name for path in (*template_cache.CHECKER, *template_cache._library_files())}
    assert names == {"schema.py", "layers.py", "yamldoc.py", "version.py", "__init__.py"}


def test_a_template_outside_a_templates_folder_is_not_cached(tmp_path: Path) -> None:
    path = Path(shutil.copy(STAT, tmp_path / "stat.yaml"))
    assert load_card_template(path) == load_card_template(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["stat.yaml"]


def test_a_template_that_json_cannot_hold_exactly_is_checked_every_time(project: Path) -> None:
    path = copy_stat(project)
    path.write_text(path.read_text(encoding="utf-8").replace("angle: 160", "angle: .inf"), encoding="utf-8")
    assert load_card_template(path).layers[0] == load_card_template(path).layers[0]
    assert entries(project) == []


def test_an_unwritable_cache_folder_only_costs_time(project: Path) -> None:
    path = copy_stat(project)
    (project / "var").write_text("a file where the folder would go", encoding="utf-8")
    assert load_card_template(path) == checked_afresh(path)


def test_a_cached_template_still_needs_its_image_files(project: Path) -> None:
    images = project / "assets"
    images.mkdir()
    Image.new("RGB", (8, 8), "red").save(images / "logo.png")
    path = project / "templates" / "cards" / "logo.yaml"
    layer = "  - type: image\n    src: assets/logo.png\n    box: [0.1, 0.1, 0.2, 0.2]\n"
    path.write_text(f'name: logo\nalt: "a logo"\nlayers:\n{layer}', encoding="utf-8")
    assert load_card_template(path).images == {"assets/logo.png": images / "logo.png"}
    assert len(entries(project)) == 1
    (images / "logo.png").unlink()
    with pytest.raises(ConfigError, match=r"logo.yaml:5: layers.0.src: no file .*logo.png"):
        load_card_template(path)


def test_each_template_has_its_own_entry_and_no_temporary_file_is_left(project: Path) -> None:
    for name in ("a.yaml", "b.yaml"):
        load_card_template(copy_stat(project, name))
    files = entries(project)
    assert [entry.suffix for entry in files] == [".json", ".json"] and len({f.stem[-64:] for f in files}) == 1


def test_a_cached_template_loads_without_pydantic_or_yaml(project: Path) -> None:
    path = copy_stat(project)
    load_card_template(path)
    script = f"""
import sys
sys.path.insert(0, {str(ROOT)!r})
from pathlib import Path
from pipeline.render import load_card_template
load_card_template(Path({str(path)!r}))
print(sorted(m for m in sys.modules if m.split(".")[0] in ("pydantic", "yaml")))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]", done.stdout + done.stderr


@pytest.mark.parametrize("kind", ["Gradient", "BackgroundLayer", "ImageLayer", "ShapeLayer", "TextLayer"])
def test_the_drawn_layers_have_the_checked_fields_and_defaults(kind: str) -> None:
    """layers.py restates schema.py without pydantic: the two must not drift apart."""
    checked = getattr(schema, kind).model_fields
    drawn = getattr(layers, kind)
    assert set(checked) - {"type"} == set(drawn._fields)
    for name, spec in checked.items():
        if name != "type" and not spec.is_required():
            assert drawn._field_defaults[name] == spec.default, name
