"""Bluesky's contract: the rkey planned before the first attempt and read back on every retry makes
each fault end in exactly one post; an expired access JWT is refreshed and the call sent once more."""

from __future__ import annotations

from pipeline.config import ChannelConfig
from pipeline.publish.bluesky import BlueskyPublisher
from tests.contract.contracts import Contract
from tests.emulators.base import Emulator
from tests.emulators.bluesky import BlueskyEmulator

HANDLE = "shenyang.bsky.social"
PASSWORD = "abcd-efgh-ijkl-mnop"


def channel(emulator: Emulator) -> ChannelConfig:
    credentials = {"identifier": "${TEST_BLUESKY_IDENTIFIER}", "password": "${TEST_BLUESKY_PASSWORD}"}
    return ChannelConfig(type="bluesky", base_url=emulator.base_url, credentials=credentials)


def posts(emulator: Emulator) -> int:
    assert isinstance(emulator, BlueskyEmulator)
    return len(emulator.records)


CONTRACT = Contract(
    type="bluesky",
    publisher=BlueskyPublisher,
    emulator=lambda clock: BlueskyEmulator(HANDLE, PASSWORD),
    channel=channel,
    secrets={"TEST_BLUESKY_IDENTIFIER": HANDLE, "TEST_BLUESKY_PASSWORD": PASSWORD},
    create="create_record",
    posts=posts,
)
