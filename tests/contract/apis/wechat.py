"""The WeChat Official Account's contract: every fault on freepublish/submit ends in exactly one article.

freepublish/submit has no idempotency, but WeChat can always tell what happened: submit removes the
draft from the draft box, so a draft still waiting was never submitted, and a vanished one is found
as an article in freepublish/batchget.
"""

from __future__ import annotations

from pipeline.config import ChannelConfig
from pipeline.publish.wechat import WechatPublisher
from tests.contract.contracts import Contract
from tests.emulators.base import Emulator
from tests.emulators.wechat import WechatEmulator

APPID = "wx5823bf96d3bd56c7"
SECRET = "9e4b0c2d7f1a4e8c9b3d5f7a1c3e5b7d"
SECRETS = {"TEST_WECHAT_APPID": APPID, "TEST_WECHAT_SECRET": SECRET}


def channel(emulator: Emulator, **settings: object) -> ChannelConfig:
    assert isinstance(emulator, WechatEmulator)
    credentials = {"appid": "${TEST_WECHAT_APPID}", "secret": "${TEST_WECHAT_SECRET}"}
    return ChannelConfig.model_validate(
        {"type": "wechat", "base_url": emulator.base_url, "credentials": credentials} | settings
    )


def posts(emulator: Emulator) -> int:
    """Accepted freepublish/submit calls: each one becomes an article."""
    assert isinstance(emulator, WechatEmulator)
    return len(emulator.jobs)


CONTRACT = Contract(
    type="wechat",
    publisher=WechatPublisher,
    # Jobs end at the first look: the shared harness gives publishers the system clock, so every
    # poll interval would be a real sleep (tests/contract/test_wechat.py polls with the fake clock).
    emulator=lambda clock: WechatEmulator(APPID, SECRET),
    channel=channel,
    secrets=SECRETS,
    create="freepublish_submit",
    posts=posts,
)
