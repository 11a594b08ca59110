"""Checked card templates kept on disk, so that a process can draw a card without pydantic or yaml.

A template under a project's templates/ folder is checked once; its checked data (schema.Checked)
goes to <project>/var/cache/cards/<tag>-<key>.json, where the tag names the template and the key
is the SHA-256 of the template's bytes and of the code that checks it (schema.py, layers.py,
yamldoc.py, the pydantic and PyYAML versions). Another template text or another checker gives
another key, so a stale entry is never read (and writing the new one removes it). Only valid
templates are stored; a file that cannot be read or does not hold its own key is ignored (the
template is checked again and the file rewritten). Files are written atomically (a temporary file
renamed), and any failure to write is ignored: the cache only saves time.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import tempfile
from functools import cache
from pathlib import Path
from typing import Any, NamedTuple

FORMAT = 1
HERE = Path(__file__).resolve().parent
CHECKER = (HERE / "schema.py", HERE / "layers.py", HERE.parent / "yamldoc.py")


def key(raw: bytes) -> str | None:
    """The cache key of a template's bytes under the current checking code; None if that code
    cannot be read (then nothing is cached)."""
    code = code_digest()
    return hashlib.sha256(code.encode() + raw).hexdigest() if code else None


@cache
def code_digest() -> str | None:
    """SHA-256 of the checking code and of the versions of the libraries it uses."""
    digest = hashlib.sha256(f"format {FORMAT}\n".encode())
    try:
        for path in (*CHECKER, *_library_files()):
            digest.update(f"{path.name} {path.stat().st_size}\n".encode())
            digest.update(path.read_bytes())
    except (OSError, ImportError, ValueError):
        return None
    return digest.hexdigest()


def _library_files() -> list[Path]:
    """pydantic/version.py and yaml/__init__.py, which name their versions (found, not imported)."""
    files = []
    for package, name in (("pydantic", "version.py"), ("yaml", "__init__.py")):
        spec = importlib.util.find_spec(package)
        if spec is None or spec.origin is None:
            raise ImportError(f"{package} is not installed")
        files.append(Path(spec.origin).parent / name)
    return files


class Slot(NamedTuple):
    """Where one template's checked data goes: `tag` names the template (its path in the project),
    `key` its bytes and the checking code. A template has one file; a new key replaces the old."""

    folder: Path
    tag: str
    key: str

    @property
    def file(self) -> Path:
        return self.folder / f"{self.tag}-{self.key}.json"


def slot(template: Path, raw: bytes) -> Slot | None:
    """The slot of a template under a templates/ folder (in <project>/var/cache/cards), holding
    these bytes; None elsewhere, or when the checking code cannot be read."""
    name = key(raw)
    resolved = template.resolve()
    for parent in resolved.parents:
        if parent.name == "templates" and name is not None:
            tag = hashlib.sha256(str(resolved.relative_to(parent.parent)).encode()).hexdigest()[:16]
            return Slot(parent.parent / "var" / "cache" / "cards", tag, name)
    return None


def read(slot: Slot) -> dict[str, Any] | None:
    """The checked data stored in the slot, or None if there is none or the file is not ours."""
    try:
        stored = json.loads(slot.file.read_bytes())
    except (OSError, ValueError):
        return None
    if not isinstance(stored, dict) or stored.get("key") != slot.key or not isinstance(stored.get("checked"), dict):
        return None
    checked: dict[str, Any] = stored["checked"]
    return checked


def write(slot: Slot, checked: object) -> None:
    """Store checked data in the slot, atomically, and drop the template's older entries; data that
    JSON would not give back exactly is not stored."""
    try:
        text = json.dumps({"key": slot.key, "checked": checked}, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError):  # not JSON (an infinite angle, say): check it every time
        return
    if json.loads(text)["checked"] != checked:
        return
    try:
        slot.folder.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=slot.folder, prefix=f".{slot.tag}-", suffix=".part")
    except OSError:
        return
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
        os.replace(temporary, slot.file)
        for old in slot.folder.glob(f"{slot.tag}-*.json"):
            if old != slot.file:
                old.unlink(missing_ok=True)
    except OSError:
        Path(temporary).unlink(missing_ok=True)
