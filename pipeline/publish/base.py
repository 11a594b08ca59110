"""The Publisher interface: one subclass per API, limits and capabilities as class data."""

from __future__ import annotations

import abc
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from ..config import ChannelConfig
from ..model import Delivery, Receipt, Variant


@dataclass(frozen=True)
class Limits:
    max_chars: int | None = None
    max_images: int | None = None


class Publisher(abc.ABC):
    type: ClassVar[str]
    # True when publishing the same delivery again can never make a second post.
    idempotent: ClassVar[bool]
    limits: ClassVar[Limits] = Limits()

    def __init__(self, name: str, config: ChannelConfig, root: Path) -> None:
        self.name, self.config, self.root = name, config, root

    def check(self, variant: Variant) -> list[str]:
        """Problems with a variant for this channel, found without any I/O."""
        problems = []
        if self.limits.max_chars is not None and len(variant.text) > self.limits.max_chars:
            problems.append(f"{len(variant.text)} characters; the limit is {self.limits.max_chars}")
        if self.limits.max_images is not None and len(variant.cards) > self.limits.max_images:
            problems.append(f"{len(variant.cards)} images; the limit is {self.limits.max_images}")
        return problems

    @abc.abstractmethod
    def publish(self, delivery: Delivery) -> Receipt:
        """Send one delivery; raise a PublishError subclass on failure."""

    def reconcile(self, delivery: Delivery) -> Receipt | None:
        """Did this delivery already go out? None when it did not, or when the API cannot tell."""
        return None
