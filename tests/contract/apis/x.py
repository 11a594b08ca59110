"""X's contract: no idempotency key, so every fault ends in one tweet by reading the timeline back."""

from __future__ import annotations

from pipeline.config import ChannelConfig
from pipeline.publish.x import XPublisher
from tests.contract.contracts import Contract
from tests.emulators.base import Emulator
from tests.emulators.x import XEmulator

ACCESS, REFRESH, CLIENT_ID = "x-access-0123456789", "x-refresh-0123456789", "c2hvcnRsaW5lLWNsaWVudA"
SECRETS = {"TEST_X_ACCESS_TOKEN": ACCESS, "TEST_X_REFRESH_TOKEN": REFRESH}


def channel(emulator: Emulator, **options: str) -> ChannelConfig:
    return ChannelConfig(
        type="x",
        base_url=emulator.base_url,
        credentials={"access_token": "${TEST_X_ACCESS_TOKEN}", "refresh_token": "${TEST_X_REFRESH_TOKEN}"},
        options={"client_id": CLIENT_ID, **options},
    )


def posts(emulator: Emulator) -> int:
    assert isinstance(emulator, XEmulator)
    return len(emulator.tweets)


CONTRACT = Contract(
    type="x",
    publisher=XPublisher,
    emulator=lambda clock: XEmulator(ACCESS, REFRESH, CLIENT_ID, clock=clock),
    channel=channel,
    secrets=SECRETS,
    create="create_tweet",
    posts=posts,
)
