"""The signed webhook's contract: every fault ends in exactly one post, thanks to webhook-id de-duplication."""

from __future__ import annotations

from pipeline.config import ChannelConfig
from pipeline.publish.webhook import WebhookPublisher
from tests.contract.contracts import Contract
from tests.emulators.base import Emulator
from tests.emulators.webhook import WebhookEmulator

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def channel(emulator: Emulator) -> ChannelConfig:
    assert isinstance(emulator, WebhookEmulator)
    return ChannelConfig(
        type="webhook",
        base_url=emulator.endpoint,
        credentials={"secret": "${TEST_WEBHOOK_SECRET}"},
        options={"allow_host": "127.0.0.1"},
    )


def posts(emulator: Emulator) -> int:
    assert isinstance(emulator, WebhookEmulator)
    return len(emulator.posts)


CONTRACT = Contract(
    type="webhook",
    publisher=WebhookPublisher,
    emulator=lambda clock: WebhookEmulator(SECRET),
    channel=channel,
    secrets={"TEST_WEBHOOK_SECRET": SECRET},
    create="receive",
    posts=posts,
)
