"""Publish: one Publisher per channel type, and the worker pass that drives them."""

from __future__ import annotations

from collections.abc import Callable

from ..config import ChannelConfig, Config, Project
from .base import Limits, Publisher
from .outbox import OutboxPublisher

__all__ = ["Limits", "Publisher", "build_publishers"]

Factory = Callable[[str, ChannelConfig, Project], Publisher]
FACTORIES: dict[str, Factory] = {
    "outbox": lambda name, config, project: OutboxPublisher(name, config, project.root, project.outbox),
}


def build_publishers(config: Config, project: Project) -> tuple[dict[str, Publisher], dict[str, str]]:
    """The channels that can publish now, and for every other one the reason it is skipped."""
    ready: dict[str, Publisher] = {}
    skipped: dict[str, str] = {}
    for name, channel in config.channels.items():
        reason = unavailable(channel)
        if reason:
            skipped[name] = reason
        else:
            ready[name] = FACTORIES[channel.type](name, channel, project)
    return ready, skipped


def unavailable(channel: ChannelConfig) -> str | None:
    """Why a channel cannot publish (no publisher for its type, or a secret unset), or None."""
    if channel.type not in FACTORIES:
        return f"publishing to {channel.type} channels is not available in this version"
    missing = [ref for key, ref in channel.credentials.items() if channel.secret(key) is None]
    if missing:
        return f"skipped: its credentials need {', '.join(missing)} set in the environment"
    return None
