"""Card bytes in the format a channel takes, within its byte budget, the same bytes every time.

    data = encode(image, "jpeg", 64_000)                  # highest JPEG quality that fits 64,000 bytes
    result = encode_within(image, "webp", 1_000_000, label="cards/stat.yaml en 1080x1350")

PNG is draw.encode_png() as it is (lossless; no quality to search). JPEG and WebP try the highest
quality first, then binary-search QUALITY[format] for the highest quality within the budget. Only
when even the lowest acceptable quality is over budget is the image made smaller, a step of SCALES
at a time (LANCZOS; the quality search again at each step); if the smallest step still does not fit,
a RenderError names the card, the format, the budget and the smallest size reached. PNG over budget
goes straight to the smaller steps.

Deterministic: no metadata is written (image.info is dropped, so no EXIF, ICC profile, XMP, comment
or timestamp; JPEG has its fixed JFIF header), every encoder setting is fixed here, and
libjpeg-turbo's default integer DCT and libwebp are deterministic, so the same pixels give the same
bytes in any process with the same Pillow build (tests/unit/test_encode.py checks this across
processes). Another Pillow / libjpeg / libwebp / zlib build may give other bytes, as for PNG.

Each encoding is made once per process: a small memo keyed by the SHA-256 of the pixels (about
3.5 ms for 1080x1350, hashed a band at a time, against about 12 ms for its PNG) hands the same bytes
back, so channels that share a card size and format (five take a 1080x1350 PNG) cost one encode,
not five. A card's layout, which alone decides its pixels, keys the memo as well and costs no hashing.
"""

from __future__ import annotations

import hashlib
import io
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Literal, NamedTuple, get_args

from PIL import Image

from ..errors import RenderError
from .draw import PNG_BAND, encode_png

ImageFormat = Literal["png", "jpeg", "webp"]
FORMATS: tuple[ImageFormat, ...] = get_args(ImageFormat)
EXTENSIONS: dict[ImageFormat, str] = {"png": "png", "jpeg": "jpg", "webp": "webp"}
SUFFIXES: dict[str, ImageFormat] = {"png": "png", "jpg": "jpeg", "jpeg": "jpeg", "webp": "webp"}
MEDIA_TYPES = {"png": "image/png", "jpg": "image/jpeg", "webp": "image/webp"}  # by file extension

# (lowest acceptable, highest) quality. JPEG above 95 only grows; below 70 rings around text.
QUALITY: dict[ImageFormat, tuple[int, int]] = {"jpeg": (70, 95), "webp": (70, 95)}
SCALES = (0.9, 0.8, 0.7, 0.6, 0.5)  # tried in turn when the lowest quality is still over budget
MEMO_ITEMS = 64  # encodings kept (a card's are about 20-200 KB)
MEMO: OrderedDict[tuple[object, ...], bytes] = OrderedDict()
_MEMO_LOCK = threading.Lock()


class Encoded(NamedTuple):
    """Encoded bytes and how they were made: `quality` None for PNG, `size` smaller than asked
    only when the budget needed it."""

    data: bytes
    format: ImageFormat
    quality: int | None
    size: tuple[int, int]

    @property
    def extension(self) -> str:
        return EXTENSIONS[self.format]


def encode(image: Image.Image, format: ImageFormat, budget: int | None = None) -> bytes:
    """The bytes of `image` in `format`, at most `budget` bytes (None: no limit)."""
    return encode_within(image, format, budget).data


def encode_within(
    image: Image.Image,
    format: ImageFormat,
    budget: int | None = None,
    label: str = "card",
    drawn: Hashable | None = None,
) -> Encoded:
    """As encode(), with the quality and size chosen; `label` names the card in errors. `drawn`, if
    given, is what the pixels were drawn from and all they depend on (a card's layout): it keys the
    memo in place of their SHA-256."""
    check_format(format)
    if budget is not None and budget <= 0:
        raise RenderError(f"{label}: a byte budget must be positive, got {budget}")
    image = _bare(image)
    smallest: Encoded | None = None
    for scale in (1.0, *SCALES):
        pixels = _Pixels(_scaled(image, scale), None if drawn is None else (drawn, scale))
        found, tried = _search(pixels, format, budget)
        if found is not None:
            return found
        smallest = tried if smallest is None or len(tried.data) < len(smallest.data) else smallest
    assert smallest is not None and budget is not None
    raise RenderError(_too_big(label, format, budget, smallest))


def encode_at(image: Image.Image, format: ImageFormat, quality: int | None) -> bytes:
    """One encoding at a fixed quality (None for PNG), made exactly as the search makes it."""
    if (quality is None) != (check_format(format) == "png"):
        raise RenderError(f"{format.upper()} takes {'no quality' if format == 'png' else 'a quality'}")
    return _Pixels(_bare(image)).encode(format, quality).data


def check_format(format: str) -> ImageFormat:
    if format not in FORMATS:
        raise RenderError(f"unknown image format {format!r}; expected one of {', '.join(FORMATS)}")
    return format


def format_for_suffix(suffix: str) -> ImageFormat | None:
    """The format a file name's extension asks for (.png, .jpg/.jpeg, .webp), if any."""
    return SUFFIXES.get(suffix.lower().lstrip("."))


class _Pixels:
    """An image and what keys its encodings in MEMO: what it was drawn from, or the hash of its pixels."""

    def __init__(self, image: Image.Image, drawn: Hashable | None = None) -> None:
        self.image = image
        self.key = (pixel_digest(image), image.mode, image.size) if drawn is None else ("drawn", drawn)

    def encode(self, format: ImageFormat, quality: int | None) -> Encoded:
        key = (*self.key, format, quality)
        with _MEMO_LOCK:
            data = MEMO.get(key)
            if data is not None:
                MEMO.move_to_end(key)
        if data is None:
            data = encode_png(self.image) if quality is None else _SAVERS[format](self.image, quality)
            with _MEMO_LOCK:
                MEMO[key] = data
                while len(MEMO) > MEMO_ITEMS:
                    MEMO.popitem(last=False)
        return Encoded(data, format, quality, self.image.size)


def pixel_digest(image: Image.Image) -> bytes:
    """SHA-256 of image.tobytes(), taken a band of rows at a time: the same digest without a
    full-size copy of the pixels (which alone takes longer than hashing them)."""
    digest = hashlib.sha256()
    width, height = image.size
    for top in range(0, height, PNG_BAND):
        digest.update(image.crop((0, top, width, min(height, top + PNG_BAND))).tobytes())
    return digest.digest()


def _search(pixels: _Pixels, format: ImageFormat, budget: int | None) -> tuple[Encoded | None, Encoded]:
    """(the highest quality within budget or None, the smallest attempt made)."""
    if format == "png":
        attempt = pixels.encode("png", None)
        return (attempt if _fits(attempt, budget) else None), attempt
    low, high = QUALITY[format]
    best = pixels.encode(format, high)
    if _fits(best, budget):
        return best, best
    lowest = pixels.encode(format, low)
    if not _fits(lowest, budget):
        return None, lowest
    best = lowest  # invariant: quality `low` fits, `high` does not
    while high - low > 1:
        middle = (low + high) // 2
        attempt = pixels.encode(format, middle)
        if _fits(attempt, budget):
            low, best = middle, attempt
        else:
            high = middle
    return best, lowest


def _bare(image: Image.Image) -> Image.Image:
    """The image without the metadata Pillow would otherwise write from image.info (EXIF, ICC
    profile, comments, text chunks): the bytes depend on the pixels alone."""
    if not image.info:
        return image
    bare = image.copy()
    bare.info = {}
    return bare


def _fits(attempt: Encoded, budget: int | None) -> bool:
    return budget is None or len(attempt.data) <= budget


def _scaled(image: Image.Image, scale: float) -> Image.Image:
    if scale == 1.0:
        return image
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, Image.Resampling.LANCZOS)


def _jpeg(image: Image.Image, quality: int) -> bytes:
    """Baseline JPEG, 4:4:4 (coloured text keeps its edges), optimised Huffman tables, no metadata."""
    buffer = io.BytesIO()
    rgb = image if image.mode in ("RGB", "L") else image.convert("RGB")
    rgb.save(buffer, "JPEG", quality=quality, subsampling=0, optimize=True, progressive=False)
    return buffer.getvalue()


def _webp(image: Image.Image, quality: int) -> bytes:
    """Lossy WebP at the slowest, best method; no EXIF, ICC or XMP chunks."""
    buffer = io.BytesIO()
    image.save(buffer, "WEBP", quality=quality, method=6)
    return buffer.getvalue()


_SAVERS: dict[ImageFormat, Callable[[Image.Image, int], bytes]] = {"jpeg": _jpeg, "webp": _webp}


def _too_big(label: str, format: ImageFormat, budget: int, smallest: Encoded) -> str:
    how = f"quality {smallest.quality}" if smallest.quality is not None else "lossless"
    width, height = smallest.size
    return (
        f"{label}: cannot fit {format.upper()} into {budget:,} bytes: the smallest reached was "
        f"{len(smallest.data):,} bytes ({width}x{height}, {how}, after scaling down to {SCALES[-1]:.0%})"
    )
