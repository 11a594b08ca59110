"""LinkedIn's contract: every fault ends in one post, found by reading the author's posts back or
named by the 422 DUPLICATE_POST answer. The channel has no refresh token (most apps get none), so an
expired token pauses it; refresh is tested in test_linkedin.py."""

from __future__ import annotations

from pipeline.config import ChannelConfig
from pipeline.publish.linkedin import LinkedInPublisher
from tests.contract.contracts import Contract
from tests.emulators.base import Emulator
from tests.emulators.linkedin import AUTHOR, LinkedInEmulator

ACCESS = "AQV-linkedin-access-0123456789"


def channel(emulator: Emulator) -> ChannelConfig:
    return ChannelConfig(
        type="linkedin",
        base_url=emulator.base_url,
        credentials={"access_token": "${TEST_LINKEDIN_TOKEN}"},
        options={"author": AUTHOR},
    )


def posts(emulator: Emulator) -> int:
    assert isinstance(emulator, LinkedInEmulator)
    return len(emulator.posts)


CONTRACT = Contract(
    type="linkedin",
    publisher=LinkedInPublisher,
    emulator=lambda clock: LinkedInEmulator(ACCESS),
    channel=channel,
    secrets={"TEST_LINKEDIN_TOKEN": ACCESS},
    create="create_post",
    posts=posts,
    outcomes={"token_expired": "paused"},
)
