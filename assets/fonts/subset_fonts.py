"""Rebuild the fonts shipped in assets/fonts from the Debian packages fonts-noto-cjk and fonts-inter.

    python assets/fonts/subset_fonts.py              # fonts, licences and coverage.json
    python assets/fonts/subset_fonts.py --coverage   # only coverage.json, from the fonts here

Noto Sans CJK SC (Regular, Bold) is cut down to GB2312, Latin-1, punctuation, full-width forms and
must_include.txt (plus any character in facts/*.yaml); Inter and Inter Display to Latin and
punctuation. Hinting and vertical-layout tables are dropped; timestamps are kept from the source,
so running the script twice gives identical files.

coverage.json records the code points each shipped face covers (its best cmap), with the font's
size and the SHA-256 of its cmap table, so that the renderer picks faces without importing
fontTools (pipeline/render/coverage.py; a missing or stale record falls back to reading the cmap).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTCollection, TTFont

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT))

from pipeline.render import coverage  # noqa: E402  (the repository root is on the path only now)

NOTO = Path("/usr/share/fonts/opentype/noto")
INTER = Path("/usr/share/fonts/opentype/inter")
NOTO_COPYRIGHT = Path("/usr/share/doc/fonts-noto-cjk/copyright")
INTER_COPYRIGHT = Path("/usr/share/doc/fonts-inter/copyright")

COMMON = [(0x20, 0x7E), (0xA0, 0xFF), (0x2000, 0x206F)]
CJK_EXTRA = [(0x3000, 0x303F), (0xFF00, 0xFFEF)]
LATIN_EXTRA = [(0x100, 0x17F), (0x2018, 0x201F), (0x20AC, 0x20AC), (0x2122, 0x2122), (0x2190, 0x2193)]
DROP_TABLES = ["vhea", "vmtx", "VORG", "DSIG"]
INTER_FACES = ["InterDisplay-Bold", "InterDisplay-Regular", "Inter-Bold", "Inter-Regular"]
NOTO_FACES = ["NotoSansSC-Regular", "NotoSansSC-Bold"]


def gb2312() -> set[int]:
    """Every character with a valid two-byte GB2312 code (rows A1-F7, columns A1-FE)."""
    chars: set[int] = set()
    for row in range(0xA1, 0xF8):
        for col in range(0xA1, 0xFF):
            try:
                chars.add(ord(bytes([row, col]).decode("gb2312")))
            except UnicodeDecodeError:
                continue
    return chars


def ranges(spans: list[tuple[int, int]]) -> set[int]:
    return {code for first, last in spans for code in range(first, last + 1)}


def must_include() -> set[int]:
    lines = (HERE / "must_include.txt").read_text(encoding="utf-8").splitlines()
    return {ord(c) for line in lines if not line.startswith("#") for c in line if not c.isspace()}


def fact_characters(known: set[int]) -> set[int]:
    """Characters used by the example fact files; warns about those must_include.txt lacks."""
    found = {ord(c) for p in sorted((ROOT / "facts").glob("*.yaml")) for c in p.read_text(encoding="utf-8")}
    missing = sorted(c for c in found if c > 0xFF and c not in known)
    if missing:
        listed = " ".join(chr(c) for c in missing)
        print(f"note: facts/*.yaml use characters outside the list; add them to must_include.txt: {listed}")
    return {c for c in found if c >= 0x20}


def options(features: list[str]) -> subset.Options:
    opts = subset.Options()
    opts.hinting = False
    opts.desubroutinize = False
    opts.drop_tables += DROP_TABLES
    opts.layout_features = features
    opts.name_IDs = [0, 1, 2, 3, 4, 5, 6, 13, 14]
    opts.name_languages = [0x409]
    opts.notdef_outline = True
    opts.recalc_timestamp = False
    return opts


def write_subset(font: TTFont, codepoints: set[int], opts: subset.Options, target: Path) -> None:
    subsetter = subset.Subsetter(options=opts)
    subsetter.populate(unicodes=sorted(codepoints))
    subsetter.subset(font)
    font.recalcTimestamp = False
    font.save(target)
    print(f"{target.name}: {len(font.getBestCmap())} characters, {target.stat().st_size:,} bytes")


def simplified_chinese(ttc: Path) -> TTFont:
    """The member of a NotoSansCJK collection whose name table says it is the SC face."""
    for font in TTCollection(ttc, recalcTimestamp=False).fonts:
        if re.fullmatch(r"NotoSansCJKsc-\w+", font["name"].getDebugName(6) or ""):
            return font
    raise SystemExit(f"{ttc}: no NotoSansCJKsc face in this collection")


def build_noto() -> None:
    wanted = gb2312() | ranges(COMMON + CJK_EXTRA) | must_include()
    wanted |= fact_characters(wanted)
    opts = options(["*"])
    for weight in ("Regular", "Bold"):
        font = simplified_chinese(NOTO / f"NotoSansCJK-{weight}.ttc")
        write_subset(font, wanted, opts, HERE / f"NotoSansSC-{weight}.otf")


def build_inter() -> None:
    wanted = ranges(COMMON + LATIN_EXTRA)
    for face in INTER_FACES:
        font = TTFont(INTER / f"{face}.otf", recalcTimestamp=False)
        write_subset(font, wanted, options(["*"]), HERE / f"{face}.otf")


def ofl_text(copyright_file: Path, stanza: str) -> str:
    """The OFL text of a Debian copyright file's `License:` stanza, unindented."""
    text = copyright_file.read_text(encoding="utf-8")
    body = text.rsplit(f"\nLicense: {stanza}\n", 1)[1].split("\nLicense:", 1)[0]
    lines = [line[1:] if line.startswith(" ") else line for line in body.rstrip().splitlines()]
    return "\n".join("" if line == "." else line for line in lines)


def write_licences() -> None:
    noto = simplified_chinese(NOTO / "NotoSansCJK-Regular.ttc")["name"].getDebugName(0)
    inter = TTFont(INTER / "Inter-Regular.otf")["name"].getDebugName(0)
    licences = [
        ("OFL-NotoSansSC.txt", noto, ofl_text(NOTO_COPYRIGHT, "SIL-1.1")),
        (
            "OFL-Inter.txt",
            inter,
            "SIL OPEN FONT LICENSE Version 1.1 - 26 February 2007\n\n" + ofl_text(INTER_COPYRIGHT, "OFL-1.1"),
        ),
    ]
    for name, holder, body in licences:
        (HERE / name).write_text(f"{holder}\n\n{body}\n", encoding="utf-8")


def write_coverage() -> None:
    """coverage.json: every shipped face's best-cmap code points, read back from the file itself."""
    faces = {}
    for face in NOTO_FACES + INTER_FACES:
        with TTFont(HERE / f"{face}.otf", lazy=True) as font:
            faces[f"{face}.otf"] = set(font.getBestCmap())
    target = coverage.write(HERE, faces)
    print(f"{target.name}: {len(faces)} faces, {target.stat().st_size:,} bytes")


def main() -> int:
    if sys.argv[1:] == ["--coverage"]:
        write_coverage()
        return 0
    if sys.argv[1:]:
        raise SystemExit(__doc__)
    build_noto()
    build_inter()
    write_licences()
    write_coverage()
    return 0


if __name__ == "__main__":
    sys.exit(main())
