"""A card template's layers as plain frozen data: what layout.py and draw.py read.

schema.py checks a template file with pydantic and gives its layers as JSON-ready data (`to_data`
of these classes' fields); `from_data` turns that data into these objects. The same data is what
template_cache.py stores, so a card whose template is unchanged needs neither pydantic nor yaml.
Field names and defaults are those of the schema (see template.py for the format).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

Localized = str | dict[str, str]
Box = tuple[float, float, float, float]
Focus = tuple[float, float]


def parse_colour(text: str) -> tuple[int, int, int, int]:
    """#RGB, #RRGGBB or #RRGGBBAA as an RGBA tuple."""
    digits = text[1:]
    if len(digits) == 3:
        digits = "".join(d * 2 for d in digits)
    digits = digits.ljust(8, "f")
    r, g, b, a = (int(digits[i : i + 2], 16) for i in range(0, 8, 2))
    return r, g, b, a


class Gradient(NamedTuple):
    angle: float = 180.0  # CSS degrees: 0 points up, 90 right, 180 down
    stops: tuple[str, ...] = ()


class BackgroundLayer(NamedTuple):
    color: str | None = None
    gradient: Gradient | None = None
    image: str | None = None  # cover-fit to the canvas, cropped around `focus`
    focus: Focus = (0.5, 0.5)


class ImageLayer(NamedTuple):
    src: str
    box: Box = (0.0, 0.0, 1.0, 1.0)
    frame: str = "canvas"
    fit: str = "contain"
    focus: Focus = (0.5, 0.5)
    radius: float = 0.0
    opacity: float = 1.0


class ShapeLayer(NamedTuple):
    box: Box
    color: str
    shape: str = "rect"
    frame: str = "canvas"
    radius: float = 0.0
    opacity: float = 1.0


class TextLayer(NamedTuple):
    name: str
    text: Localized
    color: str
    min_size: float
    max_size: float
    box: Box
    font: str = "body"
    weight: str = "regular"
    opacity: float = 1.0
    max_lines: int = 1
    align: str = "left"
    valign: str = "top"
    line_height: float = 1.2
    balance: bool = True
    frame: str = "canvas"


Layer = BackgroundLayer | ShapeLayer | ImageLayer | TextLayer


def from_data(data: Mapping[str, Any]) -> Layer:
    """A layer from its checked data ({"type": ..., field: value}, lists for tuples)."""
    fields = {key: _tuples(value) for key, value in data.items() if key != "type"}
    kind = data["type"]
    if kind == "background":
        gradient = fields.get("gradient")
        return BackgroundLayer(**fields | {"gradient": gradient and Gradient(**gradient)})
    if kind == "shape":
        return ShapeLayer(**fields)
    if kind == "image":
        return ImageLayer(**fields)
    if kind == "text":
        return TextLayer(**fields)
    raise ValueError(f"unknown layer type {kind!r}")


def _tuples(value: Any) -> Any:
    """JSON lists back to the tuples the layers hold; mappings (a gradient, localized text) as they are."""
    if isinstance(value, list):
        return tuple(value)
    if isinstance(value, dict):
        return {key: _tuples(item) for key, item in value.items()}
    return value
