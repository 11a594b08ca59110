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

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import jinja2
from pydantic import AfterValidator, Field, model_validator

from .. import yamldoc
from ..errors import ConfigError, Problem
from ..templating import render_string

Lang = Literal["en", "zh"]
Localized = str | dict[Lang, str]
Fraction = Annotated[float, Field(ge=0, le=1)]
Size = Annotated[float, Field(gt=0, le=1)]
Frame = Literal["canvas", "square"]
COLOUR = re.compile(r"#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})")


def parse_colour(text: str) -> tuple[int, int, int, int]:
    """#RGB, #RRGGBB or #RRGGBBAA as an RGBA tuple."""
    digits = text[1:]
    if len(digits) == 3:
        digits = "".join(d * 2 for d in digits)
    digits = digits.ljust(8, "f")
    r, g, b, a = (int(digits[i : i + 2], 16) for i in range(0, 8, 2))
    return r, g, b, a


def _colour(text: str) -> str:
    if not COLOUR.fullmatch(text):
        raise ValueError(f"expected a colour like #1B2A4A or #1B2A4ACC, got {text!r}")
    return text


def _box(box: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    x, y, w, h = box
    if w <= 0 or h <= 0 or x + w > 1.0001 or y + h > 1.0001:
        raise ValueError("expected [x, y, w, h] with w, h > 0 and x + w, y + h at most 1")
    return box


Colour = Annotated[str, AfterValidator(_colour)]
Box = Annotated[tuple[Fraction, Fraction, Fraction, Fraction], AfterValidator(_box)]


class Gradient(yamldoc.Strict):
    angle: float = 180.0  # CSS degrees: 0 points up, 90 right, 180 down
    stops: list[Colour] = Field(min_length=2)


Focus = tuple[Fraction, Fraction]


class BackgroundLayer(yamldoc.Strict):
    type: Literal["background"]
    color: Colour | None = None
    gradient: Gradient | None = None
    image: str | None = None  # cover-fit to the canvas, cropped around `focus`
    focus: Focus = (0.5, 0.5)

    @model_validator(mode="after")
    def _one_fill(self) -> BackgroundLayer:
        if sum(fill is not None for fill in (self.color, self.gradient, self.image)) != 1:
            raise ValueError("a background has one of color, gradient or image")
        return self


class ImageLayer(yamldoc.Strict):
    """A picture (a logo, a photo) from a file in the project."""

    type: Literal["image"]
    src: str
    box: Box = (0.0, 0.0, 1.0, 1.0)
    frame: Frame = "canvas"
    fit: Literal["cover", "contain"] = "contain"
    focus: Focus = (0.5, 0.5)
    radius: Annotated[float, Field(ge=0, le=0.5)] = 0.0
    opacity: Fraction = 1.0


class ShapeLayer(yamldoc.Strict):
    type: Literal["shape"]
    shape: Literal["rect", "rounded_rect"] = "rect"
    box: Box
    frame: Frame = "canvas"
    radius: Annotated[float, Field(ge=0, le=0.5)] = 0.0
    color: Colour
    opacity: Fraction = 1.0

    @model_validator(mode="after")
    def _rounded(self) -> ShapeLayer:
        if self.shape == "rounded_rect" and self.radius == 0:
            raise ValueError("a rounded_rect needs a radius above 0")
        return self


class TextLayer(yamldoc.Strict):
    type: Literal["text"]
    name: str
    text: Localized
    font: Literal["display", "body"] = "body"
    weight: Literal["regular", "bold"] = "regular"
    color: Colour
    opacity: Fraction = 1.0
    min_size: Size
    max_size: Size
    max_lines: Annotated[int, Field(ge=1, le=20)] = 1
    align: Literal["left", "center", "right"] = "left"
    valign: Literal["top", "middle", "bottom"] = "top"
    line_height: Annotated[float, Field(ge=0.6, le=3)] = 1.2
    balance: bool = True
    box: Box
    frame: Frame = "canvas"

    @model_validator(mode="after")
    def _sizes(self) -> TextLayer:
        if self.min_size > self.max_size:
            raise ValueError("min_size must not be larger than max_size")
        return self


Layer = BackgroundLayer | ShapeLayer | ImageLayer | TextLayer
LAYER_TYPES: dict[str, type[Layer]] = {
    "background": BackgroundLayer,
    "shape": ShapeLayer,
    "image": ImageLayer,
    "text": TextLayer,
}


class CardFile(yamldoc.Strict):
    name: str | None = None
    description: str = ""
    alt: Localized
    layers: list[dict[str, Any]] = Field(min_length=1)


@dataclass(frozen=True)
class CardTemplate:
    """A checked card template, with the line of every key for error messages."""

    name: str
    path: Path
    alt: Localized
    layers: tuple[Layer, ...]
    lines: Mapping[tuple[str | int, ...], int]
    images: Mapping[str, Path] = field(default_factory=dict)  # each layer's `src` → the file found

    def line_of(self, loc: tuple[str | int, ...]) -> int:
        return yamldoc.Document(str(self.path), None, dict(self.lines)).line_of(loc)

    def render_field(
        self, loc: tuple[str | int, ...], field: Localized, context: Mapping[str, Any], env: jinja2.Environment
    ) -> str:
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


def load_card_template(path: Path) -> CardTemplate:
    """Read and check a card template; problems name the file and line of the bad key."""
    doc = yamldoc.load(path, ConfigError)
    spec = doc.validate(CardFile, ConfigError)
    layers, problems = [], []
    for index, data in enumerate(spec.layers):
        try:
            layers.append(_layer(doc, index, data))
        except ConfigError as exc:
            problems += exc.problems
    problems = problems or _duplicate_names(doc, layers)
    images, missing = _images(doc, path, layers)
    if problems or missing:
        raise ConfigError(problems + missing)
    return CardTemplate(spec.name or path.stem, path, spec.alt, tuple(layers), doc.lines, images)


def project_root(template: Path) -> Path:
    """The project folder: the parent of the templates/ folder the template lives in."""
    for folder in template.resolve().parents:
        if folder.name == "templates":
            return folder.parent
    return template.resolve().parent


def _images(doc: yamldoc.Document, path: Path, layers: list[Layer]) -> tuple[dict[str, Path], list[Problem]]:
    """Every image layer's file, found and readable as an image; a problem per one that is not."""
    root, images, problems = project_root(path), {}, []
    for index, layer in enumerate(layers):
        if (found := _src(layer)) is None:
            continue
        src, key = found
        file = root / src
        reason = _unreadable(file)
        if reason:
            message = f"layers.{index}.{key}: {reason}; expected an image file path relative to {root}"
            problems.append(Problem(doc.origin, doc.line_of(("layers", index, key)), message))
        images[src] = file
    return images, problems


def _src(layer: Layer) -> tuple[str, str] | None:
    """An image layer's file and the key that names it."""
    if isinstance(layer, ImageLayer):
        return layer.src, "src"
    if isinstance(layer, BackgroundLayer) and layer.image is not None:
        return layer.image, "image"
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


def _layer(doc: yamldoc.Document, index: int, data: dict[str, Any]) -> Layer:
    """One layer, checked by the model its `type` names; problems keep their place in the file."""
    loc = ("layers", index)
    model = LAYER_TYPES.get(str(data.get("type")))
    if model is None:
        message = f"layers.{index}.type: expected one of {', '.join(LAYER_TYPES)}"
        raise ConfigError([Problem(doc.origin, doc.line_of((*loc, "type")), message)])
    lines = {key[2:]: line for key, line in doc.lines.items() if key[:2] == loc}
    try:
        return yamldoc.Document(doc.origin, data, lines).validate(model, ConfigError)
    except ConfigError as exc:
        prefix = f"layers.{index}"
        problems = [Problem(p.file, p.line, f"{prefix}.{p.message}".replace(".(document)", "")) for p in exc.problems]
        raise ConfigError(problems) from None


def _duplicate_names(doc: yamldoc.Document, layers: list[Layer]) -> list[Problem]:
    seen: set[str] = set()
    problems = []
    for index, layer in enumerate(layers):
        if not isinstance(layer, TextLayer):
            continue
        if layer.name in seen:
            line = doc.line_of(("layers", index, "name"))
            problems.append(Problem(doc.origin, line, f"layers.{index}.name: {layer.name!r} is used twice"))
        seen.add(layer.name)
    return problems
