"""Which code points each shipped font covers, precomputed so that rendering needs no fontTools.

assets/fonts/subset_fonts.py writes assets/fonts/coverage.json when it builds the fonts:

    {"format": 2, "faces": {"Inter-Bold.otf": {"size": 74664, "cmap_sha256": "…", "spans": [32, 126, 160, …]}}}

`spans` lists the code points of the face's best cmap (as fontTools' getBestCmap() gives them)
as pairs first, last (inclusive), flat, so that json's C parser reads them. A record is used only while the font
file still has the recorded size and its `cmap` table the recorded SHA-256 (the cmap alone decides
coverage, and hashing it reads a few kilobytes rather than the whole file); otherwise `lookup`
returns None and fonts.py reads the cmap with fontTools, as it did before this file existed.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import struct
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

FORMAT = 2
FILE_NAME = "coverage.json"


def cmap_digest(path: Path) -> str | None:
    """SHA-256 of the raw `cmap` table of an OpenType/TrueType file; None if it has none."""
    with path.open("rb") as file:
        header = file.read(12)
        if len(header) < 12 or header[:4] == b"ttcf":
            return None
        (count,) = struct.unpack(">H", header[4:6])
        records = file.read(16 * count)
        for index in range(count):
            tag, _, offset, length = struct.unpack(">4sLLL", records[16 * index : 16 * index + 16])
            if tag == b"cmap":
                file.seek(offset)
                return hashlib.sha256(file.read(length)).hexdigest()
    return None


def spans(codepoints: Iterable[int]) -> list[int]:
    """Sorted code points as flat (first, last) pairs of consecutive runs."""
    result: list[int] = []
    for code in sorted(set(codepoints)):
        if result and code == result[-1] + 1:
            result[-1] = code
        else:
            result += [code, code]
    return result


def codepoints(flat: list[int]) -> frozenset[int]:
    return frozenset(itertools.chain.from_iterable(map(range, flat[::2], (last + 1 for last in flat[1::2]))))


def record(path: Path, codes: Iterable[int]) -> dict[str, Any]:
    return {"size": path.stat().st_size, "cmap_sha256": cmap_digest(path), "spans": spans(codes)}


def write(folder: Path, faces: dict[str, Iterable[int]]) -> Path:
    """coverage.json for the named font files in `folder`, given each one's code points."""
    records = {name: record(folder / name, codes) for name, codes in sorted(faces.items())}
    target = folder / FILE_NAME
    lines = ",\n".join(f" {json.dumps(name)}: {json.dumps(entry)}" for name, entry in records.items())
    target.write_text(f'{{"format": {FORMAT}, "faces": {{\n{lines}\n}}}}\n', encoding="utf-8")
    return target


@cache
def _records(folder: Path) -> dict[str, Any]:
    try:
        data = json.loads((folder / FILE_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    faces = data.get("faces") if isinstance(data, dict) and data.get("format") == FORMAT else None
    return faces if isinstance(faces, dict) else {}


def lookup(path: Path) -> frozenset[int] | None:
    """The recorded code points of a font file, or None if there is no record or it is stale."""
    entry = _records(path.parent).get(path.name)
    if not isinstance(entry, dict) or not isinstance(entry.get("spans"), list):
        return None
    try:
        if path.stat().st_size != entry.get("size") or cmap_digest(path) != entry.get("cmap_sha256"):
            return None
    except OSError:
        return None
    return _shared_codepoints(tuple(entry["spans"]))


@cache
def _shared_codepoints(flat: tuple[int, ...]) -> frozenset[int]:
    """codepoints(), made once for faces that cover the same (a regular face and its bold)."""
    return codepoints(list(flat))


def forget() -> None:
    """Read coverage.json again on the next lookup (after it was rewritten)."""
    _records.cache_clear()
    _shared_codepoints.cache_clear()
