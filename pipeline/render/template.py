"""The card-template format: YAML layers in units relative to the canvas, checked on load.

    name: stat
    alt: {en: "...", zh: "..."}            # Jinja2, rendered with the card's context
    layers:
      - type: background                   # color: "#RRGGBB"  or  gradient: {angle, stops}
      - type: shape                        # rect | rounded_rect, box, radius, color, opacity
      - type: text                         # name, text, font, weight, min_size, max_size, ...

Boxes are [x, y, w, h] fractions of their frame: the whole `canvas`, or the central `square`
(side min(width, height)), which is where key content goes so that a wide cover crops well.
Sizes and radii are fractions of min(width, height).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
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


class BackgroundLayer(yamldoc.Strict):
    type: Literal["background"]
    color: Colour | None = None
    gradient: Gradient | None = None

    @model_validator(mode="after")
    def _one_fill(self) -> BackgroundLayer:
        if (self.color is None) == (self.gradient is None):
            raise ValueError("a background has either color or gradient")
        return self


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


Layer = BackgroundLayer | ShapeLayer | TextLayer
LAYER_TYPES: dict[str, type[Layer]] = {"background": BackgroundLayer, "shape": ShapeLayer, "text": TextLayer}


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
    if problems:
        raise ConfigError(problems)
    return CardTemplate(spec.name or path.stem, path, spec.alt, tuple(layers), doc.lines)


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
