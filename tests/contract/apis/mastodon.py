"""Mastodon's contract: the Idempotency-Key makes every retry safe; a revoked token pauses the channel."""

from __future__ import annotations

from pipeline.config import ChannelConfig
from pipeline.publish.mastodon import MastodonPublisher
from tests.contract.contracts import Contract
from tests.emulators.base import Emulator
from tests.emulators.mastodon import MastodonEmulator

TOKEN = "mastodon-test-token-9c1f0e27"


def channel(emulator: Emulator) -> ChannelConfig:
    return ChannelConfig(
        type="mastodon", base_url=emulator.base_url, credentials={"access_token": "${TEST_MASTODON_TOKEN}"}
    )


def posts(emulator: Emulator) -> int:
    assert isinstance(emulator, MastodonEmulator)
    return len(emulator.statuses)


CONTRACT = Contract(
    type="mastodon",
    publisher=MastodonPublisher,
    emulator=lambda clock: MastodonEmulator(TOKEN),
    channel=channel,
    secrets={"TEST_MASTODON_TOKEN": TOKEN},
    create="create_status",
    posts=posts,
    # Tokens carry no expiry, so there is nothing to refresh: a token the server stops accepting
    # (the emulator revokes it) pauses the channel until someone replaces it.
    outcomes={"token_expired": "paused"},
)
