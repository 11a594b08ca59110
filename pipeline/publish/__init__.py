"""Publish: one Publisher per channel type, and the worker pass that drives them."""

from __future__ import annotations

from ..config import ChannelConfig, Config, Project
from .base import Limits, Progress, Publisher, Services
from .bluesky import BlueskyPublisher
from .facebook import FacebookPublisher
from .http import Session
from .linkedin import LinkedInPublisher
from .mastodon import MastodonPublisher
from .outbox import OutboxPublisher
from .telegram import TelegramPublisher
from .tokens import TokenCache
from .webhook import WebhookPublisher
from .wechat import WechatPublisher
from .weibo import WeiboPublisher
from .x import XPublisher

__all__ = ["PUBLISHERS", "Limits", "Progress", "Publisher", "Services", "build_publishers"]

PUBLISHERS: dict[str, type[Publisher]] = {
    cls.type: cls
    for cls in (
        OutboxPublisher,
        WechatPublisher,
        WeiboPublisher,
        XPublisher,
        MastodonPublisher,
        BlueskyPublisher,
        TelegramPublisher,
        FacebookPublisher,
        LinkedInPublisher,
        WebhookPublisher,
    )
}


def services(project: Project, tokens: TokenCache) -> Services:
    """One HTTP session (connection reuse) and one token cache for every channel of a process."""
    session = Session()
    session.headers["User-Agent"] = "Shortline/0.1 (+https://github.com/shortline)"
    return Services(project.root, project.outbox, session, tokens)


def build_publishers(config: Config, services: Services) -> tuple[dict[str, Publisher], dict[str, str]]:
    """The channels that can publish now, and for every other one the reason it is skipped."""
    ready: dict[str, Publisher] = {}
    skipped: dict[str, str] = {}
    for name, channel in config.channels.items():
        reason = unavailable(channel)
        if reason:
            skipped[name] = reason
        else:
            ready[name] = PUBLISHERS[channel.type](name, channel, services)
    return ready, skipped


def unavailable(channel: ChannelConfig) -> str | None:
    """Why a channel cannot publish (no publisher for its type, or a secret unset), or None."""
    if channel.type not in PUBLISHERS:
        return f"publishing to {channel.type} channels is not available in this version"
    missing = [ref for key, ref in channel.credentials.items() if channel.secret(key) is None]
    if missing:
        return f"skipped: its credentials need {', '.join(missing)} set in the environment"
    return None
