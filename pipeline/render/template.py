"""The card-template format: YAML layers in units relative to the canvas, checked on load.

    name: stat
    alt: {en: "...", zh: "..."}            # Jinja2, rendered with the card's context
    layers:
      - type: background                   # color: "#RRGGBB", gradient: {angle, stops}, or image + focus
      - type: shape                        # rect | rounded_rect, box, radius, color, opacity
      - type: image                        # src, box, fit: cover | contain, focus, radius, opacity
      - type: text                         # name, text, font, weight, min_size, max_size, ...

Boxes are [x, y, w, h] fractions of their frame: the whole `canvas`, or the central `square`
(side min(width, height)), which is where key content goes so that a wide cover crops well.
Sizes and radii are fractions of min(width, height). Image files (`src`) are paths relative to the
project folder (the one that holds templates/), such as assets/images/logo.png; `cover` fills the
box and crops around `focus` ([x, y] fractions of the picture), `contain` fits the whole picture.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2

from ..errors import ConfigError, Problem
from ..templating import render_string
from . import template_cache
from .layers import (
    BackgroundLayer,
    Gradient,
    ImageLayer,
    Layer,
    Localized,
    ShapeLayer,
    TextLayer,
    from_data,
    parse_colour,
)

__all__ = [
    "BackgroundLayer",
    "CardTemplate",
    "Gradient",
    "ImageLayer",
    "Layer",
    "Localized",
    "ShapeLayer",
    "TextLayer",
    "load_card_template",
    "parse_colour",
    "project_root",
]
Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class CardTemplate:
    """A checked card template, with the line of every key for error messages."""

    name: str
    path: Path
    alt: Localized
    layers: tuple[Layer, ...]
    lines: Mapping[Loc, int]
    images: Mapping[str, Path] = field(default_factory=dict)  # each layer's `src` → the file found

    def line_of(self, loc: Loc) -> int:
        return line_of(self.lines, loc)

    def render_field(self, loc: Loc, field: Localized, context: Mapping[str, Any], env: jinja2.Environment) -> str:
        """A text or alt field in the context's language, rendered through the shared Jinja env."""
        lang = str(context.get("lang"))
        dotted = ".".join(str(part) for part in loc)
        if isinstance(field, str):
            return render_string(env, field, context, Problem(str(self.path), self.line_of(loc), dotted)).strip()
        if lang not in field:
            problem = f"{dotted}: no {lang!r} entry; expected keys en and zh"
            raise ConfigError([Problem(str(self.path), self.line_of(loc), problem)])
        origin = Problem(str(self.path), self.line_of((*loc, lang)), f"{dotted}.{lang}")
        return render_string(env, field[lang], context, origin).strip()


def line_of(lines: Mapping[Loc, int], loc: Loc) -> int:
    """The line of the deepest part of `loc` that exists in the file (as yamldoc.Document.line_of)."""
    for end in range(len(loc), -1, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return 1


def load_card_template(path: Path) -> CardTemplate:
    """Read and check a card template; problems name the file and line of the bad key.

    A template checked before, byte for byte and by the same code, comes from template_cache."""
    raw = _read(path)
    slot = template_cache.slot(path, raw)
    cached = template_cache.read(slot) if slot else None
    template = _built(path, cached) if cached is not None else None
    if template is not None:
        return template
    from . import schema  # pydantic and yaml: only when a template must be checked

    checked, problems = schema.check(_text(raw), str(path))
    template = _from_checked(path, checked)
    missing = _missing_images(path, template)
    if problems or missing:
        raise ConfigError(problems + missing)
    if slot:
        template_cache.write(slot, checked)
    return template


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ConfigError([Problem(str(path), 0, f"cannot read: {exc.strerror}")]) from None


def _text(raw: bytes) -> str:
    """The file's text as Path.read_text(encoding="utf-8") gives it (universal newlines)."""
    return io.TextIOWrapper(io.BytesIO(raw), encoding="utf-8").read()


def _built(path: Path, cached: Mapping[str, Any]) -> CardTemplate | None:
    """The template from cached data, or None if the data is not a valid template after all."""
    try:
        template = _from_checked(path, cached)
    except (KeyError, TypeError, ValueError, AttributeError):
        return None
    return None if _missing_images(path, template) else template


def _from_checked(path: Path, checked: Mapping[str, Any]) -> CardTemplate:
    layers = tuple(from_data(data) for data in checked["layers"])
    lines = {tuple(loc): line for loc, line in checked["lines"]}
    images = {src: project_root(path) / src for src in (_src(layer) for layer in layers) if src}
    return CardTemplate(checked["name"] or path.stem, path, checked["alt"], layers, lines, images)


def project_root(template: Path) -> Path:
    """The project folder: the parent of the templates/ folder the template lives in."""
    for folder in template.resolve().parents:
        if folder.name == "templates":
            return folder.parent
    return template.resolve().parent


def _missing_images(path: Path, template: CardTemplate) -> list[Problem]:
    """A problem per image layer whose file is not there or not an image Pillow can read."""
    root, problems = project_root(path), []
    for index, layer in enumerate(template.layers):
        if not (src := _src(layer)):
            continue
        key = "src" if isinstance(layer, ImageLayer) else "image"
        reason = _unreadable(root / src)
        if reason:
            message = f"layers.{index}.{key}: {reason}; expected an image file path relative to {root}"
            problems.append(Problem(str(path), template.line_of(("layers", index, key)), message))
    return problems


def _src(layer: Layer) -> str | None:
    """An image layer's file (relative to the project folder)."""
    if isinstance(layer, ImageLayer):
        return layer.src
    if isinstance(layer, BackgroundLayer):
        return layer.image
    return None


def _unreadable(file: Path) -> str | None:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(file) as image:
            image.verify()
    except FileNotFoundError:
        return f"no file {file}"
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        return f"{file} is not an image Pillow can read ({type(exc).__name__})"
    return None
