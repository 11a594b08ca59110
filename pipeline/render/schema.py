"""The card-template schema: pydantic models that check a template's YAML, line by line.

check() gives a valid template as JSON-ready data (see `Checked`), which layers.from_data() turns
into the objects cards are drawn from; template.py caches that data. Imported only when a template
must be checked (pydantic and yaml are slow to import; a cached template needs neither).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, TypedDict

from pydantic import AfterValidator, Field, model_validator

from .. import yamldoc
from ..errors import ConfigError, Problem

Lang = Literal["en", "zh"]
Localized = str | dict[Lang, str]
Fraction = Annotated[float, Field(ge=0, le=1)]
Size = Annotated[float, Field(gt=0, le=1)]
Frame = Literal["canvas", "square"]
COLOUR = re.compile(r"#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})")


class Checked(TypedDict):
    """A valid template as plain data: its own `name` (None: the file's stem), alt text, layers
    (each its model's fields, tuples as lists) and the line of every key path, as [path, line]."""

    name: str | None
    alt: Localized
    layers: list[dict[str, Any]]
    lines: list[list[Any]]


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


def check(text: str, origin: str) -> tuple[Checked, list[Problem]]:
    """Parse and check a template's text (named `origin` in problems): its data, with the layers
    that are valid, and the problems of the others. Raises ConfigError if the file as a whole is wrong."""
    doc = yamldoc.parse(text, origin, ConfigError)
    spec = doc.validate(CardFile, ConfigError)
    layers, problems = [], []
    for index, data in enumerate(spec.layers):
        try:
            layers.append(_layer(doc, index, data))
        except ConfigError as exc:
            problems += exc.problems
    problems = problems or _duplicate_names(doc, layers)
    checked: Checked = {
        "name": spec.name,
        "alt": spec.alt,
        "layers": [_lists(layer.model_dump()) for layer in layers],
        "lines": [[list(loc), line] for loc, line in doc.lines.items()],
    }
    return checked, problems


def _lists(value: Any) -> Any:
    """Model data with its tuples as lists, as JSON holds them (floats stay floats, even infinite)."""
    if isinstance(value, tuple | list):
        return [_lists(item) for item in value]
    if isinstance(value, dict):
        return {key: _lists(item) for key, item in value.items()}
    return value


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
