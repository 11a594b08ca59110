"""Sina Weibo's contract: no idempotency and no read-back, so a share that may have gone through stays unknown.

A reset is retried (Weibo's duplicate check would catch one that went through); a system error or
a reply that never comes leaves the delivery for an editor; an expired token pauses the channel.
"""

from __future__ import annotations

from pipeline.config import ChannelConfig
from pipeline.publish.weibo import WeiboPublisher
from tests.contract.contracts import Contract
from tests.emulators.base import Emulator
from tests.emulators.weibo import TOKEN, WeiboEmulator

LINK = "https://www.shenyang.gov.cn/"  # schedule.yaml's weibo link, on the emulator's safe domain


def channel(emulator: Emulator) -> ChannelConfig:
    return ChannelConfig(
        type="weibo", base_url=emulator.base_url, link=LINK, credentials={"access_token": "${TEST_WEIBO_TOKEN}"}
    )


def posts(emulator: Emulator) -> int:
    assert isinstance(emulator, WeiboEmulator)
    return len(emulator.posts)


CONTRACT = Contract(
    type="weibo",
    publisher=WeiboPublisher,
    emulator=lambda clock: WeiboEmulator(),
    channel=channel,
    secrets={"TEST_WEIBO_TOKEN": TOKEN},
    create="share",
    posts=posts,
    outcomes={
        "server_error": "unknown",
        "reset": "unknown",  # the share may have been carried out before the connection dropped
        "slow": "unknown",
        "commit_then_timeout": "unknown",
        "token_expired": "paused",
    },
)
