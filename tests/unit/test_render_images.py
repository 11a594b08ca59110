"""Image layers: background photos cover-fitted around a focal point, logos contained, files checked on load."""

from __future__ import annotations

import os
from pathlib import Path

import jinja2
import pytest
from PIL import Image

from pipeline import templating
from pipeline.errors import ConfigError
from pipeline.render import card_image, load_card_template, render_card
from pipeline.render.template import CardTemplate

RED, BLUE, NAVY = (220, 30, 30), (30, 60, 220), (16, 32, 64)
CONTEXT = {"lang": "en", "subject": "Shenyang"}

PHOTO_CARD = """\
name: photo
alt: "A photo"
layers:
  - type: background
    image: assets/images/photo.png
    focus: [{fx}, 0.5]
"""
LOGO_CARD = """\
name: logo
alt: "A logo"
layers:
  - type: background
    color: "#102040"
  - type: image
    src: assets/images/logo.png
    box: [0.2, 0.2, 0.6, 0.6]
    fit: contain
    radius: {radius}
    opacity: {opacity}
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project folder with templates/cards/ and assets/images/: a photo (red left half, blue right) and a logo."""
    (tmp_path / "templates" / "cards").mkdir(parents=True)
    images = tmp_path / "assets" / "images"
    images.mkdir(parents=True)
    photo = Image.new("RGB", (400, 100), RED)
    photo.paste(BLUE, (200, 0, 400, 100))
    photo.save(images / "photo.png")
    Image.new("RGBA", (200, 100), (*RED, 255)).save(images / "logo.png")  # 2:1, so contain leaves bands
    return tmp_path


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> jinja2.Environment:
    return templating.environment(tmp_path_factory.mktemp("templates"))


def template(project: Path, text: str) -> CardTemplate:
    path = project / "templates" / "cards" / "card.yaml"
    path.write_text(text, encoding="utf-8")
    return load_card_template(path)


def pixels(project: Path, text: str, env: jinja2.Environment, size: tuple[int, int] = (100, 100)) -> Image.Image:
    return card_image(template(project, text), CONTEXT, size, env)[0]


@pytest.mark.parametrize(("fx", "left", "right"), [(0.0, RED, RED), (1.0, BLUE, BLUE), (0.5, RED, BLUE)])
def test_background_image_covers_the_canvas_around_its_focus(
    project: Path, env: jinja2.Environment, fx: float, left: tuple[int, ...], right: tuple[int, ...]
) -> None:
    image = pixels(project, PHOTO_CARD.format(fx=fx), env)
    assert image.size == (100, 100)  # the 4:1 photo is scaled to 400x100 and cropped to the square
    assert image.getpixel((5, 50)) == left and image.getpixel((94, 50)) == right


def test_contained_logo_keeps_its_shape_and_the_background_shows_around_it(
    project: Path, env: jinja2.Environment
) -> None:
    image = pixels(project, LOGO_CARD.format(radius=0, opacity=1), env)
    assert image.getpixel((50, 50)) == RED  # the 60x60 box holds a 60x30 logo, centred
    assert image.getpixel((50, 30)) == NAVY and image.getpixel((50, 69)) == NAVY  # bands above and below it
    assert image.getpixel((21, 36)) == RED and image.getpixel((10, 50)) == NAVY


def test_opacity_and_rounded_corners_blend_with_what_is_below(project: Path, env: jinja2.Environment) -> None:
    faded = pixels(project, LOGO_CARD.format(radius=0, opacity=0.5), env).getpixel((50, 50))
    assert all(abs(c - (r + n) / 2) <= 1 for c, r, n in zip(faded, RED, NAVY, strict=True))  # type: ignore[arg-type]
    rounded = pixels(project, LOGO_CARD.format(radius=0.1, opacity=1), env, size=(200, 200))
    # the 120x60 logo sits at (40, 70): its own corners are rounded, its centre kept
    assert rounded.getpixel((41, 71)) == NAVY and rounded.getpixel((100, 100)) == RED


def test_same_input_same_bytes_and_a_changed_file_is_drawn_anew(
    project: Path, env: jinja2.Environment, tmp_path: Path
) -> None:
    card = template(project, PHOTO_CARD.format(fx=0.0))
    first = render_card(card, CONTEXT, (120, 90), tmp_path / "media", env)
    assert render_card(card, CONTEXT, (120, 90), tmp_path / "media", env) == first
    photo = project / "assets" / "images" / "photo.png"
    Image.new("RGB", (400, 100), BLUE).save(photo)
    os.utime(photo, ns=(1, 1))  # a different stamp even on a coarse clock
    assert card_image(card, CONTEXT, (120, 90), env)[0].getpixel((5, 45)) == BLUE


@pytest.mark.parametrize(
    ("src", "problem"),
    [("assets/images/missing.png", "no file"), ("templates/cards/card.yaml", "not an image Pillow can read")],
)
def test_an_image_that_is_missing_or_unreadable_is_named_with_its_line(project: Path, src: str, problem: str) -> None:
    text = LOGO_CARD.format(radius=0, opacity=1).replace("assets/images/logo.png", src)
    with pytest.raises(ConfigError) as caught:
        template(project, text)
    [found] = caught.value.problems
    assert found.line == 7 and found.message.startswith("layers.1.src: ") and problem in found.message
    assert "expected an image file path relative to" in found.message


def test_a_background_has_exactly_one_fill(project: Path) -> None:
    both = PHOTO_CARD.format(fx=0.5) + '    color: "#102040"\n'
    with pytest.raises(ConfigError, match="one of color, gradient or image"):
        template(project, both)
