"""Rebuild the fonts shipped in assets/fonts from the Debian packages fonts-noto-cjk, fonts-inter and
fonts-noto-color-emoji.

    python assets/fonts/subset_fonts.py              # fonts, licences and coverage.json
    python assets/fonts/subset_fonts.py --emoji      # only the emoji subset, its licence and coverage.json
    python assets/fonts/subset_fonts.py --coverage   # only coverage.json, from the fonts here

Noto Sans CJK SC (Regular, Bold) is cut down to GB2312, Latin-1, punctuation, full-width forms and
must_include.txt (plus any character in facts/*.yaml); Inter and Inter Display to Latin and
punctuation; Noto Color Emoji (one 109 px strike of PNG bitmaps) to the emoji in emoji.txt, each
kept as the one glyph its sequence (ZWJ, keycap, flag) forms and nothing more. Hinting and
vertical-layout tables are dropped; timestamps are kept from the source, so running the script
twice gives identical files.

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
EMOJI_SOURCE = Path("/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf")
NOTO_COPYRIGHT = Path("/usr/share/doc/fonts-noto-cjk/copyright")
INTER_COPYRIGHT = Path("/usr/share/doc/fonts-inter/copyright")
EMOJI_COPYRIGHT = Path("/usr/share/doc/fonts-noto-color-emoji/copyright")

COMMON = [(0x20, 0x7E), (0xA0, 0xFF), (0x2000, 0x206F)]
CJK_EXTRA = [(0x3000, 0x303F), (0xFF00, 0xFFEF)]
LATIN_EXTRA = [(0x100, 0x17F), (0x2018, 0x201F), (0x20AC, 0x20AC), (0x2122, 0x2122), (0x2190, 0x2193)]
DROP_TABLES = ["vhea", "vmtx", "VORG", "DSIG"]
INTER_FACES = ["InterDisplay-Bold", "InterDisplay-Regular", "Inter-Bold", "Inter-Regular"]
NOTO_FACES = ["NotoSansSC-Regular", "NotoSansSC-Bold"]
EMOJI_FACE = "NotoColorEmoji-Subset.ttf"
SHIPPED = [f"{face}.otf" for face in NOTO_FACES + INTER_FACES] + [EMOJI_FACE]


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


def write_subset(
    font: TTFont, codepoints: set[int], opts: subset.Options, target: Path, glyphs: set[str] | None = None
) -> None:
    subsetter = subset.Subsetter(options=opts)
    subsetter.populate(unicodes=sorted(codepoints), glyphs=sorted(glyphs or ()))
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


def emoji_list() -> list[str]:
    """The sequences of emoji.txt, in order."""
    lines = (HERE / "emoji.txt").read_text(encoding="utf-8").splitlines()
    return [sequence for line in lines if not line.startswith("#") for sequence in line.split()]


def emoji_glyph(font: TTFont, sequence: str) -> str:
    """The one glyph a sequence becomes: its cmap glyph, or the ligature of its glyphs (U+FE0F is not
    in the cmap and the shaper drops it, as here)."""
    cmap = font.getBestCmap()
    glyphs = [cmap.get(ord(char)) for char in sequence if char != "\ufe0f"]
    found = glyphs[0] if len(glyphs) == 1 else ligature(font, glyphs)
    if found is None:
        codes = " ".join(f"U+{ord(char):04X}" for char in sequence)
        raise SystemExit(f"emoji.txt: {sequence} ({codes}) is not one glyph of {EMOJI_SOURCE.name}")
    return found


def ligature(font: TTFont, glyphs: list[str | None]) -> str | None:
    """The glyph a ligature lookup (GSUB type 4; the emoji font's ccmp) makes of exactly these glyphs."""
    tables = [
        table for lookup in font["GSUB"].table.LookupList.Lookup if lookup.LookupType == 4 for table in lookup.SubTable
    ]
    for table in tables:
        for candidate in table.ligatures.get(glyphs[0], []):
            if candidate.Component == glyphs[1:]:
                return str(candidate.LigGlyph)
    return None


def build_emoji() -> None:
    """The sequences' glyphs and the glyphs they are made of; no layout closure, which would add
    every flag and family that the regional indicators and people here can spell."""
    font = TTFont(EMOJI_SOURCE, recalcTimestamp=False)
    sequences = emoji_list()
    opts = options(["ccmp"])
    opts.layout_closure = False
    glyphs = {emoji_glyph(font, sequence) for sequence in sequences}
    codepoints = {ord(char) for sequence in sequences for char in sequence}
    write_subset(font, codepoints, opts, HERE / EMOJI_FACE, glyphs)
    print(f"{EMOJI_FACE}: {len(sequences)} emoji from emoji.txt")


def ofl_text(copyright_file: Path, stanza: str) -> str:
    """The OFL text of a Debian copyright file's `License:` stanza, unindented."""
    text = copyright_file.read_text(encoding="utf-8")
    body = re.split(rf"\nLicense: +{re.escape(stanza)}\n", text)[-1].split("\nLicense:", 1)[0]
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
    write_emoji_licence()


def write_emoji_licence() -> None:
    holder = TTFont(EMOJI_SOURCE, lazy=True)["name"].getDebugName(0)
    body = ofl_text(EMOJI_COPYRIGHT, "SIL-1.1")
    (HERE / "OFL-NotoColorEmoji.txt").write_text(f"{holder}\n\n{body}\n", encoding="utf-8")


def write_coverage() -> None:
    """coverage.json: every shipped face's best-cmap code points, read back from the file itself."""
    faces = {}
    for name in SHIPPED:
        with TTFont(HERE / name, lazy=True) as font:
            faces[name] = set(font.getBestCmap())
    target = coverage.write(HERE, faces)
    print(f"{target.name}: {len(faces)} faces, {target.stat().st_size:,} bytes")


def main() -> int:
    if sys.argv[1:] == ["--coverage"]:
        write_coverage()
        return 0
    if sys.argv[1:] == ["--emoji"]:
        build_emoji()
        write_emoji_licence()
        write_coverage()
        return 0
    if sys.argv[1:]:
        raise SystemExit(__doc__)
    build_noto()
    build_inter()
    build_emoji()
    write_licences()
    write_coverage()
    return 0


if __name__ == "__main__":
    sys.exit(main())
