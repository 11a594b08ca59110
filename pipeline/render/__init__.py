"""Cards: a YAML template of layers, fitted to a size, drawn with Pillow, stored by content hash.

    template = load_card_template(Path("templates/cards/stat.yaml"))
    card = render_card(template, context, (1080, 1350), media_dir, env)                    # PNG
    card = render_card(template, context, (900, 383), media_dir, env, "jpeg", 64_000)     # ≤ 64,000 B

The work is split in four: layout.fit() measures and chooses sizes (pure; may raise
TextDoesNotFit), draw.draw_card() paints, draw.encode_png() makes PNG bytes, and encode.py picks
the format and the highest quality within a channel's byte budget (compose.channels.SPECS).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2
from PIL import Image

from ..model import Card
from .draw import draw_card
from .encode import Encoded, ImageFormat, encode_within
from .fonts import require_raqm
from .layout import CardLayout, layout_card
from .template import CardTemplate, load_card_template

__all__ = [
    "CardLayout",
    "CardTemplate",
    "Encoded",
    "ImageFormat",
    "card_image",
    "card_label",
    "encode_card",
    "layout_card",
    "load_card_template",
    "render_card",
    "save_card",
]


def render_card(
    template: CardTemplate,
    context: Mapping[str, Any],
    size: tuple[int, int],
    media_dir: Path,
    env: jinja2.Environment,
    format: ImageFormat = "png",
    budget: int | None = None,
) -> Card:
    """Render one card at `size` into media_dir as `<sha256>.png` (`.jpg`, `.webp`), at most
    `budget` bytes; the same input gives the same file. The card is smaller than `size` only when
    the budget could not be met otherwise (see encode.py)."""
    encoded, alt = encode_card(template, context, size, env, format, budget)
    return save_card(encoded, alt, media_dir)


def encode_card(
    template: CardTemplate,
    context: Mapping[str, Any],
    size: tuple[int, int],
    env: jinja2.Environment,
    format: ImageFormat = "png",
    budget: int | None = None,
) -> tuple[Encoded, str]:
    """A card's bytes (with the format, quality and size chosen) and its alt text, not stored."""
    require_raqm()
    layout = layout_card(template, context, size, env)
    label = card_label(template, context, size)
    return encode_within(draw_card(layout), format, budget, label, drawn=layout), layout.alt


def card_image(
    template: CardTemplate, context: Mapping[str, Any], size: tuple[int, int], env: jinja2.Environment
) -> tuple[Image.Image, str]:
    """A card's pixels and alt text, to encode in one or more formats."""
    require_raqm()
    layout = layout_card(template, context, size, env)
    return draw_card(layout), layout.alt


def card_label(template: CardTemplate, context: Mapping[str, Any], size: tuple[int, int]) -> str:
    """How errors name a card: `card stat (templates/cards/stat.yaml, en, 1080x1350)`."""
    return f"card {template.name} ({template.path}, {context.get('lang')}, {size[0]}x{size[1]})"


def save_card(encoded: Encoded, alt: str, media_dir: Path) -> Card:
    """Store encoded bytes by their hash in media_dir; the Card has the size they really are."""
    path = store(encoded.data, media_dir, encoded.extension)
    return Card(path=path, width=encoded.size[0], height=encoded.size[1], alt=alt)


def store(data: bytes, media_dir: Path, extension: str = "png") -> Path:
    """Write bytes under their own hash, atomically; an existing file is already right."""
    media_dir.mkdir(parents=True, exist_ok=True)
    path = media_dir / f"{hashlib.sha256(data).hexdigest()}.{extension}"
    if not path.exists():
        handle, temporary = tempfile.mkstemp(dir=media_dir, suffix=".part")
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    return path
