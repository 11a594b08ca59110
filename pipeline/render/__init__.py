"""Cards: a YAML template of layers, fitted to a size, drawn with Pillow, stored by content hash.

    template = load_card_template(Path("templates/cards/stat.yaml"))
    card = render_card(template, context, (1080, 1350), media_dir, env)

The work is split in three: layout.fit() measures and chooses sizes (pure; may raise
TextDoesNotFit), draw.draw_card() paints, draw.encode_png() makes the bytes.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2

from ..model import Card
from .draw import draw_card, encode_png
from .fonts import require_raqm
from .layout import CardLayout, layout_card
from .template import CardTemplate, load_card_template

__all__ = ["CardLayout", "CardTemplate", "layout_card", "load_card_template", "render_card"]


def render_card(
    template: CardTemplate, context: Mapping[str, Any], size: tuple[int, int], media_dir: Path, env: jinja2.Environment
) -> Card:
    """Render one card at `size` into media_dir as `<sha256>.png`; the same input gives the same file."""
    require_raqm()
    layout = layout_card(template, context, size, env)
    path = store(encode_png(draw_card(layout)), media_dir)
    return Card(path=path, width=size[0], height=size[1], alt=layout.alt)


def store(data: bytes, media_dir: Path) -> Path:
    """Write bytes under their own hash, atomically; an existing file is already right."""
    media_dir.mkdir(parents=True, exist_ok=True)
    path = media_dir / f"{hashlib.sha256(data).hexdigest()}.png"
    if not path.exists():
        handle, temporary = tempfile.mkstemp(dir=media_dir, suffix=".part")
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    return path
