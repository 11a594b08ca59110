"""Describe the content-addressed files (cards, an editor's images) that a queued post refers to."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

from ..model import Variant
from ..records import MediaFile

FORMATS = {".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg", ".webp": "webp", ".gif": "gif"}


def card_files(root: Path, variants: Iterable[Variant]) -> list[MediaFile]:
    """Every card the variants show, once each; card paths are relative to the project `root`."""
    cards = {card.path: card for variant in variants for card in variant.cards}
    return [describe(root, card.path, card.width, card.height) for card in cards.values()]


def describe(root: Path, path: Path, width: int, height: int) -> MediaFile:
    data = (root / path).read_bytes()
    kind = FORMATS.get(path.suffix.lower(), path.suffix.lstrip(".").lower())
    return MediaFile(hashlib.sha256(data).hexdigest(), path, width, height, kind, len(data))
