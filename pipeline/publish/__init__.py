"""Publish: one Publisher per channel type, and the worker pass that drives them."""

from __future__ import annotations

from ..config import ChannelConfig, Project
from ..errors import ConfigError, Problem
from .base import Limits, Publisher
from .outbox import OutboxPublisher

__all__ = ["Limits", "Publisher", "publisher_for"]


def publisher_for(name: str, config: ChannelConfig, project: Project) -> Publisher:
    if config.type == "outbox":
        return OutboxPublisher(name, config, project.root, project.outbox)
    message = f"channels.{name}: no publisher for type {config.type!r} yet"
    raise ConfigError([Problem(str(project.schedule), 0, message)])
