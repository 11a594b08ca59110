"""`shortline doctor`: whether this machine can make cards (Pillow's features, the fonts and their licences)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import click

from . import CONFIG_ERROR, OK, handles_errors, main

FEATURES = (
    ("raqm", "text layout and language"),
    ("fribidi", "bidirectional text, for raqm"),
    ("harfbuzz", "text shaping, for raqm"),
    ("freetype2", "fonts"),
    ("zlib", "PNG cards"),
    ("jpg", "JPEG cards"),
    ("webp", "WebP cards"),
)
CODEC = {"png": "zlib", "jpeg": "jpg", "webp": "webp"}  # Pillow's feature for each card format


@main.command()
@handles_errors
def doctor() -> None:
    """Check what cards need: Pillow with libraqm (FriBiDi, HarfBuzz), the image codecs, and each
    font file with its licence. Exit 2, saying what is missing, when cards cannot be made here.

    \b
    Example:
      shortline doctor
    """
    import PIL

    click.echo(f"Pillow {PIL.__version__}")
    problems = [*_check_features(), *_check_fonts()]
    for problem in problems:
        click.echo(f"error: {problem}", err=True)
    sys.exit(CONFIG_ERROR if problems else OK)


def _check_features() -> Iterator[str]:
    """Print a line for each Pillow feature; yield a problem for each required one that is missing."""
    from PIL import features

    from ..compose.channels import SPECS

    required = {"raqm", "freetype2", *(CODEC[spec.card_format] for spec in SPECS.values())}
    for name, what in FEATURES:
        found = bool(features.check(name))
        version = (features.version(name) or "") if found else ""
        need = "required" if name in required else "optional"
        click.echo(f"  {name:<10} {'yes' if found else 'NO':<4} {version:<10} {what} ({need})")
        if not found and name in required:
            yield _missing(name, what)


def _check_fonts() -> Iterator[str]:
    """Print a line for each font face; yield a problem for each missing file or licence."""
    from ..render import fonts

    click.echo(f"Fonts in {fonts.FONT_DIR}:")
    licences = sorted(fonts.FONT_DIR.glob("OFL-*.txt"))
    for face in sorted({*fonts.LATIN.values(), *fonts.CHINESE.values(), fonts.EMOJI}):
        path = fonts.FONT_DIR / face
        licence = next((p for p in licences if face.startswith(p.stem.removeprefix("OFL-"))), None)
        click.echo(_font_line(face, path, licence))
        if not path.is_file():
            yield f"font {path} is missing (see assets/fonts/README.md to rebuild it)"
        if licence is None:
            yield f"font {face} has no licence file (OFL-<family>.txt) in {fonts.FONT_DIR}"


def _font_line(face: str, path: Path, licence: Path | None) -> str:
    title = _licence_title(licence) if licence else "NO LICENCE FILE"
    size = f"{path.stat().st_size:>10,} B" if path.is_file() else "   MISSING  "
    return f"  {face:<26} {size}  {title}{f' ({licence.name})' if licence else ''}"


def _missing(name: str, what: str) -> str:
    if name == "raqm":
        from ..errors import RenderError
        from ..render.fonts import require_raqm

        try:
            require_raqm()
        except RenderError as exc:
            return str(exc)  # what to install, word for word as rendering says it
    return f"Pillow was built without {name}, which cards need for {what}"


def _licence_title(path: Path) -> str:
    """The line that names the licence, such as `SIL OPEN FONT LICENSE Version 1.1 - 26 February 2007`."""
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    return next((line.strip() for line in lines if "LICENSE" in line.upper()), lines[0].strip() if lines else "")
