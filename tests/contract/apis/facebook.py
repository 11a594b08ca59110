"""Facebook's contract: no idempotency, but the Page's posts read back, so every fault ends in one post.

A create that got no clear answer is settled by reading the latest posts: found, it is published;
not found, it is sent again after one more check. An expired Page token pauses the channel.
"""

from __future__ import annotations

from pipeline.config import ChannelConfig
from pipeline.publish.facebook import FacebookPublisher
from tests.contract.contracts import Contract
from tests.emulators.base import Emulator
from tests.emulators.facebook import PAGE_ID, TOKEN, FacebookEmulator


def channel(emulator: Emulator, **options: str) -> ChannelConfig:
    return ChannelConfig(
        type="facebook",
        base_url=emulator.base_url,
        credentials={"page_access_token": "${TEST_FACEBOOK_TOKEN}"},
        options={"page_id": PAGE_ID, **options},
    )


def posts(emulator: Emulator) -> int:
    assert isinstance(emulator, FacebookEmulator)
    return len(emulator.posts)


CONTRACT = Contract(
    type="facebook",
    publisher=FacebookPublisher,
    emulator=lambda clock: FacebookEmulator(),
    channel=channel,
    secrets={"TEST_FACEBOOK_TOKEN": TOKEN},
    create="photos",  # the example's variants carry one card each: a published photo is the post
    posts=posts,
    outcomes={"token_expired": "paused"},
)
